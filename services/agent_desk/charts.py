"""Charts drawn on the server: pure data and geometry for ``_charts.html``.

Why server-side SVG: the desk's Content-Security-Policy allows scripts from /static only
and nothing is fetched from the internet, so a chart is markup the page already has. A
``Chart`` holds the numbers once; the SVG (``draw``), the table under it (``rows``) and
its CSV export (``csv_text``) are all read from it, so they cannot disagree.

Values stay raw (shares 0-1, seconds, scores); the template formats them with the desk's
filters according to each series' ``Unit``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

MAX_X_LABELS = 6
SECOND_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Unit(StrEnum):
    COUNT = "count"
    SHARE = "share"
    SECONDS = "seconds"
    SCORE = "score"
    SIGNED = "signed"


CSV_UNITS = {Unit.SHARE: " (share 0-1)", Unit.SECONDS: " (seconds)"}
"""What a spreadsheet needs told about a raw number; counts and scores say themselves."""


class Kind(StrEnum):
    LINE = "line"
    BARS = "bars"


@dataclass(frozen=True)
class Series:
    name: str
    unit: Unit
    values: list[float | None]


@dataclass(frozen=True)
class Chart:
    """One chart's numbers: a value per label for each series (None: nothing to show)."""

    name: str
    title: str
    description: str
    kind: Kind
    heading: str
    labels: list[str]
    series: list[Series]
    floor: tuple[float, float] = (0.0, 1.0)
    """The value range always shown; data outside it widens the axis."""
    notes_heading: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def unit(self) -> Unit:
        return self.series[0].unit

    @property
    def empty(self) -> bool:
        return all(v is None for s in self.series for v in s.values)

    def rows(self) -> list[tuple[str, list[float | None], str]]:
        """The table's rows: a label, each series' value, and the note (if any)."""
        notes = self.notes or [""] * len(self.labels)
        return [
            (label, [s.values[i] for s in self.series], notes[i])
            for i, label in enumerate(self.labels)
        ]


# Geometry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    label: str
    value: float


@dataclass(frozen=True)
class Line:
    name: str
    unit: Unit
    style: int
    segments: list[str]
    """SVG polyline points of each run of consecutive values (a gap breaks the line)."""
    marks: list[Mark]


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    at: float
    value: float = 0.0
    text: str = ""


@dataclass(frozen=True)
class Drawing:
    chart: Chart
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)


def nice_step(span: float, unit: Unit, ticks: int = 4) -> float:
    """A round step that cuts ``span`` into about ``ticks`` parts (whole minutes and
    hours for times, whole numbers for counts)."""
    raw = span / ticks
    if unit is Unit.SECONDS:
        return float(next((s for s in SECOND_STEPS if s >= raw), math.ceil(raw / 86400) * 86400))
    magnitude = 10.0 ** math.floor(math.log10(raw))
    if unit is Unit.COUNT:
        return max(1.0, next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def axis(values: Iterable[float], floor: tuple[float, float], unit: Unit) -> list[float]:
    """The tick values of an axis showing ``floor`` and every value, on round steps."""
    shown = [*floor, *values]
    low, high = min(shown), max(shown)
    step = nice_step(high - low, unit)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(n * step, 9) for n in range(first, last + 1)]


def draw(chart: Chart, width: int = 600, height: int = 220) -> Drawing:
    return draw_bars(chart, width) if chart.kind is Kind.BARS else draw_lines(chart, width, height)


