"""Routing by team through the real stack, watched in Chromium: the desk runs with a
routing file of three teams (support by default, one by language that assigns
round-robin, one by topic that overflows to support after a shortened wait). Customers on
the web chat are handed over by the bot; French ones go to the French team, where the
desk gives them out in turn and skips an agent at her capacity; a bereaved customer goes
to the care team, where nobody is online, and moves to support after the wait, which the
conversation's history says; an emoji-only conversation (no language anyone can tell)
lands in support and is visible to its agents."""

from __future__ import annotations

import unicodedata
import uuid
from pathlib import Path

import grpc
import pytest
import yaml
from playwright.async_api import Page, async_playwright, expect
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import handoff_pb2

from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import HANDOFF
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import (
    ARTIFACTS,
    LAPTOP,
    PASSWORD,
    claim_with_shortcut,
    sign_in_page,
    ticket_of,
)
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.e2e

FRENCH = "Je voudrais parler à une personne, s'il vous plaît"
BEREAVED = "My father passed away and I need to close his account"
OVERFLOW_SECONDS = 3


def member(
    stack: Stack,
    name: str,
    team: str,
    languages: str,
    *,
    skills: str = "",
    capacity: int = 2,
    role: str = "agent",
) -> str:
    """An account made with the command line; returns its email (ASCII: "Amélie" signs
    in as amelie-…, as browsers check an email field)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    email = f"{ascii_name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    done = stack.desk_command(
        "create-user",
        *("--email", email, "--name", name, "--role", role, "--team", team),
        *("--languages", languages, "--skills", skills, "--capacity", str(capacity)),
        stdin=PASSWORD + "\n",
    )
    assert f"in team {team}" in done.stdout
    return email


async def handed_over(stack: Stack, text: str) -> str:
    """A new web chat visitor writes ``text``; the id of the ticket the bot's handoff
    opened."""
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say(text)
        return await ticket_of(stack, "web", chat.visitor)
    finally:
        await chat.close()


async def emoji_only_handoff(stack: Stack) -> str:
    """A visitor who only ever sent emoji, handed over: the conversation has no language,
    so neither has the handoff (as the WhatsApp adapter's, from the conversation's)."""
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say("👍👍")
        await eventually(lambda: len(chat.replies) >= 1, timeout=20)
    finally:
        await chat.close()
    async with grpc.aio.insecure_channel(stack.context_address) as channel:
        customer = (
            await context_grpc.ContextServiceStub(channel).ResolveCustomer(
                context_pb.ResolveCustomerRequest(
                    channel=envelope_pb2.CHANNEL_WEB, address=chat.visitor
                ),
                timeout=5,
            )
        ).customer
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=chat.conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer.customer_id,
                channel=envelope_pb2.CHANNEL_WEB,
                address=chat.visitor,
            ),
        ),
        reasons=[
            handoff_pb2.DecisionReason(
                code="no_progress",
                explanation="The bot's replies could not help.",
                confidence=1.0,
            )
        ],
        priority=0.4,
        language="und",
    )
    async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
        await publisher.publish(HANDOFF, packet)
    return packet.envelope.event_id


async def holder_shown(supervisor: Page, ticket: str, name: str, team: str) -> None:
    """The supervisor's queue shows, live, the ticket with ``name`` in ``team``."""
    held = supervisor.locator(f'#held [data-ticket="{ticket}"]')
    await expect(held.locator("[data-holder]")).to_contain_text(f"with {name}", timeout=20_000)
    await expect(held.locator("[data-team]")).to_have_text(f"team {team}")


