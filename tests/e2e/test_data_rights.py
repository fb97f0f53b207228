"""A customer's data rights through the whole stack, on a broker and stack of this module's
own: topics whose retention is shortened to seconds (and the broker looking for expired
segments every second), and gRPC callers' tokens checked as in a deployment.

A web customer who is upset asks for a person, is answered by an agent, rates the help,
and has a broken record dead-lettered. Their words, ids and emotion readings are then in
the context store, the desk's database and most topics. A supervisor, in Chromium, finds
them by their chat handle, downloads their data, changes their consent and erases them
after confirming. Afterwards every column of every row of both databases holds nothing of
theirs, and, once the documented delay has passed, neither does any topic read from its
beginning. A plain agent never sees the customers' pages.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from playwright.async_api import Page, async_playwright, expect
from rapport.events.v1 import handoff_pb2, messages_pb2
from sqlalchemy import select

from infra.kafka.embedded import EmbeddedKafka, create_topics
from services.agent_desk.models import AuditAction, AuditEntry
from services.context.models import AuditRow
from shared.database import create_engine
from shared.kafka.snapshot import read_to_end
from shared.kafka.topics import (
    AGENT_ACTIONS,
    DEAD_LETTER,
    DELIVERY,
    FEEDBACK,
    HANDOFF,
    INBOUND,
    TopicRetention,
    outbound_topic,
    topic_specs,
)
from tests.e2e.stack import Stack
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.kafka_helpers import read_until
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
TOKENS = {
    "orchestrator": "orchestrator-e2e-rights-token-0123456789",
    "agent_desk": "agent-desk-e2e-rights-token-0123456789",
}
# Long enough for the pipeline to have read every record, short enough to wait out.
RETENTION = TopicRetention(
    events=timedelta(seconds=90),
    dead_letters=timedelta(seconds=90),
    held_replies=timedelta(seconds=90),
    segment=timedelta(seconds=5),
)
CHECK_INTERVAL = timedelta(seconds=1)
READ_SLACK = timedelta(seconds=30)
"""Time the test itself takes to read every topic, on top of the documented delay."""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    settings = {
        "log.retention.check.interval.ms": int(CHECK_INTERVAL.total_seconds() * 1000),
        "log.initial.task.delay.ms": 0,
    }
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka-rights"), settings=settings) as kafka:
        kafka.wait_ready(120)
        asyncio.run(create_topics(kafka.bootstrap, topic_specs(RETENTION)))
        yield kafka


@pytest.fixture(scope="module")
def rights_stack(
    broker: EmbeddedKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(broker.bootstrap, tmp_path_factory.mktemp("rights"))
    stack.env["RAPPORT_GRPC_CALLERS"] = json.dumps(TOKENS)
    for caller, token in TOKENS.items():
        stack.service_env[caller] = {"RAPPORT_GRPC_TOKEN": token}
    try:
        stack.start_all()
        yield stack
    finally:
        codes = stack.stop_all()
    assert not {name: code for name, code in codes.items() if code != 0}


def create_account(stack: Stack, name: str, role: str) -> tuple[str, str]:
    """An account made with the desk's command line: (email, account id)."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    done = stack.desk_command(
        "create-user", "--email", email, "--name", name, "--role", role, stdin=PASSWORD + "\n"
    )
    found = re.search(r"\(([0-9a-f-]{36})\)", done.stdout)
    assert found, done.stdout
    return email, found.group(1)


async def sign_in(page: Page, url: str, email: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("#waiting-count")).to_be_visible()


def form_field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found, f"no {name} on the page"
    return found.group(1)


async def agent_answers(stack: Stack, email: str, ticket_id: str, text: str) -> None:
    """The agent claims the ticket, replies and resolves it, as the desk's forms post."""
    async with aiohttp.ClientSession(
        base_url=stack.desk_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as browser:
        async with browser.get("/login") as login:
            token = form_field(await login.text(), "csrf_token")
        await browser.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
        )
        for action, extra in (("claim", {}), ("reply", {"text": text}), ("resolve", {})):
            async with browser.get(f"/conversations/{ticket_id}") as page:
                html = await page.text()
            fields = {
                "csrf_token": form_field(html, "csrf_token"),
                "action_id": form_field(html, "action_id"),
                **extra,
            }
            async with browser.post(f"/conversations/{ticket_id}/{action}", data=fields) as done:
                assert done.status == 200, await done.text()


