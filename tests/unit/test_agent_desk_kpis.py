"""The owner's dashboard figures, and the brand voice's sentences the desk uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rapport.common.v1 import envelope_pb2

from services.agent_desk.kpis import dashboard
from services.agent_desk.models import ConversationSeen, Rating, Ticket, TicketStatus
from shared.voice.replies import VOICE

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
WEB, SMS = envelope_pb2.CHANNEL_WEB, envelope_pb2.CHANNEL_SMS


def ticket(
    conversation: str,
    channel: int,
    *,
    days_ago: int = 0,
    repeat: int = 0,
    wait: float | None = None,
    handle: float | None = None,
    sentiment: tuple[float, float] | None = None,
) -> Ticket:
    handed = NOW - timedelta(days=days_ago, hours=1)
    claimed = handed + timedelta(seconds=wait) if wait is not None else None
    resolved = claimed + timedelta(seconds=handle) if claimed and handle is not None else None
    return Ticket(
        id=conversation,
        conversation_id=conversation,
        channel=channel,
        repeat_contacts=repeat,
        reason_codes=["strong_negative_emotion"],
        status=TicketStatus.RESOLVED if resolved else TicketStatus.WAITING,
        handed_off_at=handed,
        claimed_at=claimed,
        resolved_at=resolved,
        sentiment_first=sentiment[0] if sentiment else None,
        sentiment_last=sentiment[1] if sentiment else None,
    )


def test_the_figures_follow_their_definitions_per_channel_and_day() -> None:
    tickets = [
        ticket("w1", WEB, wait=60, handle=600, sentiment=(-0.8, 0.2)),
        ticket("w2", WEB, repeat=1, wait=120, handle=300, sentiment=(-0.4, -0.2)),
        ticket("s1", SMS, days_ago=1),
        ticket("old", WEB, days_ago=20, wait=5, handle=5),  # before the period
    ]
    seen = [
        ConversationSeen(conversation_id=c, channel=ch, started_at=NOW - timedelta(days=d))
        for c, ch, d in [("w1", WEB, 0), ("w2", WEB, 0), ("w3", WEB, 0), ("w4", WEB, 0)]
        + [("s1", SMS, 1), ("s2", SMS, 1)]
    ]
    ratings = [
        Rating(event_id=str(n), channel=WEB, score=score, rated_at=NOW)
        for n, score in enumerate([5, 4, 2])
    ]
    board = dashboard(tickets, ratings, seen, now=NOW, days=14)
    web = dict(board.by_channel)["web"]
    assert (web.conversations, web.escalated, web.escalation_rate) == (4, 2, 0.5)
    assert (web.tickets, web.repeat_rate, web.resolved, web.first_contact_rate) == (2, 0.5, 2, 0.5)
    assert (web.average_wait, web.average_handle) == (90, 450)
    assert web.sentiment_change == pytest.approx(0.6)
    assert web.csat_average == pytest.approx(11 / 3)
    assert web.csat_satisfied == pytest.approx(2 / 3)
    assert web.distribution == [(1, 0), (2, 1), (3, 0), (4, 1), (5, 1)]
    assert board.overall.tickets == 3 and board.overall.reasons["strong_negative_emotion"] == 3
    assert len(board.by_day) == 14 and board.by_day[-1][0] == NOW.date()
    assert (board.by_day[-1][1].tickets, board.by_day[-2][1].tickets) == (2, 1)
    only_sms = dashboard(tickets, ratings, seen, now=NOW, days=14, channel="sms")
    assert (only_sms.by_day[-1][1].tickets, only_sms.by_day[-2][1].tickets) == (0, 1)
    empty = dashboard([], [], [], now=NOW, days=30)
    assert empty.overall.escalation_rate is None and empty.overall.csat_average is None


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt"])
def test_agent_drafts_and_the_queue_position_exist_in_every_language(language: str) -> None:
    drafts = VOICE.agent_drafts(
        language=language,
        agent_name="Maria",
        emotion="frustration",
        intensity=0.5,
        intent="track_order",
        introduce=True,
    )
    assert len(drafts) == 3
    feeling = VOICE.acknowledgement(language, "frustration", 0.5)
    assert all("Maria" in d.text and feeling in d.text for d in drafts)
    assert all(d.language == language and not VOICE.banned_words_in(d.text) for d in drafts)
    assert VOICE.answer(language, "track_order") in drafts[0].text
    assert "3" in VOICE.queue_position(language, 3).text


def test_no_draft_repeats_the_bots_hand_over_or_reintroduces_the_agent() -> None:
    drafts = VOICE.agent_drafts(
        language="en",
        agent_name="Maria",
        emotion=None,
        intensity=0.0,
        intent="contact_human_agent",
        introduce=False,
    )
    assert len(drafts) == 2
    assert not any("Maria" in d.text or "member of our team" in d.text for d in drafts)
