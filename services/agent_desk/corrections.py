"""Agents' corrections of what the models read in a customer's message: the emotion and
the intent, checked here, and each correction as a line of training data.

What was detected comes from what the page already has. The emotion from the turn's own
snapshot (absent when the customer opted out of emotion analysis or retention removed
it: then there is no emotion to correct). The intent from the turn itself where the
orchestrator stored it (``Turn.intent``), else from the decision record of the bot's
reply to that turn (its event id is derived from the turn's, as the orchestrator derives
it), else from the handoff the turn caused (its ``causation_id``); the models' versions
from that decision record. A turn with none of these has no intent on record, and an
agent may still say what it was.

A corrected label is one of the models' own (``EMOTIONS``, ``INTENTS``): anything else
could not be trained on. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.emotion.config import SHIPPED_INTENTS
from services.emotion.predictor import RAPPORT_EMOTIONS
from shared.errors import InvalidInputError
from shared.kafka.codec import derived_event_id

EMOTIONS: tuple[str, ...] = RAPPORT_EMOTIONS
"""The emotion head's labels (Rapport's taxonomy)."""
UNKNOWN_INTENT = "unknown"
# libyaml's loader: the file's thousand lines of examples, read at start-up, in ms.
INTENTS: tuple[str, ...] = (
    *sorted(yaml.load(SHIPPED_INTENTS.read_text(encoding="utf-8"), yaml.CSafeLoader)["intents"]),
    UNKNOWN_INTENT,
)
"""The intent head's labels: the shipped intents (the Bitext intents the English head
is trained on) and ``unknown``."""
BOT_REPLY = "reply"
"""The purpose the orchestrator derives its reply's event id with
(``services/orchestrator/handlers.py``: ``REPLY``)."""


@dataclass(frozen=True)
class Detected:
    """What the models read in one customer turn, as the desk can tell."""

    turn_event_id: str
    conversation_id: str
    text: str
    language: str
    occurred_at: datetime
    emotion: str  # "" without an emotion snapshot
    intent: str  # "" when no decision or handoff says
    model_versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Labels:
    """An agent's correction: a label per head, "" for a head left as detected."""

    emotion: str
    intent: str

    @property
    def empty(self) -> bool:
        return not (self.emotion or self.intent)


def _facts_intent(record: context_pb.DecisionRecord) -> str:
    try:
        facts = json.loads(record.facts_json or "{}")
    except ValueError:
        return ""
    intent = facts.get("intent", "") if isinstance(facts, dict) else ""
    return intent if isinstance(intent, str) else ""


def _reply_id(event_id: str) -> str:
    """The event id of the bot's reply to a customer turn ("" for an id not a UUID,
    which no reply of the orchestrator's derives from)."""
    try:
        return derived_event_id(event_id, BOT_REPLY)
    except ValueError:
        return ""


def detections(
    turns: Iterable[context_pb.Turn], packet: handoff_pb2.HandoffRequested
) -> dict[str, Detected]:
    """Each customer turn with text among ``turns``, by event id, with what was read in it."""
    by_id = {t.event_id: t for t in turns}
    found: dict[str, Detected] = {}
    for turn in by_id.values():
        if turn.role != context_pb.ROLE_CUSTOMER or not turn.text.strip():
            continue
        reply = by_id.get(_reply_id(turn.event_id))
        decision = reply.decision if reply is not None and reply.HasField("decision") else None
        intent = turn.intent or (_facts_intent(decision) if decision is not None else "")
        if not intent and turn.event_id and packet.envelope.causation_id == turn.event_id:
            intent = packet.intent
        found[turn.event_id] = Detected(
            turn_event_id=turn.event_id,
            conversation_id=turn.conversation_id,
            text=turn.text,
            language=turn.language,
            occurred_at=turn.occurred_at.ToDatetime(tzinfo=UTC),
            emotion=turn.emotion.dominant_emotion if turn.HasField("emotion") else "",
            intent=intent,
            model_versions=dict(decision.model_versions) if decision is not None else {},
        )
    return found


def checked_labels(detected: Detected, emotion: str, intent: str, emotion_allowed: bool) -> Labels:
    """The agent's picks, refused when a label is not the model's or there was no emotion
    reading to correct (none taken, or the customer opted out of emotion analysis)."""
    emotion, intent = emotion.strip(), intent.strip()
    if emotion:
        if not (emotion_allowed and detected.emotion):
            raise InvalidInputError("this message has no emotion reading to correct")
        if emotion not in EMOTIONS:
            raise InvalidInputError(f"pick an emotion from the list ({', '.join(EMOTIONS)})")
    if intent and intent not in INTENTS:
        raise InvalidInputError("pick an intent from the list")
    return Labels(emotion, intent)


@dataclass(frozen=True)
class StoredCorrection:
    """A correction as kept, with whose it is (read from ``corrections_store``)."""

    id: str
    detected: Detected
    labels: Labels
    customer_id: str
    created_at: datetime


def training_record(correction: StoredCorrection, emotion_allowed: bool) -> dict[str, Any] | None:
    """One line of the training export: the text and its labels, never who wrote it.
    Without consent to emotion analysis the emotion labels are left out, and a correction
    of nothing else then says nothing (None)."""
    detected, labels = correction.detected, correction.labels
    emotion = labels.emotion if emotion_allowed else ""
    if not (emotion or labels.intent):
        return None
    return {
        "id": correction.id,
        "text": detected.text,
        "language": detected.language or None,
        "emotion": emotion or None,
        "intent": labels.intent or None,
        "detected_emotion": (detected.emotion or None) if emotion_allowed else None,
        "detected_intent": detected.intent or None,
        "model_versions": dict(detected.model_versions),
        "created_at": correction.created_at.isoformat(),
    }


@dataclass(frozen=True)
class TurnCorrection:
    """What the page shows under a customer turn: what was read, the agent's own
    correction, and whether the emotion may be corrected."""

    detected: Detected
    mine: Labels | None
    emotion_correctable: bool


@dataclass(frozen=True)
class CorrectionsPanel:
    """The correction controls of a conversation page, by turn event id."""

    turns: Mapping[str, TurnCorrection]
    emotions: tuple[str, ...] = EMOTIONS
    intents: tuple[str, ...] = INTENTS


def panel(
    found: Mapping[str, Detected], mine: Mapping[str, Labels], emotion_allowed: bool
) -> CorrectionsPanel:
    return CorrectionsPanel(
        {
            event_id: TurnCorrection(
                detected, mine.get(event_id), emotion_allowed and bool(detected.emotion)
            )
            for event_id, detected in found.items()
        }
    )
