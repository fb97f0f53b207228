"""Translates between the ContextService wire types and the repository."""

from __future__ import annotations

from datetime import UTC

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc

from services.context.repository import (
    ContextRepository,
    Customer,
    EmotionReading,
    NewTurn,
    Turn,
    UnknownCustomerError,
)


def _timestamp(moment: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)  # type: ignore[arg-type]
    return stamp


def customer_message(customer: Customer) -> pb.Customer:
    return pb.Customer(
        customer_id=customer.id,
        display_name=customer.display_name,
        preferred_language=customer.preferred_language,
        created_at=_timestamp(customer.created_at),
    )


def turn_message(turn: Turn) -> pb.Turn:
    message = pb.Turn(
        event_id=turn.event_id,
        conversation_id=turn.conversation_id,
        sequence=turn.sequence,
        role=turn.role,  # type: ignore[arg-type]
        text=turn.text,
        channel=turn.channel,  # type: ignore[arg-type]
        occurred_at=_timestamp(turn.occurred_at),
        language=turn.language,
    )
    if turn.emotion is not None:
        message.emotion.CopyFrom(
            pb.EmotionSnapshot(
                dominant_emotion=turn.emotion.dominant_emotion,
                intensity=turn.emotion.intensity,
                sentiment_score=turn.emotion.sentiment_score,
            )
        )
    return message


def new_turn(message: pb.Turn) -> NewTurn:
    emotion = None
    if message.HasField("emotion"):
        emotion = EmotionReading(
            message.emotion.dominant_emotion,
            message.emotion.intensity,
            message.emotion.sentiment_score,
        )
    return NewTurn(
        event_id=message.event_id,
        conversation_id=message.conversation_id,
        role=message.role,
        channel=message.channel,
        text=message.text,
        occurred_at=message.occurred_at.ToDatetime(tzinfo=UTC),
        language=message.language,
        emotion=emotion,
    )


class ContextServicer(pb_grpc.ContextServiceServicer):
    """Serves ``rapport.context.v1.ContextService`` over the repository."""

    def __init__(self, repository: ContextRepository, default_max_turns: int) -> None:
        self._repository = repository
        self._default_max_turns = default_max_turns

    async def ResolveCustomer(  # noqa: N802 - the name is the RPC's
        self, request: pb.ResolveCustomerRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveCustomerResponse:
        if not request.address or request.channel == 0:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "channel and address are required"
            )
        customer, created = await self._repository.resolve_customer(
            request.channel, request.address, request.display_name
        )
        return pb.ResolveCustomerResponse(customer=customer_message(customer), created=created)

    async def AppendTurn(  # noqa: N802
        self, request: pb.AppendTurnRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendTurnResponse:
        turn = request.turn
        missing = [name for name in ("event_id", "conversation_id") if not getattr(turn, name)]
        if not request.customer_id:
            missing.append("customer_id")
        if turn.role == pb.ROLE_UNSPECIFIED:
            missing.append("role")
        if not turn.HasField("occurred_at"):
            missing.append("occurred_at")
        if missing:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"missing: {', '.join(missing)}")
        try:
            stored, created = await self._repository.append_turn(
                request.customer_id, new_turn(turn)
            )
        except UnknownCustomerError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no customer {request.customer_id}")
        return pb.AppendTurnResponse(turn=turn_message(stored), created=created)

    async def GetContext(  # noqa: N802
        self, request: pb.GetContextRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetContextResponse:
        if not request.customer_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "customer_id is required")
        try:
            found = await self._repository.get_context(
                request.customer_id, request.max_turns or self._default_max_turns
            )
        except UnknownCustomerError:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no customer {request.customer_id}")
        return pb.GetContextResponse(
            customer=customer_message(found.customer),
            recent_turns=[turn_message(t) for t in found.recent_turns],
            contacts_last_7_days=found.contacts_last_7_days,
        )

    async def ListTurns(  # noqa: N802
        self, request: pb.ListTurnsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTurnsResponse:
        if not request.conversation_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "conversation_id is required")
        turns = await self._repository.list_turns(request.conversation_id)
        return pb.ListTurnsResponse(turns=[turn_message(t) for t in turns])