async def dead_letter(bootstrap: str, conversation_id: str, text: str) -> None:
    """A broken record in the customer's conversation, which consumers dead-letter whole."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            INBOUND, value=f"not an event: {text}".encode(), key=conversation_id.encode()
        )
    finally:
        await producer.stop()
    await read_until(bootstrap, DEAD_LETTER, lambda r: r.key == conversation_id.encode())


async def topics_holding(bootstrap: str, secrets: tuple[str, ...]) -> dict[str, set[str]]:
    """Every topic on the broker (internal ones too) read from its beginning: which of
    ``secrets`` each still holds, in keys, values or headers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(await admin.list_topics())
    finally:
        await admin.close()
    found: dict[str, set[str]] = {}
    wanted = [(secret, secret.encode()) for secret in secrets]
    for topic in topics:
        async for record in read_to_end(bootstrap, topic, "rights-test"):
            raw = b"".join(
                [record.key or b"", record.value or b""]
                + [name.encode() + (value or b"") for name, value in record.headers]
            )
            held = {secret for secret, encoded in wanted if encoded in raw}
            if held:
                found.setdefault(topic, set()).update(held)
    return found


async def stores_holding(stack: Stack, secrets: tuple[str, ...]) -> dict[str, list[str]]:
    """Which of ``secrets`` each table of the context store and the desk's database holds."""
    found: dict[str, list[str]] = {}
    for store, url in (
        ("context", stack.env["DATABASE_URL"]),
        ("desk", stack.env["RAPPORT_AGENT_DESK_DATABASE_URL"]),
    ):
        engine = create_engine(url)
        try:
            rows = await every_row(engine)
        finally:
            await engine.dispose()
        found.update({f"{store}.{t}": s for t, s in holding(rows, secrets).items()})
    return found


async def holding_at_least(
    scan: Callable[[], Awaitable[Mapping[str, Any]]], places: set[str], timeout: float = 30
) -> None:
    """Wait until ``scan`` finds the customer in every one of ``places``."""
    deadline = time.monotonic() + timeout
    while not (found := await scan()).keys() >= places:
        assert time.monotonic() < deadline, f"only in {sorted(found)}, not all of {places}"
        await asyncio.sleep(0.5)


