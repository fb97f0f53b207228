"""The period's top pain points from customers' feedback, and the NPS figure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import feedback_pb2

from services.agent_desk.kpis import dashboard
from services.agent_desk.models import Feedback, Rating
from services.agent_desk.pain_points import is_negative, top_pain_points

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WEB = envelope_pb2.CHANNEL_WEB
CSAT, NPS = feedback_pb2.RATING_SCALE_CSAT_5, feedback_pb2.RATING_SCALE_NPS_10
_ids = count()


def said(
    text: str,
    intent: str,
    emotion: str = "",
    intensity: float | None = None,
    *,
    score: int = 2,
    scale: int = CSAT,
    sentiment: float | None = None,
    minutes_ago: int = 0,
) -> Feedback:
    return Feedback(
        event_id=f"f{next(_ids)}",
        channel=WEB,
        score=score,
        scale=scale,
        text=text,
        intent=intent,
        dominant_emotion=emotion,
        intensity=intensity,
        sentiment_score=sentiment if sentiment is not None else (-0.5 if emotion else None),
        given_at=NOW - timedelta(minutes=minutes_ago),
    )


def test_topics_rank_by_count_times_mean_intensity_with_the_strongest_quotes() -> None:
    feedback = [
        said("Slow delivery", "delivery_period", "frustration", 0.3, minutes_ago=3),
        said("Took a week to arrive", "delivery_period", "frustration", 0.4, minutes_ago=2),
        said("Parcel was late again", "delivery_period", "anger", 0.5, minutes_ago=1),
        said("Late, and nobody told me", "delivery_period", "frustration", 0.4),
        # Two furious customers outweigh four annoyed ones: 2 x 0.95 > 4 x 0.4.
        said("You charged me twice!", "payment_issue", "anger", 0.9),
        said("Double charge, no answer", "payment_issue", "anger", 1.0),
        said("The refund form is confusing", "get_refund", "confusion", 0.2),
    ]
    points = top_pain_points(feedback)
    assert [(p.topic, p.count) for p in points] == [
        ("payment_issue", 2),
        ("delivery_period", 4),
        ("get_refund", 1),
    ]
    delivery = points[1]
    assert delivery.intensity is not None and abs(delivery.intensity - 0.4) < 1e-9
    assert delivery.emotion == "frustration"
    # The most intense first; among equals, the newest.
    assert delivery.quotes == [
        "Parcel was late again",
        "Late, and nobody told me",
        "Took a week to arrive",
    ]
    assert len(top_pain_points(feedback, limit=2)) == 2


def test_only_negative_feedback_counts_and_without_a_reading_a_low_score_decides() -> None:
    happy = said("Lovely agent", "review", "joy", 0.8, sentiment=0.7, score=5)
    neutral_words_low_score = said("The app", "unknown", score=2)  # opted out: no reading
    detractor = said("Meh", "unknown", score=6, scale=NPS)
    passive = said("Fine mostly", "unknown", score=7, scale=NPS)
    satisfied = said("ok", "unknown", score=4)
    assert not is_negative(happy)
    assert is_negative(neutral_words_low_score) and is_negative(detractor)
    assert not is_negative(passive) and not is_negative(satisfied)

    [other] = top_pain_points([happy, neutral_words_low_score, detractor, passive, satisfied])
    # "unknown" topics are grouped as "other"; unread feedback weighs as a medium feeling.
    assert (other.topic, other.count, other.intensity, other.emotion) == ("other", 2, None, "")
    assert other.weight == 1.0


def test_a_long_quote_is_shortened_on_one_line() -> None:
    [point] = top_pain_points([said("far too slow\n" * 40, "delivery_period", "anger", 0.5)])
    [quote] = point.quotes
    assert len(quote) == 240 and quote.endswith("…") and "\n" not in quote


def test_nps_is_promoters_minus_detractors_in_percent_and_apart_from_csat() -> None:
    scores = [10, 9, 9, 8, 7, 6, 3, 0, 10, 10]  # 5 promoters, 2 passives, 3 detractors
    ratings = [
        Rating(event_id=f"n{n}", channel=WEB, score=score, rated_at=NOW, scale=NPS)
        for n, score in enumerate(scores)
    ] + [Rating(event_id="c1", channel=WEB, score=4, rated_at=NOW, scale=CSAT)]
    board = dashboard([], ratings, [], now=NOW, days=7)
    assert board.overall.nps == 20.0
    assert (board.overall.nps_answered, board.overall.rated) == (10, 1)
    assert board.overall.csat_average == 4.0


def test_without_nps_answers_there_is_no_nps() -> None:
    ratings = [Rating(event_id="c1", channel=WEB, score=5, rated_at=NOW, scale=CSAT)]
    assert dashboard([], ratings, [], now=NOW, days=7).overall.nps is None
