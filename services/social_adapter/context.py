"""The two context-service calls this adapter makes (``shared.grpc.context_client``).

Only the WhatsApp reply-window check needs the context service: it asks when the
customer last wrote on WhatsApp. Webhook intake never calls it (nothing but Kafka sits
on the path a platform waits on).
"""

from __future__ import annotations

from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb


class ContextPort(Protocol):
    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.Customer: ...

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse: ...