async def test_an_erasure_from_the_desk_reaches_every_table_and_every_topic(
    rights_stack: Stack, tmp_path: Path
) -> None:
    stack = rights_stack
    agent, _ = create_account(stack, "Maria", "agent")
    supervisor, supervisor_id = create_account(stack, "Sue", "supervisor")
    marker = f"parcel {uuid.uuid4().hex[:8]}"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The customer, upset, asks for a person; an agent answers; they rate the help.
            chat = await (await browser.new_context()).new_page()
            await chat.goto(stack.web_url)
            await expect(chat.locator("#status")).to_have_text("online")
            await chat.fill(
                "#text",
                f"This is awful, I am furious! I want to talk to a real person please, {marker}",
            )
            await chat.keyboard.press("Enter")
            await expect(chat.locator(".message--bot").first).to_contain_text("member of our team")
            [inbound] = await read_until(
                stack.kafka_bootstrap, INBOUND, lambda r: marker.encode() in (r.value or b"")
            )
            envelope = messages_pb2.MessageReceived.FromString(inbound.value).envelope
            visitor, conversation_id = envelope.customer.address, envelope.conversation_id
            [handoff] = await read_until(
                stack.kafka_bootstrap, HANDOFF, lambda r: r.key == conversation_id.encode()
            )
            packet = handoff_pb2.HandoffRequested.FromString(handoff.value)
            assert packet.trajectory  # the emotion readings went with the hand-over
            ticket_id, customer_id = packet.envelope.event_id, packet.envelope.customer.customer_id
            await agent_answers(stack, agent, ticket_id, f"Sorry, I am on {marker} now.")
            await expect(chat.locator(".message--agent")).to_contain_text(f"on {marker} now")
            await expect(chat.locator(".message--bot").last).to_contain_text("from 1 (poor)")
            await chat.fill("#text", "4")
            await chat.keyboard.press("Enter")
            await expect(chat.locator(".message--bot").last).to_contain_text("Thank you")
            await dead_letter(stack.kafka_bootstrap, conversation_id, marker)
            await chat.close()

            secrets = (marker, visitor, conversation_id, customer_id, ticket_id)
            # What the scans below must no longer find, they find now (the rating reaches
            # the desk a moment after the customer is thanked).
            await holding_at_least(
                lambda: stores_holding(stack, secrets),
                {
                    "context.customers",
                    "context.identities",
                    "context.turns",
                    "desk.tickets",
                    "desk.outgoing_messages",
                    "desk.ratings",
                    "desk.conversations_seen",
                    "desk.outbox",
                },
            )
            await holding_at_least(
                lambda: topics_holding(stack.kafka_bootstrap, secrets),
                {
                    INBOUND,
                    HANDOFF,
                    AGENT_ACTIONS,
                    FEEDBACK,
                    DELIVERY,
                    DEAD_LETTER,
                    outbound_topic("web"),
                },
            )

            # A plain agent has no way to the customers' pages.
            maria = await (await browser.new_context()).new_page()
            await sign_in(maria, stack.desk_url, agent)
            await expect(maria.locator("a[href='/customers']")).to_have_count(0)
            refused = await maria.goto(f"{stack.desk_url}/customers/{customer_id}")
            assert refused is not None and refused.status == 403

            # The supervisor finds the customer, downloads their data, changes their consent
            # and erases them.
            desk = await (await browser.new_context(accept_downloads=True)).new_page()
            await sign_in(desk, stack.desk_url, supervisor)
            await desk.click("a[href='/customers']")
            await desk.fill("#customer-query", visitor)
            await desk.click("#customer-find")
            results = desk.locator("#customer-results tbody tr")
            await expect(results).to_have_count(1)
            await expect(results.first).to_contain_text(f"web: {visitor}")
            await results.first.locator("a").click()
            await expect(desk.locator("#customer-id")).to_have_text(customer_id)

            async with desk.expect_download() as downloading:
                await desk.click("#export")
            download = await downloading.value
            assert download.suggested_filename == f"customer-{customer_id}.zip"
            archive_path = tmp_path / download.suggested_filename
            await download.save_as(archive_path)
            archive = zipfile.ZipFile(io.BytesIO(archive_path.read_bytes()))
            exported = {name: archive.read(name).decode() for name in archive.namelist()}
            manifest = json.loads(exported["manifest.json"])
            assert {f["name"] for f in manifest["files"]} == exported.keys() - {"manifest.json"}
            assert marker in exported["context.json"]
            assert marker in exported["desk/outgoing_messages.json"]
            assert ticket_id in exported["desk/tickets.json"]
            assert json.loads(exported["decisions.json"])

            await expect(desk.locator("#consent-emotion")).to_be_checked()
            await desk.uncheck("#consent-emotion")
            await desk.check("#consent-marketing")
            await desk.click("#save-consent")
            await expect(desk.locator("#consent-marketing")).to_be_checked()
            await expect(desk.locator("#consent-emotion")).not_to_be_checked()

            await desk.click("#erase-start")
            await expect(desk.locator("#erase")).to_contain_text(f"web: {visitor}")
            await desk.select_option("#erase-reason", "customer_request")
            await desk.fill("#erase-confirmation", "erase")
            await desk.click("#erase-confirm")
            await expect(desk.locator("#erased")).to_be_visible()
            erased_at = time.monotonic()
            await desk.fill("#customer-query", visitor)
            await desk.click("#customer-find")
            await expect(desk.locator("#no-customers")).to_be_visible()
        finally:
            await browser.close()

    assert await stores_holding(stack, secrets) == {}
    deadline = erased_at + (RETENTION.worst_case(CHECK_INTERVAL) + READ_SLACK).total_seconds()
    while on_topics := await topics_holding(stack.kafka_bootstrap, secrets):
        assert time.monotonic() < deadline, f"still on Kafka past the promised delay: {on_topics}"
        await asyncio.sleep(2)
    assert await stores_holding(stack, secrets) == {}  # and nothing came back meanwhile

    desk_db = create_engine(stack.env["RAPPORT_AGENT_DESK_DATABASE_URL"])
    context_db = create_engine(stack.env["DATABASE_URL"])
    try:
        async with desk_db.connect() as connection:
            actions = (
                await connection.execute(
                    select(AuditEntry.action).where(AuditEntry.actor_id == supervisor_id)
                )
            ).scalars()
            assert set(actions) == {
                AuditAction.CUSTOMER_EXPORTED.value,
                AuditAction.CONSENT_CHANGED.value,
                AuditAction.CUSTOMER_ERASED.value,
            }
        async with context_db.connect() as connection:
            logged = (
                await connection.execute(
                    select(AuditRow.action, AuditRow.actor).where(
                        AuditRow.action.in_(["export", "consent", "erase"])
                    )
                )
            ).all()
        assert sorted(logged) == sorted(
            (action, f"agent_desk:{supervisor_id}") for action in ("consent", "erase", "export")
        )
    finally:
        await desk_db.dispose()
        await context_db.dispose()
