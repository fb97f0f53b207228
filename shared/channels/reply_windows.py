"""How long after a customer's last message each platform lets a business write freely.

Meta's platforms allow free-form messages only within 24 hours of the customer's last
message (afterwards: approved templates or message tags). The WhatsApp adapter enforces
its window; the orchestrator tells agents when a window is about to close.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from rapport.common.v1 import envelope_pb2

REPLY_WINDOWS: Mapping[envelope_pb2.Channel, timedelta] = {
    envelope_pb2.CHANNEL_WHATSAPP: timedelta(hours=24),
    envelope_pb2.CHANNEL_MESSENGER: timedelta(hours=24),
    envelope_pb2.CHANNEL_INSTAGRAM: timedelta(hours=24),
}
