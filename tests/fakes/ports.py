"""In-memory stand-ins for the emotion service, the context service and the Kafka publisher."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from shared.errors import DependencyUnavailableError, RefusedError
from shared.kafka.codec import Headers, new_envelope


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message]] = []
        self.raw: list[tuple[str, bytes | None, bytes | None]] = []

    async def publish(self, topic: str, event: Message) -> None:
        self.published.append((topic, event))

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        self.raw.append((topic, key, value))


class StubEmotion:
    """Answers from a small table of cues, or fails as if the service were down."""

    CUES = {
        "hasn't arrived": ("frustration", "delivery_period"),
        "refund": ("frustration", "get_refund"),
        "order": ("neutral", "track_order"),
    }

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.previous_languages: list[str] = []
        self.embeddings_asked: list[bool] = []
        self.only_language_and_intent: list[bool] = []  # per call: the customer opted out

    async def analyze(
        self,
        text: str,
        language_hint: str,
        previous_language: str = "",
        *,
        include_embedding: bool = False,
        no_embedding_for_intents: Collection[str] = (),
        language_and_intent_only: bool = False,
    ) -> emotion_pb.AnalyzeResponse:
        self.previous_languages.append(previous_language)
        self.embeddings_asked.append(include_embedding)
        self.only_language_and_intent.append(language_and_intent_only)
        if not self.available:
            raise DependencyUnavailableError("UNAVAILABLE: emotion is down")
        emotion, intent = next(
            (found for cue, found in self.CUES.items() if cue in text.lower()),
            ("neutral", "unknown"),
        )
        embed = include_embedding and intent not in no_embedding_for_intents
        read = emotion_pb.AnalyzeResponse(
            language=emotion_pb.Language(code="en", confidence=0.9, supported=True),
            intent=emotion_pb.Intent(name=intent, confidence=0.9),
            embedding=keyword_vector(text) if embed else (),
            embedding_model=KEYWORD_SPACE if embed else "",
        )
        if language_and_intent_only:  # as the service answers: no emotion field at all
            return read
        read.dominant_emotion = emotion
        # Mild: under the policy's upset bound (0.38), so the bot answers alone.
        read.intensity = 0.0 if emotion == "neutral" else 0.3
        read.sentiment.label = emotion_pb.SENTIMENT_LABEL_NEUTRAL
        return read


KEYWORD_SPACE = "keywords-1"
KEYWORDS = ("deliver", "open", "pay", "return", "broke")


def keyword_vector(text: str) -> list[float]:
    """A unit vector of which keywords ``text`` holds (all zero: none): the fake
    emotion service's retrieval embedding, in ``KEYWORD_SPACE``."""
    hits = [float(word in text.lower()) for word in KEYWORDS]
    norm = sum(hits) ** 0.5 or 1.0
    return [hit / norm for hit in hits]


class InMemoryContext:
    """Customers by address with consent (SMS opt-outs per address), turns by event id,
    the newest slot per name; erased addresses are refused."""

    def __init__(self) -> None:
        self.customers: dict[tuple[int, str], str] = {}
        self.consent: dict[str, context_pb.Consent] = {}
        self.opted_out: set[tuple[int, str]] = set()
        self.erased: set[tuple[int, str]] = set()
        self.turns: dict[str, context_pb.Turn] = {}
        self.sequences: defaultdict[str, int] = defaultdict(int)
        self.turn_customer: dict[str, str] = {}
        self.states: dict[str, int] = {}
        self.assignees: dict[str, str] = {}
        self.slots: defaultdict[str, dict[str, context_pb.Slot]] = defaultdict(dict)

    async def set_conversation_state(
        self, conversation_id: str, state: context_pb.ConversationState, assignee: str = ""
    ) -> context_pb.Conversation:
        self.states[conversation_id] = state
        self.assignees[conversation_id] = assignee
        return context_pb.Conversation(
            conversation_id=conversation_id, state=state, assignee=assignee
        )

    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.Customer:
        if (channel, address) in self.erased:
            raise RefusedError("FAILED_PRECONDITION: erased")
        customer_id = self.customers.setdefault((channel, address), str(uuid.uuid4()))
        consent = self.consent.setdefault(
            customer_id, context_pb.Consent(emotion_analysis_allowed=True)
        )
        last_language = next(
            (
                turn.language
                for event_id, turn in reversed(self.turns.items())
                if self.turn_customer[event_id] == customer_id and turn.language
            ),
            "",
        )
        return context_pb.Customer(
            customer_id=customer_id,
            display_name=display_name,
            consent=consent,
            last_language=last_language,
        )

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

    async def remember_slots(self, customer_id: str, slots: Sequence[context_pb.Slot]) -> None:
        remembered = self.slots[customer_id]
        for slot in slots:
            current = remembered.get(slot.name)
            if current is None or slot.given_at.ToDatetime() >= current.given_at.ToDatetime():
                remembered[slot.name] = slot

    async def append_turn_and_get_context(
        self, customer_id: str, turn: context_pb.Turn, max_turns: int
    ) -> context_pb.GetContextResponse:
        await self.append_turn(customer_id, turn)
        return await self.get_context(customer_id, turn.conversation_id, max_turns)

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse:
        turns = [t for e, t in self.turns.items() if self.turn_customer[e] == customer_id]
        state = self.states.get(conversation_id, context_pb.CONVERSATION_STATE_BOT)
        identities = [
            context_pb.Identity(
                channel=channel,  # type: ignore[arg-type]
                address=address,
                verified=True,
                opted_out=(channel, address) in self.opted_out,
            )
            for (channel, address), owner in self.customers.items()
            if owner == customer_id
        ]
        readings = [
            context_pb.TrajectoryPoint(
                occurred_at=t.occurred_at,
                dominant_emotion=t.emotion.dominant_emotion,
                intensity=t.emotion.intensity,
                sentiment_score=t.emotion.sentiment_score,
            )
            for t in turns
            if t.HasField("emotion")
        ]
        return context_pb.GetContextResponse(
            customer=context_pb.Customer(customer_id=customer_id, identities=identities),
            recent_turns=turns[-max_turns:],
            conversation=context_pb.Conversation(
                conversation_id=conversation_id,
                state=state,
                assignee=self.assignees.get(conversation_id, ""),
            ),
            trajectory=context_pb.EmotionTrajectory(points=readings),
            consent=self.consent.get(customer_id),
            slots=[slot for _, slot in sorted(self.slots[customer_id].items())],
        )


def inbound_message(
    text: str,
    visitor: str = "visitor-1",
    channel: envelope_pb2.Channel = envelope_pb2.CHANNEL_WEB,
    *,
    attachments: Sequence[envelope_pb2.Attachment] = (),
    locale_hint: str = "",
) -> messages_pb2.MessageReceived:
    """A visitor's message as a channel adapter publishes it."""
    return messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=f"conv-{channel}-{visitor}",
            channel=channel,
            customer=envelope_pb2.CustomerRef(channel=channel, address=visitor),
        ),
        text=text,
        attachments=attachments,
        locale_hint=locale_hint,
    )
