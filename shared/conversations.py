"""Conversation ids that channel adapters can compute without asking anyone.

An adapter's request path does no database work, yet every event needs its Kafka key.
The key is derived from the channel and the customer's address on it, so every message
of one customer thread lands in one partition, in order, whichever adapter instance
received it.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("1b5d0c1e-8a43-4c53-9d0f-3a1f1f3f5a70")


def thread_conversation_id(channel: str, address: str) -> str:
    """The conversation id of the thread with ``address`` on ``channel``."""
    return str(uuid.uuid5(_NAMESPACE, f"{channel}:{address}"))