async def test_handoffs_are_routed_by_rule_given_in_turn_and_overflow_after_the_wait(
    stack: Stack, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:6]
    french, care = f"french-{run}", f"care-{run}"
    routing = tmp_path / "routing.yaml"
    routing.write_text(
        yaml.safe_dump(
            {
                "default_team": "support",
                "teams": {
                    "support": {},
                    french: {"assignment": "round_robin"},
                    care: {
                        "assignment": "balanced",
                        "overflow": {"after_seconds": OVERFLOW_SECONDS, "to": "support"},
                    },
                },
                "rules": [
                    {"team": care, "when": {"topic": ["bereavement"]}},
                    {"team": french, "when": {"language": ["fr"]}},
                ],
            },
            allow_unicode=True,
        )
    )
    settings = {
        "RAPPORT_AGENT_DESK_ROUTING_FILE": str(routing),
        "RAPPORT_AGENT_DESK_SWEEP_SECONDS": "0.5",
    }
    with stack.reconfigured("agent_desk", settings):
        amelie = member(stack, "Amélie", french, "fr", capacity=1)
        bruno = member(stack, "Bruno", french, "fr", capacity=2)
        member(stack, "Cleo", care, "en", skills="topic:bereavement")  # never comes online
        dana = member(stack, "Dana", "support", "en", skills="topic:bereavement")
        fiona = member(stack, "Fiona", french, "fr", role="supervisor")
        online = stack.desk_command(
            "set-agent", "--email", bruno, "--availability", "online", stdin=""
        )
        assert "online, capacity 2" in online.stdout

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                pages = {}
                for email in (amelie, dana, fiona):
                    pages[email] = await (await browser.new_context(viewport=LAPTOP)).new_page()
                    await sign_in_page(pages[email], stack.desk_url, email)
                    await expect(pages[email].locator("#my-availability")).to_have_text("offline")
                agent, supervisor, support = pages[amelie], pages[fiona], pages[dana]
                await agent.click("#set-online")  # Amélie says she takes conversations
                await expect(agent.locator("#my-availability")).to_have_text("online")
                await expect(agent.locator("#my-load")).to_have_text("0 of 1 conversations")

                # French customers: the first to Amélie, the next to Bruno, and the third
                # to Bruno again: it would be Amélie's turn, but she is at her capacity.
                given = []
                for name in ("Amélie", "Bruno", "Bruno"):
                    ticket = await handed_over(stack, FRENCH)
                    await holder_shown(supervisor, ticket, name, french)
                    given.append(ticket)
                mine = agent.locator(f'#held [data-ticket="{given[0]}"]')
                await expect(mine).to_be_visible()  # live, on her own queue
                await expect(agent.locator("#my-load")).to_have_text("1 of 1 conversations")
                await expect(agent.locator("[data-full]")).to_be_visible()
                team = supervisor.locator("#workloads")
                await expect(team.locator("tr", has_text="Amélie")).to_contain_text("1 / 1")
                await expect(team.locator("tr", has_text="Bruno")).to_contain_text("2 / 2")
                await expect(team.locator("tr", has_text="Bruno")).to_contain_text("online")
                await supervisor.screenshot(path=ARTIFACTS / "routing-team.png", full_page=True)

                # Bereaved: the care team's only agent is offline, so after the wait the
                # ticket moves to support, where Dana (trained for it) sees it.
                bereaved = await handed_over(stack, BEREAVED)
                row = support.locator(f'#waiting [data-ticket="{bereaved}"]')
                await expect(row.locator("[data-team]")).to_have_text(
                    "team support", timeout=20_000
                )
                # An emoji-only conversation: no rule, so support; no language asked of
                # Dana, so she sees it.
                emoji = await emoji_only_handoff(stack)
                emoji_row = support.locator(f'#waiting [data-ticket="{emoji}"]')
                await expect(emoji_row.locator("[data-team]")).to_have_text(
                    "team support", timeout=20_000
                )
                await support.screenshot(path=ARTIFACTS / "routing-support.png", full_page=True)

                await row.locator("a").click()
                await expect(support.locator("#ticket-team")).to_have_text("team support")
                history = support.locator("#timeline .turn--desk")
                await expect(history.first).to_contain_text(
                    f"Queued for team {care} (rule 1: topic bereavement)"
                )
                await expect(history.nth(1)).to_contain_text(
                    f"Moved from team {care} to support: nobody in {care} was free to take "
                    f"it within {OVERFLOW_SECONDS} seconds"
                )
                await claim_with_shortcut(support)
                await expect(history.last).to_contain_text("Dana claimed it")
            finally:
                await browser.close()
