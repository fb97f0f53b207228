"""Customers' feedback after a rating, and NPS answers, as the desk consumes, keeps and
shows them: on SQLite and a real PostgreSQL server, and on the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import feedback_pb2

from services.agent_desk.database import create_engine, migrate
from services.agent_desk.feedback_store import FeedbackStore
from services.agent_desk.store import DeskStore
from shared.errors import InvalidInputError
from shared.kafka.codec import new_envelope
from tests.integration.test_agent_desk_http import Desk, desk, seeded_handoff, sign_in  # noqa: F401
from tests.integration.test_agent_desk_store import NOW, database_url  # noqa: F401

pytestmark = pytest.mark.integration

WEB = envelope_pb2.CHANNEL_WEB
NPS = feedback_pb2.RATING_SCALE_NPS_10


def feedback(
    text: str,
    intent: str,
    emotion: str = "",
    intensity: float = 0.0,
    *,
    conversation_id: str = "web:c1",
    days_ago: int = 0,
) -> feedback_pb2.FeedbackGiven:
    event = feedback_pb2.FeedbackGiven(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=WEB,
            customer=envelope_pb2.CustomerRef(customer_id="cust-1", channel=WEB, address="v1"),
        ),
        text=text,
        rating_event_id="rating-1",
        score=2,
        scale=feedback_pb2.RATING_SCALE_CSAT_5,
        dominant_emotion=emotion,
        intensity=intensity,
        sentiment_score=-0.4 if emotion else 0.0,
        intent=intent,
        language="en",
    )
    event.envelope.occurred_at.FromDatetime(NOW - timedelta(days=days_ago))
    return event


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[tuple[FeedbackStore, DeskStore]]:  # noqa: F811
    engine = create_engine(database_url)
    await migrate(engine)
    try:
        yield FeedbackStore(engine), DeskStore(engine)
    finally:
        await engine.dispose()


async def test_feedback_is_kept_once_and_ranked_into_the_period_s_pain_points(
    stores: tuple[FeedbackStore, DeskStore],
) -> None:
    kept, _ = stores
    slow = feedback("Delivery took a week", "delivery_period", "frustration", 0.6)
    assert await kept.record(slow, NOW)
    assert not await kept.record(slow, NOW)  # redelivered
    # A customer who opted out of emotion analysis: words and topic, no reading.
    assert await kept.record(feedback("Too slow to arrive", "delivery_period"), NOW)
    assert await kept.record(feedback("Charged twice", "payment_issue", "anger", 0.9), NOW)
    old = feedback("Old complaint", "payment_issue", "anger", 1.0, days_ago=10)
    assert await kept.record(old, NOW)

    points = await kept.pain_points(date(2026, 11, 20))
    assert [(p.topic, p.count) for p in points] == [("delivery_period", 2), ("payment_issue", 1)]
    delivery = points[0]
    assert delivery.intensity == pytest.approx(0.6)  # of the one reading there is
    assert delivery.quotes == ["Delivery took a week", "Too slow to arrive"]
    week = await kept.pain_points(NOW.date() - timedelta(days=14))
    assert [(p.topic, p.count) for p in week] == [("payment_issue", 2), ("delivery_period", 2)]


async def test_an_nps_answer_is_stored_on_its_scale_for_the_dashboard(
    stores: tuple[FeedbackStore, DeskStore],
) -> None:
    _, desk_store = stores
    for score in (10, 9, 3):
        rated = feedback_pb2.SatisfactionRated(
            envelope=new_envelope(conversation_id="web:c1", channel=WEB),
            score=score,
            agent_id="agent-1",
            scale=NPS,
        )
        assert await desk_store.record_rating(rated, NOW)
    csat = feedback_pb2.SatisfactionRated(
        envelope=new_envelope(conversation_id="web:c2", channel=WEB), score=4, agent_id="a"
    )
    assert await desk_store.record_rating(csat, NOW)  # sent before scales existed: CSAT
    _, ratings, _ = await desk_store.kpi_records(NOW - timedelta(days=1))
    assert sorted((r.score, r.scale) for r in ratings) == [(3, NPS), (4, 1), (9, NPS), (10, NPS)]


async def test_the_dashboard_shows_nps_and_the_pain_points_from_consumed_events(
    desk: Desk,  # noqa: F811
) -> None:
    packet = await seeded_handoff(desk)
    conversation = packet.envelope.conversation_id
    for score in (10, 4):
        await desk.parts.desk(
            feedback_pb2.SatisfactionRated(
                envelope=new_envelope(conversation_id=conversation, channel=WEB),
                score=score,
                agent_id=desk.accounts["maria@example.org"],
                scale=NPS,
            )
        )
    words = feedback("The <b>parcel</b> never came", "delivery_period", "anger", 0.8)
    words.envelope.conversation_id = conversation
    words.envelope.occurred_at.GetCurrentTime()
    await desk.parts.desk(words)
    await desk.parts.desk(words)  # redelivered: one quote
    with pytest.raises(InvalidInputError):
        await desk.parts.desk(
            feedback_pb2.SatisfactionRated(
                envelope=new_envelope(conversation_id=conversation, channel=WEB),
                score=11,
                scale=NPS,
            )
        )
    async with desk.browser() as sue:
        assert await sign_in(sue, "sue@example.org") == 303
        async with sue.get("/dashboard") as response:
            assert response.status == 200
            html = await response.text()
    assert 'id="kpi-nps">+0<' in html  # one promoter, one detractor
    assert 'data-topic="delivery_period"' in html
    assert html.count("The &lt;b&gt;parcel&lt;/b&gt; never came") == 1
