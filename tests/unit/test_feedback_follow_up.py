"""The customer's answer to "is there anything we could do better?": feedback, a
decline, or a new request the bot answers as any message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.context.v1 import context_service_pb2 as context_pb

from services.orchestrator.feedback import (
    Asked,
    FollowUp,
    declines,
    follow_up_asked,
    read_follow_up,
)
from services.orchestrator.policy import Policy

POLICY = Policy.load()
WINDOW = timedelta(hours=1)


def _read(text: str, intent: str = "unknown", waited: timedelta | None = None) -> FollowUp:
    return read_follow_up(
        text,
        intent,
        waited=timedelta(minutes=2) if waited is None else waited,
        window=WINDOW,
        asks_for_a_person=POLICY.asks_for_a_person(text),
        asks_a_question=POLICY.asks_a_question(text),
    )


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No thanks!",
        "nope, all good",
        "👍",
        "Non merci",
        "nada, gracias",
        "Nein danke",
        "alles gut",
        "não, obrigado",
        "tudo bem",
        "That's all, thanks",
        "rien, c'est tout",
    ],
)
def test_a_short_no_thanks_in_any_language_declines(text: str) -> None:
    assert declines(text)
    assert _read(text) is FollowUp.DECLINED


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("The delivery was far too slow", "delivery_period"),
        ("not good", "unknown"),
        ("Why did it take three days to answer me?", "complaint"),
        ("Nobody told me the refund would take two weeks", "track_refund"),
        ("La web es muy lenta", "unknown"),
        ("Réponse trop lente", "review"),
    ],
)
def test_words_about_the_service_are_feedback(text: str, intent: str) -> None:
    assert _read(text, intent) is FollowUp.FEEDBACK


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Where is my refund?", "track_refund"),
        ("Can I change the delivery address of order 1234?", "change_shipping_address"),
        ("I want to talk to a human", "contact_human_agent"),
        ("quiero hablar con una persona", "unknown"),
    ],
)
def test_a_question_the_bot_handles_or_a_request_for_a_person_is_a_new_request(
    text: str, intent: str
) -> None:
    assert _read(text, intent) is FollowUp.NEW_REQUEST


def test_an_answer_after_the_window_or_with_no_question_asked_is_a_new_contact() -> None:
    assert _read("The delivery was slow", waited=WINDOW + timedelta(seconds=1)) is (
        FollowUp.NEW_REQUEST
    )
    assert _read("The delivery was slow", waited=WINDOW) is FollowUp.FEEDBACK
    assert (
        read_follow_up(
            "slow",
            "unknown",
            waited=None,
            window=WINDOW,
            asks_for_a_person=False,
            asks_a_question=False,
        )
        is FollowUp.NEW_REQUEST
    )


def _turn(event_id: str, role: context_pb.Role, text: str, minute: int) -> context_pb.Turn:
    at = Timestamp()
    at.FromDatetime(datetime(2026, 5, 4, 10, minute, tzinfo=UTC))
    return context_pb.Turn(event_id=event_id, role=role, text=text, occurred_at=at)


CUSTOMER, BOT = context_pb.ROLE_CUSTOMER, context_pb.ROLE_BOT


def test_the_question_and_the_rating_before_it_are_found_in_the_turns() -> None:
    rating = _turn("e2", CUSTOMER, "2", 5)
    turns = [
        _turn("e1", BOT, "How did we do?", 4),
        rating,
        _turn("e3", BOT, "Anything we could do better?", 6),
        _turn("e4", CUSTOMER, "too slow", 9),
    ]
    assert follow_up_asked(turns, "e4") == Asked(datetime(2026, 5, 4, 10, 6, tzinfo=UTC), rating)
    # Without the bot's question last, nothing was asked (no answer to take).
    assert follow_up_asked(turns[:2] + turns[3:], "e4") is None
    assert follow_up_asked(turns[3:], "e4") is None
