"""Correcting what the models read in a customer's message, from the conversation page:
``POST /conversations/<ticket>/turns/<turn>/correction`` with an emotion and/or an intent
from the models' lists (both empty: the agent withdraws their correction).

Any agent who may open the ticket may correct the customer turns its page shows. What
was detected, the text and the models' versions are read again from the context service
(never from the form), so a correction labels exactly what the customer wrote; whether
the emotion may be corrected follows the customer's consent as the page shows it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk import history as views
from services.agent_desk.corrections import CorrectionsPanel, checked_labels, detections, panel
from services.agent_desk.corrections_store import Corrections
from services.agent_desk.models import Agent
from services.agent_desk.pages import Guard, Page, SignedInAgent
from services.agent_desk.store import packet_of
from shared.errors import DependencyUnavailableError, NotFoundError

if TYPE_CHECKING:
    from services.agent_desk.http_app import DeskParts

log = logging.getLogger(__name__)

UNAVAILABLE = "The customer's history could not be read just now; try again."


async def corrections_panel(
    corrections: Corrections,
    agent: Agent,
    turns: Sequence[context_pb.Turn],
    packet: handoff_pb2.HandoffRequested,
    emotion_allowed: bool,
) -> CorrectionsPanel:
    """The page's correction controls, with the agent's own corrections filled in."""
    found = detections(turns, packet)
    return panel(found, await corrections.of_agent(agent, found), emotion_allowed)


def correction_routes(
    parts: DeskParts, page: Page, signed_in: SignedInAgent, guard: Guard
) -> list[web.RouteDef]:
    """The route, behind ``guard`` (the agent role)."""

    @guard
    async def correct(request: web.Request) -> web.StreamResponse:
        agent = signed_in(request)
        ticket = await parts.desk.visible_ticket(agent, request.match_info["ticket_id"])
        turn_id = request.match_info["turn_id"]
        packet = packet_of(ticket)
        try:
            context, listed = await parts.history.history(
                ticket.customer_id, ticket.conversation_id, parts.settings.history_turns
            )
        except DependencyUnavailableError as exc:
            log.warning("correction of %s not made: %s", turn_id, exc)
            return page(request, "error.html", 503, message=UNAVAILABLE)
        detected = detections([*context.recent_turns, *listed], packet).get(turn_id)
        if detected is None:
            raise NotFoundError(f"no customer message {turn_id} on this page")
        form = await request.post()
        labels = checked_labels(
            detected,
            str(form.get("emotion", "")),
            str(form.get("intent", "")),
            views.consent(context, packet).emotion_analysis_allowed,
        )
        await parts.corrections.save(agent, ticket.customer_id, detected, labels, parts.clock())
        return web.Response(
            status=303, headers={"Location": f"/conversations/{ticket.id}#correct-{turn_id}"}
        )

    return [web.post("/conversations/{ticket_id}/turns/{turn_id}/correction", correct)]
