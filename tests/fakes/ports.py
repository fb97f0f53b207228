"""In-memory stand-ins for the emotion service, the context service and the Kafka publisher."""

from __future__ import annotations

import uuid
from collections import defaultdict

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb

from services.emotion.analyzer import analyze
from services.emotion.grpc_server import to_response
from shared.errors import DependencyUnavailableError


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []

    async def publish(self, topic: str, event: Message) -> None:
        self.published.append((topic, event))


class StubEmotion:
    """Answers with the real lexicon analyzer, or fails as if the service were down."""

    def __init__(self, available: bool = True) -> None:
        self.available = available

    async def analyze(self, text: str, language_hint: str) -> emotion_pb.AnalyzeResponse:
        if not self.available:
            raise DependencyUnavailableError("UNAVAILABLE: emotion is down")
        return to_response(analyze(text, language_hint))


class InMemoryContext:
    def __init__(self) -> None:
        self.customers: dict[tuple[int, str], str] = {}
        self.turns: dict[str, context_pb.Turn] = {}
        self.sequences: defaultdict[str, int] = defaultdict(int)
        self.turn_customer: dict[str, str] = {}

    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str
    ) -> context_pb.Customer:
        customer_id = self.customers.setdefault((channel, address), str(uuid.uuid4()))
        return context_pb.Customer(customer_id=customer_id, display_name=display_name)

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]:
        if turn.event_id in self.turns:
            return self.turns[turn.event_id], False
        self.sequences[turn.conversation_id] += 1
        stored = context_pb.Turn()
        stored.CopyFrom(turn)
        stored.sequence = self.sequences[turn.conversation_id]
        self.turns[turn.event_id] = stored
        self.turn_customer[turn.event_id] = customer_id
        return stored, True

    async def get_context(self, customer_id: str, max_turns: int) -> context_pb.GetContextResponse:
        turns = [t for e, t in self.turns.items() if self.turn_customer[e] == customer_id]
        return context_pb.GetContextResponse(
            customer=context_pb.Customer(customer_id=customer_id),
            recent_turns=turns[-max_turns:],
        )
