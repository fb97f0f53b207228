"""Canned responses and macros over HTTP, on a real context service and database: who
may write which, the reply box's search filled for the conversation, a reply that still
has a placeholder refused, and a macro run once its reply is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2

from services.agent_desk.models import TicketStatus
from tests.integration.test_agent_desk_http import (
    Desk,
    new_action,
    page_token,
    post,
    running_desk,
    seeded_handoff,
    sign_in,
)

pytestmark = pytest.mark.integration

GREETING = "Hi {first_name}, your order {order_reference} left today. {agent_name}"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path) as running:
        yield running


async def write(browser: aiohttp.ClientSession, token: str, **form: str) -> tuple[int, str]:
    fields = {"csrf_token": token, "title": "Shipped", "shortcut": "shipped", **form}
    async with browser.post("/responses", data=fields) as response:
        return response.status, await response.text()


async def found(browser: aiohttp.ClientSession, ticket_id: str, query: str) -> list[dict]:
    async with browser.get(f"/conversations/{ticket_id}/responses", params={"q": query}) as got:
        assert got.status == 200
        listed: list[dict] = (await got.json())["responses"]
        return listed


async def test_agents_write_their_own_responses_and_supervisors_their_teams(desk: Desk) -> None:
    async with desk.browser() as maria, desk.browser() as sue, desk.browser() as billie:
        for browser, email in [(maria, "maria"), (sue, "sue"), (billie, "billie")]:
            assert await sign_in(browser, f"{email}@example.org") == 303
        maria_token = await page_token(maria, "/responses")
        sue_token = await page_token(sue, "/responses")
        billie_token = await page_token(billie, "/responses")
        maria_id = desk.accounts["maria@example.org"]

        status, page = await write(maria, maria_token, scope="team:support", text_en="Hello")
        assert status == 403  # an agent writes only their own
        status, _ = await write(maria, maria_token, scope=f"agent:{maria_id}", text_en=GREETING)
        assert status == 200
        status, _ = await write(sue, sue_token, scope="team:support", text_en="Sorry, {name}")
        assert status == 400
        status, _ = await write(
            sue, sue_token, scope="team:support", shortcut="refund", title="Refund", text_es="Hola"
        )
        assert status == 200
        status, page = await write(
            sue, sue_token, scope="team:support", shortcut="refund", title="Again", text_en="Hi"
        )
        assert status == 400 and "/refund is taken" in page
        status, page = await write(sue, sue_token, scope="team:support", then="transfer:legal")
        assert status == 400

        async with maria.get("/responses") as listing:
            text = await listing.text()
        assert "/shipped" in text and "/refund" in text  # her own, and her team's
        async with billie.get("/responses") as listing:
            text = await listing.text()
        assert "/shipped" not in text and "/refund" not in text  # another team, another agent
        assert billie_token  # billing writes its own elsewhere


async def test_the_reply_box_search_fills_a_response_for_the_conversation(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    await desk.context.RememberSlots(
        context_pb.RememberSlotsRequest(
            customer_id=packet.envelope.customer.customer_id,
            slots=[context_pb.Slot(name="order_reference", value="#1001")],
        ),
        timeout=5,
    )
    await desk.context.UpdatePreferences(
        context_pb.UpdatePreferencesRequest(
            customer_id=packet.envelope.customer.customer_id, display_name="Ana Lima"
        ),
        timeout=5,
    )
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        token = await page_token(maria, "/responses")
        maria_id = desk.accounts["maria@example.org"]
        await write(maria, token, scope=f"agent:{maria_id}", text_en=GREETING, text_es="Hola")
        await write(
            maria,
            token,
            scope=f"agent:{maria_id}",
            shortcut="mail",
            title="Mail sent",
            text_en="We wrote to {email}.",
        )
        shipped = await found(maria, ticket_id, "ship")
        assert [r["text"] for r in shipped] == ["Hi Ana, your order #1001 left today. Maria"]
        assert shipped[0]["language"] == "en"  # the conversation's, of the two it has
        assert [r["shortcut"] for r in await found(maria, ticket_id, "")] == ["mail", "shipped"]

        await post(maria, f"/conversations/{ticket_id}/claim", token)
        mail = (await found(maria, ticket_id, "mail"))[0]
        assert mail["text"] == "We wrote to {email}."  # no email given: left to fill
        async with maria.post(
            f"/conversations/{ticket_id}/reply",
            data={"csrf_token": token, "action_id": new_action(), "text": mail["text"]},
        ) as refused:
            assert refused.status == 400
            assert "Fill in {email}" in await refused.text()
    assert not [a for a in await desk.actions() if a.kind == agent_pb2.AGENT_ACTION_KIND_REPLIED]

    async with desk.browser() as billie:
        assert await sign_in(billie, "billie@example.org") == 303
        async with billie.get(f"/conversations/{ticket_id}/responses") as other_team:
            assert other_team.status == 403


async def test_a_macro_tags_and_resolves_once_its_reply_is_sent(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    async with desk.browser() as sue, desk.browser() as maria:
        assert await sign_in(sue, "sue@example.org") == 303
        assert await sign_in(maria, "maria@example.org") == 303
        status, _ = await write(
            sue,
            await page_token(sue, "/responses"),
            scope="team:support",
            shortcut="done",
            title="All sorted",
            text_en="All sorted, {first_name}. Anything else, just write.",
            tags="refund, VIP",
            then="resolve",
        )
        assert status == 200
        token = await page_token(maria)
        await post(maria, f"/conversations/{ticket_id}/claim", token)
        done = (await found(maria, ticket_id, "done"))[0]
        assert done["actions"] == ["tag:refund", "tag:vip", "resolve"]
        await post(
            maria,
            f"/conversations/{ticket_id}/reply",
            token,
            text="All sorted. Anything else, just write.",
            response_id=done["id"],
        )
        async with sue.get(f"/conversations/{ticket_id}") as shown:
            page = await shown.text()
        assert "data-tag>#refund</span>" in page and "data-tag>#vip</span>" in page

    ticket = await desk.parts.store.ticket(ticket_id)
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.tags == ["refund", "vip"]
    kinds = [a.kind for a in await desk.actions()]
    assert kinds[-2:] == [
        agent_pb2.AGENT_ACTION_KIND_REPLIED,
        agent_pb2.AGENT_ACTION_KIND_RESOLVED,
    ]


async def test_a_macro_moves_the_conversation_to_another_teams_queue(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    async with desk.browser() as maria, desk.browser() as billie:
        assert await sign_in(maria, "maria@example.org") == 303
        assert await sign_in(billie, "billie@example.org") == 303
        token = await page_token(maria, "/responses")
        status, _ = await write(
            maria,
            token,
            scope=f"agent:{desk.accounts['maria@example.org']}",
            shortcut="billing",
            title="For billing",
            text_en="I'm passing you to our billing team, {first_name}.",
            then="transfer:billing",
        )
        assert status == 200
        await post(maria, f"/conversations/{ticket_id}/claim", token)
        macro = (await found(maria, ticket_id, "billing"))[0]
        async with maria.post(
            f"/conversations/{ticket_id}/reply",
            data={
                "csrf_token": token,
                "action_id": new_action(),
                "text": "I'm passing you to our billing team.",
                "response_id": macro["id"],
            },
        ) as moved:
            assert moved.status == 200
            assert moved.url.path == "/"  # no longer hers to see
        async with billie.get(f"/conversations/{ticket_id}") as theirs:
            assert theirs.status == 200

    ticket = await desk.parts.store.ticket(ticket_id)
    assert (ticket.team, ticket.status, ticket.assignee_id) == ("billing", "waiting", None)
    history = [(e.kind, e.from_team) for e in await desk.parts.desk.history_of(ticket)]
    assert ("transferred", "support") in history
