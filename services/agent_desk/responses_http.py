"""The desk's pages for canned responses: the list where they are written and removed,
and the search the reply box calls when an agent types "/" (``desk.js``).

The search answers JSON with each response's text already filled in for the open
conversation (the customer's name, what they gave the bot, the agent's name) and in the
conversation's language where the response has it: the browser inserts text, it never
fills anything itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from services.agent_desk.canned import (
    PLACEHOLDERS,
    MacroStep,
    conversation_values,
    fill,
    matching,
    text_for,
)
from services.agent_desk.canned_store import (
    CannedResponses,
    agent_scope,
    may_write,
    scope_of,
    team_scope,
)
from services.agent_desk.desk import Desk
from services.agent_desk.pages import Page, SignedInAgent
from shared.errors import InvalidInputError, RapportError
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)

Teams = Callable[[], Awaitable[Sequence[str]]]
MAX_FOUND = 8
"""Responses the reply box lists at once: the rest are a word further."""


def response_routes(
    desk: Desk,
    responses: CannedResponses,
    page: Page,
    signed_in: SignedInAgent,
    teams: Teams,
    clock: Callable[[], datetime],
) -> list[web.RouteDef]:
    async def listing(request: web.Request, error: str = "", status: int = 200) -> web.Response:
        agent = signed_in(request)
        shown = await responses.visible_to(agent)
        known_teams = await teams()
        writable = [team_scope(t) for t in known_teams if may_write(agent, team_scope(t))]
        return page(
            request,
            "responses.html",
            status,
            responses=shown,
            scopes=[("Only me", agent_scope(agent.id))]
            + [(f"Team {scope.removeprefix('team:')}", scope) for scope in writable],
            removable={r.id for r in shown if may_write(agent, scope_of(r))},
            languages=VOICE.languages,
            placeholders=PLACEHOLDERS,
            teams=known_teams,
            endings=[("", "nothing more")]
            + [(str(MacroStep.RESOLVE), "resolve the conversation")]
            + [(str(MacroStep.RETURN), "give it back to the bot")]
            + [(f"{MacroStep.TRANSFER}:{t}", f"move it to team {t}") for t in known_teams],
            error=error,
        )

    async def list_responses(request: web.Request) -> web.Response:
        return await listing(request)

    async def create(request: web.Request) -> web.StreamResponse:
        agent = signed_in(request)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        texts = {
            code: form[f"text_{code}"].strip()
            for code in VOICE.languages
            if form.get(f"text_{code}", "").strip()
        }
        steps = [f"tag:{t.strip()}" for t in form.get("tags", "").split(",") if t.strip()]
        if form.get("then"):
            steps.append(form["then"])
        try:
            await responses.create(
                agent,
                scope=form.get("scope", ""),
                title=form.get("title", ""),
                shortcut=form.get("shortcut", ""),
                texts=texts,
                actions=steps,
                teams=await teams(),
                now=clock(),
            )
        except InvalidInputError as exc:
            # The list again with the reason; what was typed is kept by the browser's back.
            return await listing(request, error=str(exc), status=400)
        return web.Response(status=303, headers={"Location": "/responses"})

    async def remove(request: web.Request) -> web.StreamResponse:
        await responses.remove(signed_in(request), request.match_info["response_id"])
        return web.Response(status=303, headers={"Location": "/responses"})

    async def search(request: web.Request) -> web.Response:
        """The agent's responses matching ``q``, filled for this conversation."""
        agent = signed_in(request)
        ticket = await desk.visible_ticket(agent, request.match_info["ticket_id"])
        found = matching(await responses.visible_to(agent), request.query.get("q", ""))
        slots: dict[str, str] = {}
        customer_name = ticket.customer_name
        try:
            context = await desk.context_of(ticket, 1)
            slots = {slot.name: slot.value for slot in context.slots}
            customer_name = context.customer.display_name or customer_name
        except RapportError as exc:  # filled from what the desk has; the rest stays marked
            log.warning("no context for %s: %s", ticket.conversation_id, exc)
        values = conversation_values(customer_name, agent.name, slots)
        listed: list[dict[str, Any]] = []
        for response in found[:MAX_FOUND]:
            text, language = text_for(response, ticket.language, VOICE.default_language)
            listed.append(
                {
                    "id": response.id,
                    "title": response.title,
                    "shortcut": response.shortcut,
                    "text": fill(text, values),
                    "language": language,
                    "actions": [str(a) for a in response.actions],
                    "personal": response.personal,
                }
            )
        return web.json_response({"responses": listed}, headers={"Cache-Control": "no-store"})

    return [
        web.get("/responses", list_responses),
        web.post("/responses", create),
        web.post("/responses/{response_id}/remove", remove),
        web.get("/conversations/{ticket_id}/responses", search),
    ]
