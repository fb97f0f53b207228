"""The dashboard's exports and printout: each chart's numbers as CSV
(``/dashboard/charts/<name>.csv``, the dashboard's own filters) and the weekly summary
(``/dashboard/weekly``); both for supervisors, as the dashboard.

Also what the dashboard and the conversation page share with them: reading the
dashboard's filters and records, and one conversation's emotion trajectory as a chart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from aiohttp import web
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk import kpis
from services.agent_desk.charts import (
    Drawing,
    Reading,
    csv_text,
    draw,
    trajectory_chart,
)
from services.agent_desk.kpi_charts import dashboard_charts
from services.agent_desk.kpis import Period, period_of
from services.agent_desk.pages import Guard, Page
from services.agent_desk.weekly import days_to_read, weekly_summary
from shared.errors import NotFoundError


class KpiRecords(Protocol):
    async def kpi_records(
        self, since: datetime
    ) -> tuple[
        Sequence[kpis.TicketFacts], Sequence[kpis.RatingFacts], Sequence[kpis.SeenFacts]
    ]: ...


async def board_of(store: KpiRecords, period: Period, now: datetime) -> kpis.Dashboard:
    """The dashboard's figures for ``period`` up to ``now`` (whole days, UTC)."""
    since = datetime.combine(now.date() - timedelta(days=period.days - 1), time(), tzinfo=UTC)
    tickets, ratings, seen = await store.kpi_records(since)
    return kpis.dashboard(tickets, ratings, seen, now=now, days=period.days, channel=period.channel)


def trajectory_of(
    context: context_pb.GetContextResponse, packet: handoff_pb2.HandoffRequested
) -> Drawing | None:
    """The conversation's readings from the context service, else the handoff's (as the
    sparkline, ``history.chart_of``), drawn; None without any."""
    source = context.trajectory.points or packet.trajectory
    chart = trajectory_chart(
        [
            Reading(
                at=p.occurred_at.ToDatetime(UTC) if p.HasField("occurred_at") else None,
                emotion=p.dominant_emotion,
                intensity=p.intensity,
                sentiment=p.sentiment_score,
            )
            for p in source
        ]
    )
    return draw(chart, width=420, height=220) if chart else None


def chart_routes(
    store: KpiRecords,
    page: Page,
    guard: Guard,
    periods: Sequence[int],
    clock: Callable[[], datetime],
) -> list[web.RouteDef]:
    @guard
    async def export(request: web.Request) -> web.StreamResponse:
        period = period_of(request.query, periods)
        name = request.match_info["name"]
        board = await board_of(store, period, clock())
        chart = next((c for c in dashboard_charts(board) if c.name == name), None)
        if chart is None:
            raise NotFoundError(f"no chart named {name}")
        scope = f"-{period.channel}" if period.channel else ""
        return web.Response(
            text=csv_text(chart),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="rapport-{name}-{period.days}d{scope}.csv"'
                ),
                "Cache-Control": "no-store",
            },
        )

    @guard
    async def weekly(request: web.Request) -> web.StreamResponse:
        now = clock()
        board = await board_of(store, Period(days_to_read(now.date()), ""), now)
        summary = weekly_summary(board, now.date())
        return page(
            request,
            "weekly.html",
            summary=summary,
            drawings=[draw(c) for c in summary.charts],
        )

    return [
        web.get("/dashboard/charts/{name:[a-z-]+}.csv", export),
        web.get("/dashboard/weekly", weekly),
    ]
