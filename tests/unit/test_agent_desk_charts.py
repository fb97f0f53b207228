"""The dashboard's charts: scales, geometry, CSV, the weekly summary and a conversation's
trajectory, on known figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from rapport.common.v1 import envelope_pb2

from services.agent_desk import kpis
from services.agent_desk.charts import (
    Chart,
    Kind,
    Reading,
    Series,
    Unit,
    axis,
    csv_text,
    draw,
    safe_cell,
    trajectory_chart,
)
from services.agent_desk.kpi_charts import dashboard_charts, wait_buckets
from services.agent_desk.models import ConversationSeen, Rating, Ticket, TicketStatus
from services.agent_desk.weekly import days_to_read, week_before_last, weekly_summary

NOW = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)  # a Wednesday
WEB = envelope_pb2.CHANNEL_WEB


def line(values: list[float | None], unit: Unit = Unit.COUNT, **fields: object) -> Chart:
    return Chart(
        name="test",
        title="Test",
        description="A test chart.",
        kind=Kind.LINE,
        heading="Day",
        labels=[f"d{n}" for n in range(len(values))],
        series=[Series("Values", unit, values)],
        **fields,  # type: ignore[arg-type]
    )


def test_axes_take_round_steps_in_the_values_unit() -> None:
    assert axis([0, 5, 10], (0, 1), Unit.COUNT) == [0, 5, 10]
    assert axis([1, 2], (0, 1), Unit.COUNT) == [0, 1, 2]  # never a fraction of a count
    assert axis([0.3], (0, 1), Unit.SHARE) == [0, 0.25, 0.5, 0.75, 1]
    assert axis([130], (0, 60), Unit.SECONDS) == [0, 60, 120, 180]  # whole minutes
    assert axis([-1.4], (-1, 1), Unit.SIGNED) == [-2, -1, 0, 1]
    assert axis([], (1, 5), Unit.SCORE) == [1, 2, 3, 4, 5]


def test_a_line_places_each_value_on_its_scale() -> None:
    drawn = draw(line([0, 5, 10]), width=600, height=220)
    left, top, right, bottom = drawn.left, drawn.top, drawn.right, drawn.bottom
    band = (right - left) / 3
    marks = drawn.lines[0].marks
    assert [m.x for m in marks] == pytest.approx([left + band * (n + 0.5) for n in range(3)])
    assert [m.y for m in marks] == pytest.approx([bottom, (top + bottom) / 2, top])
    assert [(m.label, m.value) for m in marks] == [("d0", 0), ("d1", 5), ("d2", 10)]
    assert [t.value for t in drawn.y_ticks] == [0, 5, 10]
    assert [t.at for t in drawn.y_ticks] == pytest.approx([bottom, (top + bottom) / 2, top])
    assert drawn.lines[0].segments == [" ".join(f"{m.x:.1f},{m.y:.1f}" for m in marks)]


def test_a_missing_value_breaks_the_line_and_a_lone_value_is_a_mark_only() -> None:
    drawn = draw(line([1, None, 3, 4]))
    assert [m.value for m in drawn.lines[0].marks] == [1, 3, 4]
    assert len(drawn.lines[0].segments) == 1
    assert drawn.lines[0].segments[0].count(",") == 2  # 3 and 4 joined, 1 alone


def test_an_empty_chart_has_axes_and_no_marks() -> None:
    chart = line([None, None], Unit.SCORE, floor=(1.0, 5.0))
    drawn = draw(chart)
    assert chart.empty
    assert drawn.lines[0].marks == [] and drawn.lines[0].segments == []
    assert [t.value for t in drawn.y_ticks] == [1, 2, 3, 4, 5]


def test_a_single_point_sits_in_the_middle() -> None:
    drawn = draw(line([3]))
    (mark,) = drawn.lines[0].marks
    assert mark.x == pytest.approx((drawn.left + drawn.right) / 2)
    assert drawn.lines[0].segments == []
    assert [t.text for t in drawn.x_ticks] == ["d0"]


def test_bars_are_as_long_as_their_share_of_the_axis() -> None:
    chart = Chart(
        name="bars",
        title="Bars",
        description="",
        kind=Kind.BARS,
        heading="Score",
        labels=["a", "b", "c"],
        series=[Series("Count", Unit.COUNT, [2, 0, 4])],
    )
    drawn = draw(chart, width=600)
    full = drawn.right - drawn.left
    assert [b.width for b in drawn.bars] == pytest.approx([full / 2, 0, full])
    assert [b.label for b in drawn.bars] == ["a", "b", "c"]
    assert drawn.bars[1].y > drawn.bars[0].y


def test_the_csv_has_the_charts_numbers_and_no_formula_from_data() -> None:
    chart = Chart(
        name="reasons",
        title="Reasons",
        description="",
        kind=Kind.LINE,
        heading="Reason",
        labels=['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "plain"],
        series=[Series("Change", Unit.SIGNED, [-0.5, None, 0.25, 1, 0])],
        notes_heading="Note",
        notes=["=cmd", "", "", "", "ok"],
    )
    rows = list(csv.reader(io.StringIO(csv_text(chart))))
    assert rows[0] == ["Reason", "Change", "Note"]
    assert rows[1:] == [
        ['\'=HYPERLINK("http://x")', "-0.5", "'=cmd"],  # our numbers stay numbers
        ["'+1", "", ""],
        ["'-2", "0.25", ""],
        ["'@SUM(A1)", "1", ""],
        ["plain", "0", "ok"],
    ]
    assert safe_cell("\tx") == "'\tx" and safe_cell("a=b") == "a=b"


def ticket(name: str, days_ago: int, wait: float, reason: str) -> Ticket:
    handed = NOW - timedelta(days=days_ago, hours=1)
    return Ticket(
        id=name,
        conversation_id=name,
        channel=WEB,
        repeat_contacts=0,
        reason_codes=[reason],
        status=TicketStatus.RESOLVED,
        handed_off_at=handed,
        claimed_at=handed + timedelta(seconds=wait),
        resolved_at=handed + timedelta(seconds=wait + 300),
        sentiment_first=-0.5,
        sentiment_last=0.25,
    )


def records(spread: int) -> tuple[list[Ticket], list[Rating], list[ConversationSeen]]:
    """Two conversations a day over ``spread`` days, one escalated, and a rating a day."""
    seen = [
        ConversationSeen(conversation_id=f"c{d}-{n}", channel=WEB, started_at=NOW - timedelta(d))
        for d in range(spread)
        for n in range(2)
    ]
    tickets = [ticket(f"c{d}-0", d, 30 + 60 * (d % 20), f"reason{d % 3}") for d in range(spread)]
    ratings = [
        Rating(event_id=str(d), channel=WEB, score=1 + d % 5, rated_at=NOW - timedelta(d))
        for d in range(spread)
    ]
    return tickets, ratings, seen


def test_the_dashboards_charts_show_the_dashboards_figures_per_day() -> None:
    board = kpis.dashboard(*records(30), now=NOW, days=30)
    charts = {c.name: c for c in dashboard_charts(board)}
    assert list(charts) == [
        "volume",
        "csat",
        "escalation",
        "first-contact",
        "times",
        "sentiment",
        "csat-scores",
        "wait-times",
        "reasons",
    ]
    days = board.by_day
    assert charts["volume"].labels == [day.isoformat() for day, _ in days]
    assert charts["volume"].series[0].values == [f.conversations for _, f in days]
    assert charts["escalation"].series[0].values == [f.escalation_rate for _, f in days]
    assert charts["times"].series[1].values == [f.average_handle for _, f in days]
    assert charts["csat-scores"].series[0].values == [c for _, c in board.overall.distribution]
    assert dict(zip(charts["reasons"].labels, charts["reasons"].series[0].values, strict=True)) == {
        "reason0": 10,
        "reason1": 10,
        "reason2": 10,
    }
    assert sum(charts["wait-times"].series[0].values) == 30  # type: ignore[arg-type]


def test_a_year_is_drawn_per_week_from_the_days_figures() -> None:
    board = kpis.dashboard(*records(365), now=NOW, days=365)
    volume = next(c for c in dashboard_charts(board) if c.name == "volume")
    assert volume.heading == "Week of"
    assert all(date.fromisoformat(label).weekday() == 0 for label in volume.labels)
    assert len(volume.labels) == 53
    assert sum(volume.series[0].values) == 730  # type: ignore[arg-type]
    assert volume.series[0].values[-1] == 2 * 3  # Monday to Wednesday


def test_the_channel_chosen_scopes_the_distributions() -> None:
    board = kpis.dashboard(*records(14), now=NOW, days=14, channel="sms")
    charts = {c.name: c for c in dashboard_charts(board)}
    assert charts["csat-scores"].title == "CSAT scores (sms)"
    assert charts["csat-scores"].empty is False and charts["reasons"].labels == []
    assert sum(charts["csat-scores"].series[0].values) == 0  # type: ignore[arg-type]


def test_wait_buckets_count_each_wait_once() -> None:
    assert wait_buckets([0, 59, 60, 299, 900, 3600, 10**6]) == [
        ("under 1 min", 2),
        ("1–5 min", 2),
        ("5–15 min", 0),
        ("15–60 min", 1),
        ("1 h or more", 2),
    ]


def test_the_weekly_summary_compares_last_week_with_the_week_before() -> None:
    today = NOW.date()
    assert week_before_last(today) == date(2026, 11, 23)
    board = kpis.dashboard(*records(30), now=NOW, days=days_to_read(today))
    summary = weekly_summary(board, today)
    assert (summary.start, summary.end) == (date(2026, 11, 30), date(2026, 12, 6))
    compared = {c.name: c for c in summary.comparisons}
    assert (compared["Conversations"].last, compared["Conversations"].before) == (14, 14)
    assert compared["Conversations"].direction == "same"
    last_week = kpis.combined(f for d, f in board.by_day if summary.start <= d <= summary.end)
    assert compared["Average wait"].last == last_week.average_wait
    assert compared["CSAT average"].direction in ("up", "down", "same")
    assert summary.reasons == last_week.reasons.most_common(5)
    assert [c.name for c in summary.charts] == [
        "volume",
        "csat",
        "escalation",
        "times",
        "csat-scores",
    ]
    assert len(summary.charts[0].labels) == 14


def test_combined_figures_average_over_every_value() -> None:
    one, two = kpis.Figures(tickets=1, waits=[10.0]), kpis.Figures(tickets=2, waits=[20.0, 30.0])
    both = kpis.combined([one, two])
    assert (both.tickets, both.average_wait) == (3, 20.0)
    assert one.waits == [10.0]  # the parts are left as they were


def test_a_conversations_trajectory_has_a_point_per_reading() -> None:
    assert trajectory_chart([]) is None
    start = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
    chart = trajectory_chart(
        [
            Reading(start, "anger", 0.8, -0.7),
            Reading(start + timedelta(minutes=5), "neutral", 0.2, 0.1),
            Reading(None, "gratitude", 0.6, 0.5),
        ]
    )
    assert chart is not None
    assert chart.labels == ["1 · 10:00", "2 · 10:05", "3"]
    assert [s.values for s in chart.series] == [
        pytest.approx([-0.7, 0.1, 0.5]),
        pytest.approx([0.8, 0.2, 0.6]),
    ]
    assert chart.notes == ["anger", "neutral", "gratitude"]
    drawn = draw(chart)
    assert [t.value for t in drawn.y_ticks] == [-1, -0.5, 0, 0.5, 1]
    assert len(drawn.lines) == 2 and len(drawn.lines[1].marks) == 3
