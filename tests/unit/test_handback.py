"""A hand-back that holds: the evidence an agent has dealt with does not escalate the
conversation again; new evidence does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.context.v1 import context_service_pb2 as context_pb

from services.orchestrator.handback import seen_by_agent

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
CONVERSATION = "conv-1"


def _at(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _escalation(moment: datetime, codes: list[str], contacts: int) -> context_pb.Turn:
    return context_pb.Turn(
        conversation_id=CONVERSATION,
        role=context_pb.ROLE_BOT,
        occurred_at=_at(moment),
        decision=context_pb.DecisionRecord(
            action="reply_and_escalate",
            reasons=[context_pb.DecisionReasonRecord(code=c) for c in codes],
            facts_json=json.dumps({"contacts_last_7_days": contacts}),
        ),
    )


def _customer(moment: datetime, sentiment: float) -> context_pb.Turn:
    return context_pb.Turn(
        conversation_id=CONVERSATION,
        role=context_pb.ROLE_CUSTOMER,
        occurred_at=_at(moment),
        emotion=context_pb.EmotionSnapshot(sentiment_score=sentiment),
    )


def _history(
    turns: list[context_pb.Turn], returned_at: datetime | None, contacts: int
) -> context_pb.GetContextResponse:
    conversation = context_pb.Conversation(conversation_id=CONVERSATION)
    if returned_at is not None:
        conversation.returned_by = "agent-7"
        conversation.returned_at.CopyFrom(_at(returned_at))
    return context_pb.GetContextResponse(
        recent_turns=turns, conversation=conversation, contacts_last_7_days=contacts
    )


def _seen(history: context_pb.GetContextResponse) -> frozenset[str]:
    return seen_by_agent(history, CONVERSATION, now=NOW, bounce_window=WINDOW)


def test_the_evidence_the_agent_saw_holds_long_after_the_hand_back() -> None:
    escalated = _escalation(NOW - timedelta(days=2), ["repeat_contact", "worsening_trajectory"], 3)
    returned = NOW - timedelta(days=1)  # far past the bounce window
    history = _history([escalated, _customer(NOW, -0.6)], returned, contacts=3)
    assert _seen(history) == {"repeat_contact", "worsening_trajectory"}


def test_a_contact_or_two_negative_messages_since_are_new_evidence() -> None:
    escalated = _escalation(NOW - timedelta(hours=3), ["repeat_contact", "worsening_trajectory"], 3)
    returned = NOW - timedelta(hours=2)
    since = [_customer(NOW - timedelta(hours=1), -0.4), _customer(NOW, -0.6)]
    assert _seen(_history([escalated, *since], returned, contacts=4)) == frozenset()


def test_only_the_rules_that_escalated_are_held_back() -> None:
    escalated = _escalation(NOW - timedelta(hours=3), ["human_requested"], 1)
    history = _history([escalated], NOW - timedelta(hours=2), contacts=3)
    assert _seen(history) == frozenset()


def test_without_the_escalation_at_hand_only_a_fresh_hand_back_holds_everything() -> None:
    fresh = _history([_customer(NOW, -0.5)], NOW - timedelta(minutes=5), contacts=5)
    assert _seen(fresh) == {"repeat_contact", "worsening_trajectory"}
    old = _history([_customer(NOW, -0.5)], NOW - timedelta(hours=5), contacts=5)
    assert _seen(old) == frozenset()
    never = _history([_customer(NOW, -0.5)], None, contacts=5)
    assert _seen(never) == frozenset()