def draw_lines(chart: Chart, width: int, height: int) -> Drawing:
    """Each series as a line with a mark per value, over labels spread evenly."""
    left, top, right, bottom = 64.0, 28.0, width - 16.0, height - 40.0
    present = [v for s in chart.series for v in s.values if v is not None]
    ticks = axis(present, chart.floor, chart.unit)
    low, high = ticks[0], ticks[-1]

    def y_of(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    band = (right - left) / max(len(chart.labels), 1)

    def x_of(index: int) -> float:
        return left + band * (index + 0.5)

    every = math.ceil(len(chart.labels) / MAX_X_LABELS) or 1
    lines = []
    for style, series in enumerate(chart.series):
        marks = [
            Mark(x_of(i), y_of(v), chart.labels[i], v)
            for i, v in enumerate(series.values)
            if v is not None
        ]
        lines.append(Line(series.name, series.unit, style, _runs(series.values, marks), marks))
    return Drawing(
        chart=chart,
        width=width,
        height=height,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        y_ticks=[Tick(y_of(v), value=v) for v in ticks],
        x_ticks=[
            Tick(x_of(i), text=label) for i, label in enumerate(chart.labels) if i % every == 0
        ],
        lines=lines,
    )


def _runs(values: Sequence[float | None], marks: Sequence[Mark]) -> list[str]:
    """Polyline points for each run of two or more values in a row."""
    runs: list[list[Mark]] = [[]]
    found = iter(marks)
    for value in values:
        if value is None:
            runs.append([])
        else:
            runs[-1].append(next(found))
    return [" ".join(f"{m.x:.1f},{m.y:.1f}" for m in run) for run in runs if len(run) > 1]


def draw_bars(chart: Chart, width: int, band: float = 26.0) -> Drawing:
    """Horizontal bars, one per label (the first series): labels read as text, however long."""
    left, top, right = 150.0, 8.0, width - 56.0
    values = [0 if v is None else v for v in chart.series[0].values]
    bottom = top + band * len(values)
    ticks = axis(values, chart.floor, chart.unit)
    high = ticks[-1]
    return Drawing(
        chart=chart,
        width=width,
        height=round(bottom + 24),
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        bars=[
            Bar(
                label=label,
                value=value,
                x=left,
                y=top + band * i + 4,
                width=value / high * (right - left),
                height=band - 8,
            )
            for i, (label, value) in enumerate(zip(chart.labels, values, strict=True))
        ],
    )


# CSV -----------------------------------------------------------------------------------


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text: one starting like a formula gets a leading quote."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_text(chart: Chart) -> str:
    """The chart's numbers as CSV: labels and notes are data, so made formula-safe; the
    numbers are ours, written raw (shares 0-1, seconds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    head = [chart.heading, *(s.name + CSV_UNITS.get(s.unit, "") for s in chart.series)]
    writer.writerow(head + ([chart.notes_heading] if chart.notes else []))
    for label, values, note in chart.rows():
        cells = [safe_cell(label), *("" if v is None else f"{v:.6g}" for v in values)]
        writer.writerow(cells + ([safe_cell(note)] if chart.notes else []))
    return out.getvalue()


@dataclass(frozen=True)
class Reading:
    """One emotion reading of a customer's turn."""

    at: datetime | None
    emotion: str
    intensity: float
    sentiment: float


def trajectory_chart(readings: Sequence[Reading]) -> Chart | None:
    """One conversation's sentiment and intensity per customer turn; None without readings."""
    if not readings:
        return None
    days = {r.at.date() for r in readings if r.at is not None}
    moment = "%H:%M" if len(days) <= 1 else "%m-%d %H:%M"
    return Chart(
        name="trajectory",
        title="Feelings over the conversation",
        description="The customer's sentiment (-1 to 1) and how strongly they felt (0 to 1) "
        "at each of their turns, oldest first.",
        kind=Kind.LINE,
        heading="Turn",
        labels=[
            f"{n} · {r.at.strftime(moment)}" if r.at else str(n)
            for n, r in enumerate(readings, start=1)
        ],
        series=[
            Series("Sentiment", Unit.SIGNED, [r.sentiment for r in readings]),
            Series("Intensity", Unit.SHARE, [r.intensity for r in readings]),
        ],
        floor=(-1.0, 1.0),
        notes_heading="Emotion",
        notes=[r.emotion for r in readings],
    )
