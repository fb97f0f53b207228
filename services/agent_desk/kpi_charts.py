"""Which charts the dashboard and the weekly summary draw from the figures of ``kpis.py``:
the series over the period, per day or per week, and the distributions.

Pure: a ``kpis.Dashboard`` in, ``charts.Chart`` values out; ``charts.py`` draws them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from services.agent_desk import kpis
from services.agent_desk.charts import Chart, Kind, Series, Unit

WEEKLY_AFTER_DAYS = 62
"""Longer periods are drawn per week: a year of days is a smear, not a line."""
WAIT_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 1 min", 60),
    ("1–5 min", 5 * 60),
    ("5–15 min", 15 * 60),
    ("15–60 min", 60 * 60),
    ("1 h or more", math.inf),
)


@dataclass(frozen=True)
class Measure:
    name: str
    unit: Unit
    read: Callable[[kpis.Figures], float | None]


@dataclass(frozen=True)
class SeriesChart:
    name: str
    title: str
    description: str
    measures: tuple[Measure, ...]
    floor: tuple[float, float] = (0.0, 1.0)


SERIES_CHARTS = (
    SeriesChart(
        "volume",
        "Conversations and tickets",
        "Conversations the desk saw start and tickets handed to a person",
        (
            Measure("Conversations", Unit.COUNT, lambda f: f.conversations),
            Measure("Tickets", Unit.COUNT, lambda f: f.tickets),
        ),
    ),
    SeriesChart(
        "csat",
        "CSAT average",
        "The customers' average rating from 1 to 5",
        (Measure("CSAT average", Unit.SCORE, lambda f: f.csat_average),),
        (1.0, 5.0),
    ),
    SeriesChart(
        "escalation",
        "Escalation rate",
        "The share of conversations handed to a person",
        (Measure("Escalation rate", Unit.SHARE, lambda f: f.escalation_rate),),
    ),
    SeriesChart(
        "first-contact",
        "First-contact resolution",
        "Of the resolved tickets, the share that were the customer's first in 30 days",
        (Measure("First-contact resolution", Unit.SHARE, lambda f: f.first_contact_rate),),
    ),
    SeriesChart(
        "times",
        "Wait and handle time",
        "Average wait from handoff to claim, and handle time from claim to resolution",
        (
            Measure("Average wait", Unit.SECONDS, lambda f: f.average_wait),
            Measure("Average handle", Unit.SECONDS, lambda f: f.average_handle),
        ),
        (0.0, 60.0),
    ),
    SeriesChart(
        "sentiment",
        "Sentiment change",
        "The customer's sentiment at the last emotion reading minus the first (-1 to 1)",
        (Measure("Sentiment change", Unit.SIGNED, lambda f: f.sentiment_change),),
        (-1.0, 1.0),
    ),
)


def periods_of(board: kpis.Dashboard) -> tuple[str, list[tuple[date, kpis.Figures]]]:
    """The daily figures, or weekly (Monday first) ones for a long period."""
    if len(board.by_day) <= WEEKLY_AFTER_DAYS:
        return "Day", board.by_day
    weeks: dict[date, list[kpis.Figures]] = {}
    for day, figures in board.by_day:
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(figures)
    return "Week of", [(start, kpis.combined(days)) for start, days in weeks.items()]


def series_chart(
    spec: SeriesChart, heading: str, periods: list[tuple[date, kpis.Figures]], scope: str
) -> Chart:
    return Chart(
        name=spec.name,
        title=f"{spec.title}{scope}",
        description=f"{spec.description}, per {heading.split()[0].lower()}.",
        kind=Kind.LINE,
        heading=heading,
        labels=[day.isoformat() for day, _ in periods],
        series=[
            Series(m.name, m.unit, [m.read(figures) for _, figures in periods])
            for m in spec.measures
        ],
        floor=spec.floor,
    )


def bar_chart(name: str, title: str, heading: str, counted: list[tuple[str, int]]) -> Chart:
    return Chart(
        name=name,
        title=title,
        description=f"How many per {heading.lower()}: "
        + (", ".join(f"{label} {count}" for label, count in counted) or "none")
        + ".",
        kind=Kind.BARS,
        heading=heading,
        labels=[label for label, _ in counted],
        series=[Series("Count", Unit.COUNT, [count for _, count in counted])],
    )


def wait_buckets(waits: Iterable[float]) -> list[tuple[str, int]]:
    counts = dict.fromkeys((label for label, _ in WAIT_BUCKETS), 0)
    for wait in waits:
        counts[next(label for label, below in WAIT_BUCKETS if wait < below)] += 1
    return list(counts.items())


def csat_scores_chart(figures: kpis.Figures, scope: str) -> Chart:
    counted = [(str(score), count) for score, count in figures.distribution]
    return bar_chart("csat-scores", f"CSAT scores{scope}", "Score", counted)


def distribution_charts(figures: kpis.Figures, scope: str) -> list[Chart]:
    return [
        csat_scores_chart(figures, scope),
        bar_chart("wait-times", f"Wait times{scope}", "Wait", wait_buckets(figures.waits)),
        bar_chart(
            "reasons",
            f"Escalation reasons{scope}",
            "Reason",
            figures.reasons.most_common(),
        ),
    ]


def dashboard_charts(board: kpis.Dashboard) -> list[Chart]:
    """Every chart of the dashboard: the series over the period (the chosen channel's
    when one is chosen) and the distributions of the whole period."""
    scope = f" ({board.channel})" if board.channel else ""
    heading, periods = periods_of(board)
    chosen = dict(board.by_channel).get(board.channel, kpis.Figures())
    return [
        *(series_chart(spec, heading, periods, scope) for spec in SERIES_CHARTS),
        *distribution_charts(chosen if board.channel else board.overall, scope),
    ]
