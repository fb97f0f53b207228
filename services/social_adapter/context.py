"""The two context-service calls this adapter makes, over gRPC with a deadline on each.

Only the WhatsApp reply-window check needs the context service: it asks when the
customer last wrote on WhatsApp. Webhook intake never calls it (nothing but Kafka sits
on the path a platform waits on).
"""

from __future__ import annotations

from typing import Protocol

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc

from shared.grpc.client import call


class ContextPort(Protocol):
    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, seen_at: Timestamp
    ) -> context_pb.Customer: ...

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse: ...


class ContextClient:
    def __init__(self, channel: grpc.aio.Channel, deadline_seconds: float) -> None:
        self._stub = context_grpc.ContextServiceStub(channel)
        self._deadline = deadline_seconds

    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, seen_at: Timestamp
    ) -> context_pb.Customer:
        request = context_pb.ResolveCustomerRequest(
            channel=channel, address=address, seen_at=seen_at
        )
        response: context_pb.ResolveCustomerResponse = await call(
            self._stub.ResolveCustomer, request, deadline_seconds=self._deadline
        )
        return response.customer

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse:
        request = context_pb.GetContextRequest(
            customer_id=customer_id, conversation_id=conversation_id, max_turns=max_turns
        )
        return await call(self._stub.GetContext, request, deadline_seconds=self._deadline)
