"""The weekly summary a manager prints: last week (Monday to Sunday) against the week
before, with the key charts and the top escalation reasons.

Pure: it reads the daily figures ``kpis.dashboard`` computed over both weeks, so its
numbers are the dashboard's, split on the calendar's weeks rather than the last n days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.agent_desk import kpis
from services.agent_desk.charts import Chart, Unit
from services.agent_desk.kpi_charts import SERIES_CHARTS, csat_scores_chart, series_chart

KEY_CHARTS = ("volume", "csat", "escalation", "times")
TOP_REASONS = 5


@dataclass(frozen=True)
class Comparison:
    name: str
    unit: Unit
    last: float | None
    before: float | None

    @property
    def direction(self) -> str:
        """Said in words, so it reads without colour and on paper."""
        if self.last is None or self.before is None:
            return ""
        if abs(self.last - self.before) < 1e-9:
            return "same"
        return "up" if self.last > self.before else "down"


@dataclass(frozen=True)
class WeeklySummary:
    start: date
    end: date
    comparisons: list[Comparison]
    charts: list[Chart]
    reasons: list[tuple[str, int]]


def week_before_last(today: date) -> date:
    """The Monday the summary's two weeks start on."""
    return today - timedelta(days=today.weekday() + 14)


def days_to_read(today: date) -> int:
    """How many days, today included, ``kpis.dashboard`` must count for both weeks."""
    return (today - week_before_last(today)).days + 1


def weekly_summary(board: kpis.Dashboard, today: date) -> WeeklySummary:
    """From a dashboard of ``days_to_read(today)`` days ending ``today``."""
    first = week_before_last(today)
    fortnight = [(day, f) for day, f in board.by_day if first <= day < first + timedelta(14)]
    before = kpis.combined(f for _, f in fortnight[:7])
    last = kpis.combined(f for _, f in fortnight[7:])
    reasons = last.reasons.most_common(TOP_REASONS)
    return WeeklySummary(
        start=first + timedelta(7),
        end=first + timedelta(13),
        comparisons=[
            Comparison(m.name, m.unit, m.read(last), m.read(before))
            for spec in SERIES_CHARTS
            for m in spec.measures
        ],
        charts=[
            *(
                series_chart(spec, "Day", fortnight, " over two weeks")
                for spec in SERIES_CHARTS
                if spec.name in KEY_CHARTS
            ),
            csat_scores_chart(last, " last week"),
        ],
        reasons=reasons,
    )
