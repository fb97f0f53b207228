"""The empathy map's shape: cells from the context service's figures, the hottest one,
and the filters and cells a request may ask for."""

from __future__ import annotations

from datetime import date

import pytest
from rapport.context.v1 import context_service_pb2 as pb

from services.agent_desk.empathy import (
    CellQuery,
    cell_query_of,
    empathy_map,
    filters_of,
    intent_label,
)
from shared.errors import InvalidInputError

WAITING, FIRST = pb.JOURNEY_STAGE_WAITING_FOR_AGENT, pb.JOURNEY_STAGE_FIRST_CONTACT


def figure(
    intent: str, stage: int, emotion: str, turns: int, intensity: float, sentiment: float
) -> pb.EmpathyCell:
    """A figure of ``turns`` turns, each of this intensity and sentiment."""
    return pb.EmpathyCell(
        intent=intent,
        stage=stage,  # type: ignore[arg-type]
        emotion=emotion,
        turns=turns,
        intensity_sum=intensity * turns,
        sentiment_sum=sentiment * turns,
    )


def test_a_cell_shows_its_dominant_emotion_share_and_intensity_and_heat() -> None:
    board = empathy_map(
        [
            figure("delivery", WAITING, "anger", 6, 0.8, -0.7),
            figure("delivery", WAITING, "sadness", 2, 0.4, -0.3),
            figure("delivery", FIRST, "confusion", 1, 0.5, -0.1),
            figure("refund", FIRST, "gratitude", 3, 0.9, 0.8),
        ]
    )
    cell = board.cell("delivery", WAITING)
    assert cell is not None and cell.turns == 8
    assert [f.emotion for f in cell.feelings] == ["anger", "sadness"]
    assert cell.dominant.share == pytest.approx(0.75)
    assert cell.dominant.mean_intensity == pytest.approx(0.8)
    assert cell.heat == pytest.approx(0.6) and cell.heat_step == 3
    assert cell.mean_sentiment == pytest.approx((6 * -0.7 + 2 * -0.3) / 8)
    assert board.intents == ("delivery", "refund")  # most messages first
    assert board.cell("refund", WAITING) is None
    # refund/first contact: every message grateful at 0.9, hotter than 0.75 × 0.8.
    assert board.hottest is board.cell("refund", FIRST)


def test_of_two_emotions_as_common_the_stronger_leads() -> None:
    cell = empathy_map(
        [figure("x", FIRST, "joy", 2, 0.3, 0.5), figure("x", FIRST, "anger", 2, 0.6, -0.5)]
    ).cell("x", FIRST)
    assert cell is not None and cell.dominant.emotion == "anger"


def test_an_empty_map_has_no_hottest_cell() -> None:
    board = empathy_map([])
    assert board.intents == () and board.hottest is None


def test_the_filters_are_the_dashboards_periods_and_a_known_channel() -> None:
    filters = filters_of({"days": "14", "channel": "sms"}, (14, 30), date(2026, 12, 7))
    assert (filters.first_day, filters.today) == (date(2026, 11, 24), date(2026, 12, 7))
    assert filters.channel_number == 2 and filters.query() == {"days": "14", "channel": "sms"}
    assert filters_of({}, (14, 30), date(2026, 12, 7)).days == 14
    for bad in ({"days": "7"}, {"days": "x"}, {"channel": "pigeon"}):
        with pytest.raises(InvalidInputError):
            filters_of(bad, (14, 30), date(2026, 12, 7))


def test_a_cell_is_opened_by_a_known_stage_and_an_emotion() -> None:
    query = {"intent": "delivery", "stage": "3", "emotion": "anger"}
    assert cell_query_of(query) == CellQuery("delivery", WAITING, "anger")
    assert cell_query_of({"stage": "1", "emotion": "joy"}).intent == ""
    for bad in ({"stage": "9", "emotion": "anger"}, {"stage": "3"}, {"stage": "x", "emotion": "a"}):
        with pytest.raises(InvalidInputError):
            cell_query_of(bad)


def test_intents_read_as_words() -> None:
    assert intent_label("delivery_period") == "delivery period"
    assert intent_label("") == "(no intent read)"
