"""The dashboard's charts, CSV exports and weekly summary over HTTP, on the desk's
database on SQLite and on a real PostgreSQL server: each CSV holds the figures
``kpis.py`` computes from the same records, formula-safe; only supervisors get them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from rapport.common.v1 import envelope_pb2
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.agent_desk import kpis
from services.agent_desk.models import ConversationSeen, Rating, Ticket, TicketStatus
from services.agent_desk.weekly import week_before_last
from tests.integration.test_agent_desk_rights import (  # noqa: F401
    Desk,
    desk,
    desk_database,
)

pytestmark = pytest.mark.integration

WEB, SMS = envelope_pb2.CHANNEL_WEB, envelope_pb2.CHANNEL_SMS
EVIL_REASON = '=HYPERLINK("http://evil.example","x")'
CHARTS = (
    "volume",
    "csat",
    "escalation",
    "first-contact",
    "times",
    "sentiment",
    "csat-scores",
    "wait-times",
    "reasons",
)


def ticket_row(n: int, channel: int, handed: datetime, reasons: list[str]) -> dict[str, Any]:
    claimed, resolved = handed + timedelta(seconds=90 * n), handed + timedelta(minutes=30)
    return {
        "id": f"00000000-0000-0000-0000-{n:012d}",
        "conversation_id": f"conversation-{n}",
        "customer_id": f"customer-{n}",
        "customer_name": "",
        "channel": channel,
        "team": "support",
        "priority": 0.5,
        "language": "en",
        "required_skills": [],
        "repeat_contacts": n % 2,
        "packet": b"",
        "status": TicketStatus.RESOLVED.value,
        "handed_off_at": handed,
        "claimed_at": claimed,
        "resolved_at": resolved,
        "updated_at": resolved,
        "team_since": handed,
        "reason_codes": reasons,
        "sentiment_first": -0.5,
        "sentiment_last": 0.1 * n,
        "tags": [],
    }


async def seed(engine: AsyncEngine, now: datetime) -> None:
    """Eight conversations over four days on two channels; four handed over, three rated."""
    seen, tickets, ratings = [], [], []
    for n in range(8):
        at = now - timedelta(days=n % 4, hours=1)
        channel = WEB if n % 3 else SMS
        seen.append({"conversation_id": f"conversation-{n}", "channel": channel, "started_at": at})
        if n % 2 == 0:
            tickets.append(
                ticket_row(n, channel, at, [EVIL_REASON, "asked_for_human"][: n % 3 + 1])
            )
        if n in (0, 2, 4):
            ratings.append(
                {
                    "event_id": f"rating-{n}",
                    "ticket_id": tickets[-1]["id"],
                    "conversation_id": f"conversation-{n}",
                    "agent_id": "",
                    "channel": channel,
                    "score": 5 - n // 2,
                    "comment": "",
                    "rated_at": at + timedelta(hours=1),
                }
            )
    async with engine.begin() as connection:
        for table, values in [(ConversationSeen, seen), (Ticket, tickets), (Rating, ratings)]:
            await connection.execute(insert(table), values)


def expected_rows(name: str, board: kpis.Dashboard) -> list[list[Any]]:
    """Each chart's rows straight from the figures, as the export should have them."""
    figures = dict(board.by_channel).get(board.channel) if board.channel else board.overall
    assert figures is not None
    per_day = {
        "volume": lambda f: [f.conversations, f.tickets],
        "csat": lambda f: [f.csat_average],
        "escalation": lambda f: [f.escalation_rate],
        "first-contact": lambda f: [f.first_contact_rate],
        "times": lambda f: [f.average_wait, f.average_handle],
        "sentiment": lambda f: [f.sentiment_change],
    }
    if name in per_day:
        return [[day.isoformat(), *per_day[name](f)] for day, f in board.by_day]
    if name == "csat-scores":
        return [[str(score), count] for score, count in figures.distribution]
    if name == "reasons":
        return [[reason, count] for reason, count in figures.reasons.most_common()]
    buckets = [(60, "under 1 min"), (300, "1–5 min"), (900, "5–15 min"), (3600, "15–60 min")]
    counts = dict.fromkeys([label for _, label in buckets] + ["1 h or more"], 0)
    for wait in figures.waits:
        counts[next((label for below, label in buckets if wait < below), "1 h or more")] += 1
    return [[label, count] for label, count in counts.items()]


def same(cell: str, value: Any) -> bool:
    if value is None:
        return cell == ""
    if isinstance(value, str):
        return cell == ("'" + value if value.startswith("=") else value)
    return float(cell) == pytest.approx(value, rel=1e-5)


@pytest.mark.parametrize("channel", ["", "web"])
async def test_each_charts_csv_holds_the_dashboards_figures(
    desk: Desk,  # noqa: F811
    channel: str,
) -> None:
    now = desk.clock()
    await seed(desk.engine, now)
    records = await desk.parts.store.kpi_records(now - timedelta(days=30))
    board = kpis.dashboard(*records, now=now, days=30, channel=channel)
    assert board.overall.tickets == 4 and board.overall.reasons[EVIL_REASON] == 4
    browser = await desk.signed_in("sue@example.org")
    async with browser:
        for name in CHARTS:
            async with browser.get(
                f"/dashboard/charts/{name}.csv?days=30&channel={channel}"
            ) as got:
                assert got.status == 200, name
                assert got.content_type == "text/csv"
                assert f"rapport-{name}-30d" in got.headers["Content-Disposition"]
                rows = list(csv.reader(io.StringIO(await got.text())))
            expected = expected_rows(name, board)
            assert len(rows) == len(expected) + 1, name
            for row, values in zip(rows[1:], expected, strict=True):
                assert len(row) == len(values) and all(map(same, row, values)), (name, row, values)


async def test_the_charts_and_the_weekly_summary_are_for_supervisors(
    desk: Desk,  # noqa: F811
) -> None:
    last_sunday = week_before_last(desk.clock().date()) + timedelta(days=13)
    await seed(desk.engine, datetime.combine(last_sunday, time(12), tzinfo=UTC))  # last week
    maria = await desk.signed_in("maria@example.org")
    async with maria:
        for path in ("/dashboard/charts/volume.csv", "/dashboard/weekly"):
            async with maria.get(path) as refused:
                assert refused.status == 403, path
    sue = await desk.signed_in("sue@example.org")
    async with sue:
        async with sue.get("/dashboard/charts/nothing.csv") as unknown:
            assert unknown.status == 404
        async with sue.get("/dashboard/charts/volume.csv?days=7") as period:
            assert period.status == 400
        async with sue.get("/dashboard?days=365") as page:
            assert page.status == 200
            html = await page.text()
        async with sue.get("/dashboard/weekly") as weekly:
            assert weekly.status == 200
            summary = await weekly.text()
    for name in CHARTS:
        assert f'id="chart-{name}"' in html
        assert f'href="/dashboard/charts/{name}.csv?days=365&amp;channel="' in html
    assert 'href="/dashboard/weekly"' in html
    assert re.search(r"<h1>Week of \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}</h1>", summary)
    assert "=HYPERLINK(&#34;http://evil.example&#34;" in summary  # escaped, shown as text
    assert summary.count('class="chart-figure"') == 5
