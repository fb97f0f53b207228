"""The empathy map's pages (supervisors and admins, as the dashboard): the map of a period
(``/empathy``) and one cell's conversations with the customers' words
(``/empathy/cell``). The map is one read of the context service's running totals; the
turns behind a cell are read only when it is opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from aiohttp import web

from services.agent_desk.empathy import (
    STAGE_LABELS,
    STAGES,
    cell_query_of,
    empathy_map,
    filters_of,
    intent_label,
)
from services.agent_desk.empathy_store import EmpathySources
from services.agent_desk.pages import Guard, Page, SignedInAgent
from shared.channel_names import CHANNEL_NAMES, channel_name
from shared.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

UNAVAILABLE = "The customer service's records could not be reached just now; try again."


def empathy_routes(
    sources: EmpathySources,
    page: Page,
    signed_in: SignedInAgent,
    guard: Guard,
    periods: Sequence[int],
    clock: Callable[[], datetime],
) -> list[web.RouteDef]:
    """The routes, each behind ``guard`` (the supervisor role)."""

    def unavailable(request: web.Request, exc: DependencyUnavailableError) -> web.Response:
        log.warning("empathy map: context service unavailable: %s", exc)
        return page(request, "error.html", 503, message=UNAVAILABLE)

    @guard
    async def map_page(request: web.Request) -> web.Response:
        filters = filters_of(request.query, periods, clock().date())
        try:
            figures = await sources.figures(filters)
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return page(
            request,
            "empathy.html",
            board=empathy_map(figures),
            filters=filters,
            stages=STAGES,
            stage_labels=STAGE_LABELS,
            periods=periods,
            channels=CHANNEL_NAMES,
            intent_label=intent_label,
        )

    @guard
    async def cell_page(request: web.Request) -> web.Response:
        filters = filters_of(request.query, periods, clock().date())
        cell = cell_query_of(request.query)
        try:
            found = await sources.conversations(signed_in(request), filters, cell)
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return page(
            request,
            "empathy_cell.html",
            cell=cell,
            filters=filters,
            stage=STAGE_LABELS[cell.stage],
            intent=intent_label(cell.intent),
            conversations=found,
            channel_name=channel_name,
        )

    return [web.get("/empathy", map_page), web.get("/empathy/cell", cell_page)]
