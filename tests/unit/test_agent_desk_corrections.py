"""Agents' corrections: what the page says was detected in a customer's message, which
corrections are refused, and the training export's record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk.corrections import (
    BOT_REPLY,
    EMOTIONS,
    INTENTS,
    Detected,
    Labels,
    StoredCorrection,
    checked_labels,
    detections,
    panel,
    training_record,
)
from services.emotion.config import SHIPPED_INTENTS
from services.emotion.example_intents import UNKNOWN, load_examples
from services.emotion.predictor import RAPPORT_EMOTIONS
from services.orchestrator.handlers import REPLY
from shared.errors import InvalidInputError
from shared.kafka.codec import derived_event_id

ASKED = "6f1c2a4e-0000-4000-8000-000000000001"
LATER = "6f1c2a4e-0000-4000-8000-000000000002"
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def customer_turn(
    event_id: str, text: str = "Where is my parcel?", emotion: str = "anger"
) -> context_pb.Turn:
    turn = context_pb.Turn(
        event_id=event_id,
        conversation_id="conv-1",
        role=context_pb.ROLE_CUSTOMER,
        text=text,
        language="en",
    )
    turn.occurred_at.FromDatetime(NOW)
    if emotion:
        turn.emotion.CopyFrom(context_pb.EmotionSnapshot(dominant_emotion=emotion, intensity=0.8))
    return turn


def bot_reply(to: str, intent: str) -> context_pb.Turn:
    return context_pb.Turn(
        event_id=derived_event_id(to, BOT_REPLY),
        conversation_id="conv-1",
        role=context_pb.ROLE_BOT,
        text="Let me look.",
        decision=context_pb.DecisionRecord(
            action="auto_reply",
            model_versions={"intent": "encoder-2026.11.1"},
            facts_json=json.dumps({"intent": intent}),
        ),
    )


def test_the_labels_are_the_models_own() -> None:
    assert EMOTIONS == RAPPORT_EMOTIONS
    assert set(INTENTS) == set(load_examples(SHIPPED_INTENTS)) | {UNKNOWN}
    assert BOT_REPLY == REPLY  # the orchestrator's reply id is found from the turn's


def test_the_intent_comes_from_the_bots_reply_else_the_handoff_it_caused() -> None:
    packet = handoff_pb2.HandoffRequested(
        envelope=envelope_pb2.Envelope(causation_id=LATER), intent="get_refund"
    )
    turns = [
        customer_turn(ASKED),
        bot_reply(ASKED, "track_order"),
        customer_turn(LATER, "I want my money back", emotion=""),
        context_pb.Turn(event_id="notice", role=context_pb.ROLE_BOT, text="Please wait."),
        customer_turn("not-a-uuid", text="Hello?"),
        customer_turn("photo-only", text=" "),
    ]

    found = detections(turns, packet)

    # A message without words has nothing to label; one under an id no reply derives
    # from is read all the same.
    assert found.keys() == {ASKED, LATER, "not-a-uuid"}
    assert found["not-a-uuid"].intent == ""
    asked, later = found[ASKED], found[LATER]
    assert (asked.emotion, asked.intent, dict(asked.model_versions)) == (
        "anger",
        "track_order",
        {"intent": "encoder-2026.11.1"},
    )
    assert (asked.text, asked.language, asked.occurred_at) == ("Where is my parcel?", "en", NOW)
    assert (later.emotion, later.intent, dict(later.model_versions)) == ("", "get_refund", {})


def test_a_turn_nobody_answered_has_its_own_intent_or_none_on_record() -> None:
    found = detections([customer_turn(ASKED)], handoff_pb2.HandoffRequested(intent="complaint"))
    assert found[ASKED].intent == ""
    stored = customer_turn(ASKED)
    stored.intent = "delivery_period"  # as the orchestrator stores it with the turn
    found = detections([stored, bot_reply(ASKED, "track_order")], handoff_pb2.HandoffRequested())
    assert found[ASKED].intent == "delivery_period"
    assert dict(found[ASKED].model_versions) == {"intent": "encoder-2026.11.1"}


def detected(emotion: str = "anger") -> Detected:
    return Detected(ASKED, "conv-1", "Where is my parcel?", "en", NOW, emotion, "track_order")


def test_a_correction_takes_only_the_models_labels_and_an_emotion_only_where_one_was_read() -> None:
    assert checked_labels(detected(), " frustration ", "get_refund", True) == Labels(
        "frustration", "get_refund"
    )
    assert checked_labels(detected(), "", "", True).empty  # withdrawn
    assert checked_labels(detected(""), "", "complaint", False) == Labels("", "complaint")
    for emotion, intent, read, allowed, refusal in [
        ("rage", "", "anger", True, "pick an emotion"),
        ("", "where_is_it", "anger", True, "pick an intent"),
        ("joy", "", "", True, "no emotion reading"),
        ("joy", "", "anger", False, "no emotion reading"),  # opted out since
    ]:
        with pytest.raises(InvalidInputError, match=refusal):
            checked_labels(detected(read), emotion, intent, allowed)


def test_the_page_offers_the_emotion_only_where_it_may_be_corrected() -> None:
    shown = panel(
        {ASKED: detected(), LATER: detected("")}, {ASKED: Labels("joy", "")}, emotion_allowed=True
    )
    assert shown.turns[ASKED].emotion_correctable and shown.turns[ASKED].mine == Labels("joy", "")
    assert not shown.turns[LATER].emotion_correctable and shown.turns[LATER].mine is None
    refused = panel({ASKED: detected()}, {}, emotion_allowed=False)
    assert not refused.turns[ASKED].emotion_correctable


def stored(emotion: str, intent: str) -> StoredCorrection:
    return StoredCorrection("c-1", detected(), Labels(emotion, intent), "customer-1", NOW)


def test_the_training_record_has_text_and_labels_and_no_one_named() -> None:
    record = training_record(stored("frustration", "get_refund"), emotion_allowed=True)
    assert record == {
        "id": "c-1",
        "text": "Where is my parcel?",
        "language": "en",
        "emotion": "frustration",
        "intent": "get_refund",
        "detected_emotion": "anger",
        "detected_intent": "track_order",
        "model_versions": {},
        "created_at": NOW.isoformat(),
    }
    assert "customer-1" not in json.dumps(record) and "conv-1" not in json.dumps(record)


def test_without_consent_the_record_keeps_only_the_intent() -> None:
    record = training_record(stored("frustration", "get_refund"), emotion_allowed=False)
    assert record is not None
    assert (record["emotion"], record["detected_emotion"], record["intent"]) == (
        None,
        None,
        "get_refund",
    )
    assert training_record(stored("frustration", ""), emotion_allowed=False) is None
