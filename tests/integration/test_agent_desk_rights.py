"""Customers' data rights from the desk, over HTTP, on a real context service (callers'
tokens checked) and the desk's database on SQLite and on a real PostgreSQL server.

A supervisor finds a customer, downloads everything every store holds about them, changes
their consent and erases them after confirming; a plain agent is refused every step. Each
action is in the desk's audit trail and the context service's audit log under the
signed-in account. The desk's retention strips emotion data and then removes the rest,
from its periodic task and from the command line.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from google.protobuf.message import Message
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import feedback_pb2, handoff_pb2, messages_pb2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.agent_desk import cli
from services.agent_desk.__main__ import build
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine as desk_engine
from services.agent_desk.database import migrate as desk_migrate
from services.agent_desk.http_app import DeskParts, create_app
from services.agent_desk.models import Agent, AuditAction, AuditEntry, Feedback, Role
from services.agent_desk.outbox import OutboxRelay
from services.agent_desk.retention import retention_of
from services.agent_desk.rights import customer_reference
from services.agent_desk.security import hash_password
from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine as context_engine
from services.context.database import migrate as context_migrate
from services.context.models import AuditRow
from shared.conversations import thread_conversation_id
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from tests.grpc_probe import running
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.integration

CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
PASSWORD = "a long enough password"
TOKENS = {
    "agent_desk": "desk-token-for-rights-0123456789",
    "orchestrator": "orchestrator-token-for-rights-0123",
}
SMS = envelope_pb2.CHANNEL_SMS


@dataclass
class Clock:
    """The desk's clock, moved by the test (tickets handed off long ago)."""

    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Published:
    events: list[tuple[str, Message]] = field(default_factory=list)

    async def publish(self, topic: str, event: Message) -> None:
        self.events.append((topic, event))


@dataclass
class Desk:
    parts: DeskParts
    server: TestServer
    relay: OutboxRelay
    settings: AgentDeskSettings
    # The context service as the orchestrator calls it (seeding customers' history).
    context: context_grpc.ContextServiceStub
    context_engine: AsyncEngine
    engine: AsyncEngine
    accounts: dict[str, Agent]
    clock: Clock
    # Where the context service listens (for the command line's own connection).
    context_address: str

    def browser(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=str(self.server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )

    async def signed_in(self, email: str) -> aiohttp.ClientSession:
        browser = self.browser()
        async with browser.get("/login") as page:
            token = csrf_of(await page.text())
        async with browser.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as answer:
            assert answer.status == 303
        return browser


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@pytest.fixture
async def desk(desk_database: str, tmp_path: Path) -> AsyncIterator[Desk]:
    context_url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    context_db = context_engine(context_url)
    await context_migrate(context_db)
    context_parts = build_context(
        ContextSettings(
            metrics_port=0, grpc_port=0, database_url=context_url, default_phone_region="GB"
        ),
        context_db,
    )
    settings = AgentDeskSettings(metrics_port=0, http_port=0, database_url=desk_database)
    engine = desk_engine(desk_database)
    await desk_migrate(engine)
    clock = Clock()
    try:
        async with (
            running(
                lambda s: context_grpc.add_ContextServiceServicer_to_server(
                    context_parts.servicer, s
                ),
                CONTEXT,
                TOKENS,
            ) as address,
            open_channel(address, token=SecretStr(TOKENS["agent_desk"])) as desk_channel,
            open_channel(address, token=SecretStr(TOKENS["orchestrator"])) as channel,
        ):
            parts, relay = build(
                settings, engine, Published(), ContextClient(desk_channel, 5), clock
            )
            accounts = {
                email: await parts.store.create_agent(
                    email=email,
                    name=email.split("@")[0].title(),
                    password_hash=hash_password(PASSWORD, 12),
                    role=role,
                    team="support",
                    languages=["en"],
                    skills=[],
                    now=datetime.now(UTC),
                )
                for email, role in [
                    ("maria@example.org", Role.AGENT),
                    ("sue@example.org", Role.SUPERVISOR),
                    ("ada@example.org", Role.ADMIN),
                ]
            }
            server = TestServer(create_app(parts), host="127.0.0.1")
            await server.start_server()
            try:
                yield Desk(
                    parts,
                    server,
                    relay,
                    settings,
                    context_grpc.ContextServiceStub(channel),
                    context_db,
                    engine,
                    accounts,
                    clock,
                    address,
                )
            finally:
                await server.close()
    finally:
        await context_parts.store.close()
        await context_db.dispose()
        await engine.dispose()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@dataclass(frozen=True)
class Story:
    """One customer's dealings, in every store; ``secrets`` are what identifies them."""

    customer_id: str
    conversation_id: str
    ticket_id: str
    secrets: tuple[str, ...]


async def customer_story(
    desk: Desk, name: str, phone: str, words: str, resolved: bool = True
) -> Story:
    """A customer writes by SMS, angry; the bot hands over; the desk tells them their place
    in line; an agent claims and replies, then resolves and the customer rates the help
    (unless the ticket stays open)."""
    context = desk.context
    customer = (
        await context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=SMS, address=phone, display_name=name),
            timeout=5,
        )
    ).customer
    conversation_id = thread_conversation_id("sms", phone)
    now = desk.clock()
    for offset, role, text in [
        (3, context_pb.ROLE_CUSTOMER, f"{words}, I want a person"),
        (2, context_pb.ROLE_BOT, "A member of our team will be with you."),
    ]:
        turn = context_pb.Turn(
            event_id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            role=role,
            text=text,
            channel=SMS,
        )
        turn.occurred_at.FromDatetime(now - timedelta(seconds=offset))
        if role == context_pb.ROLE_CUSTOMER:
            turn.emotion.CopyFrom(
                context_pb.EmotionSnapshot(
                    dominant_emotion="anger", intensity=0.8, sentiment_score=-0.7
                )
            )
        else:
            turn.decision.CopyFrom(
                context_pb.DecisionRecord(
                    action="escalate",
                    reasons=[context_pb.DecisionReasonRecord(code="human_requested")],
                )
            )
        await context.AppendTurn(
            context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
        )
    email = f"{name.split()[0].lower()}@example.com"
    await context.RememberSlots(
        context_pb.RememberSlotsRequest(
            customer_id=customer.customer_id, slots=[context_pb.Slot(name="email", value=email)]
        ),
        timeout=5,
    )
    ref = envelope_pb2.CustomerRef(
        customer_id=customer.customer_id, channel=SMS, address=phone, display_name=name
    )
    message = messages_pb2.MessageReceived(
        envelope=new_envelope(conversation_id=conversation_id, channel=SMS, customer=ref),
        text=f"{words}, I want a person",
    )
    message.envelope.occurred_at.FromDatetime(now)
    await desk.parts.desk(message)
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(conversation_id=conversation_id, channel=SMS, customer=ref),
        reasons=[
            handoff_pb2.DecisionReason(
                code="human_requested", explanation="They asked for a person.", confidence=0.9
            )
        ],
        summary=f"{name}. Latest mood: anger, worsening.",
        priority=0.7,
        language="en",
        identities=[ref],
        trajectory=[handoff_pb2.EmotionReading(dominant_emotion="anger", sentiment_score=-0.7)],
        trend="worsening",
        bot_replies=["A member of our team will be with you."],
    )
    packet.envelope.occurred_at.FromDatetime(now)
    await desk.parts.desk(packet)
    maria = desk.accounts["maria@example.org"]
    ticket_id = packet.envelope.event_id
    await desk.parts.desk.claim(maria, ticket_id, str(uuid.uuid4()))
    await desk.parts.desk.reply(maria, ticket_id, f"Sorry {name}, about {words}", str(uuid.uuid4()))
    if resolved:
        await desk.parts.desk.resolve(maria, ticket_id, str(uuid.uuid4()))
        await desk.parts.desk(
            feedback_pb2.SatisfactionRated(
                envelope=new_envelope(conversation_id=conversation_id, channel=SMS, customer=ref),
                score=5,
                comment=f"thanks for {words}",
                agent_id=maria.id,
            )
        )
        feedback = feedback_pb2.FeedbackGiven(
            envelope=new_envelope(conversation_id=conversation_id, channel=SMS, customer=ref),
            text=f"{words} took too long",
            score=5,
            scale=feedback_pb2.RATING_SCALE_CSAT_5,
            dominant_emotion="frustration",
            intensity=0.4,
            sentiment_score=-0.3,
            intent="delivery_period",
            language="en",
        )
        feedback.envelope.occurred_at.FromDatetime(now)
        await desk.parts.desk(feedback)
    await desk.relay.publish_pending()
    return Story(
        customer.customer_id,
        conversation_id,
        ticket_id,
        (customer.customer_id, conversation_id, ticket_id, phone, name, words, email),
    )


async def test_a_plain_agent_is_refused_every_step(desk: Desk) -> None:
    story = await customer_story(desk, "Zoë Quill", "+447911123456", "parcel 7731")
    maria = await desk.signed_in("maria@example.org")
    async with maria:
        async with maria.get(f"/conversations/{story.ticket_id}") as page:
            assert page.status == 200
            html = await page.text()
            token = csrf_of(html)
            assert "/customers/" not in html  # no way in from the conversation either
        for path in (
            "/customers",
            "/customers?q=Quill",
            f"/customers/{story.customer_id}",
            f"/customers/{story.customer_id}/erase",
        ):
            async with maria.get(path) as refused:
                assert refused.status == 403, path
        for path, form in (
            ("export", {}),
            ("consent", {"marketing_allowed": "on"}),
            ("erase", {"reason": "customer_request", "confirmation": "erase"}),
        ):
            async with maria.post(
                f"/customers/{story.customer_id}/{path}",
                data={"csrf_token": token, **form},
                allow_redirects=False,
            ) as refused:
                assert refused.status == 403, path
                assert refused.content_type == "text/html"
    everything = holding(await every_row(desk.engine), story.secrets)
    assert everything.keys() >= {"tickets", "outgoing_messages", "ratings", "conversations_seen"}
    consent = (
        await desk.context.GetContext(
            context_pb.GetContextRequest(customer_id=story.customer_id), timeout=5
        )
    ).consent
    assert not consent.marketing_allowed
    async with desk.engine.connect() as connection:
        audited = (await connection.execute(select(AuditEntry.action))).scalars().all()
    assert not {a.value for a in AuditAction if a.value.startswith("customer")} & set(audited)


async def test_a_supervisor_finds_exports_changes_consent_and_erases_a_customer(
    desk: Desk,
) -> None:
    story = await customer_story(desk, "Zoë Quill", "+447911123456", "parcel 7731")
    other = await customer_story(desk, "Otto Keep", "+447911123457", "invoice 5512")
    for served in (story, other):  # the business's own note on them: a service tier
        await desk.parts.store.set_tier(served.customer_id, "gold", datetime.now(UTC))
    sue = desk.accounts["sue@example.org"]
    before = holding(await every_row(desk.engine), story.secrets)
    assert before.keys() >= {
        "tickets",
        "ticket_history",
        "outgoing_messages",
        "ratings",
        "outbox",
        "customer_tiers",
        "feedback",
    }
    browser = await desk.signed_in("sue@example.org")
    async with browser:
        async with browser.get(f"/conversations/{story.ticket_id}") as page:
            assert f'href="/customers/{story.customer_id}"' in await page.text()
        for query in ("quill", "07911 123456", "zoë@example.com"):
            async with browser.get("/customers", params={"q": query}) as found:
                html = await found.text()
            assert f'href="/customers/{story.customer_id}"' in html, query
            assert other.customer_id not in html
        async with browser.get("/customers", params={"q": "zz"}) as short:
            assert "3 to 200 characters" in await short.text()

        async with browser.get(f"/customers/{story.customer_id}") as page:
            assert page.status == 200
            html = await page.text()
        token = csrf_of(html)
        assert "1 tickets" in html and "+447911123456" in html

        async with browser.post(
            f"/customers/{story.customer_id}/export", data={}, allow_redirects=False
        ) as forged:
            assert forged.status == 403  # no CSRF token
        async with browser.post(
            f"/customers/{story.customer_id}/export", data={"csrf_token": token}
        ) as download:
            assert download.status == 200
            assert download.content_type == "application/zip"
            disposition = download.headers["Content-Disposition"]
            assert disposition == f'attachment; filename="customer-{story.customer_id}.zip"'
            exported = zipfile.ZipFile(io.BytesIO(await download.read()))
        files = {name: json.loads(exported.read(name)) for name in exported.namelist()}
        assert {entry["name"] for entry in files["manifest.json"]["files"]} == (
            files.keys() - {"manifest.json"}
        )
        assert files["manifest.json"]["exported_by"]["id"] == sue.id
        context_document = files["context.json"]
        assert {t["text"] for t in context_document["turns"]} >= {
            "parcel 7731, I want a person",
            "A member of our team will be with you.",
        }
        assert [s["value"] for s in context_document["customer_slots"]] == ["zoë@example.com"]
        assert [t["id"] for t in files["desk/tickets.json"]] == [story.ticket_id]
        assert files["desk/ratings.json"][0]["comment"] == "thanks for parcel 7731"
        [feedback] = files["desk/feedback.json"]
        assert (feedback["text"], feedback["dominant_emotion"]) == (
            "parcel 7731 took too long",
            "frustration",
        )
        texts = {m["text"] for m in files["desk/outgoing_messages.json"]}
        assert "Sorry Zoë Quill, about parcel 7731" in texts and len(texts) == 2  # and a notice
        assert files["desk/outbox.json"] and files["desk/conversations_seen.json"]
        assert files["desk/ticket_history.json"]
        assert [t["tier"] for t in files["desk/customer_tiers.json"]] == ["gold"]
        assert "invoice 5512" not in json.dumps(files, ensure_ascii=False)
        sources = {d["source"] for d in files["decisions.json"]}
        assert sources == {"bot turn", "handoff to a person"}

        async with browser.post(
            f"/customers/{story.customer_id}/consent",
            data={"csrf_token": token, "marketing_allowed": "on", "sms_opted_out": "on"},
            allow_redirects=False,
        ) as changed:
            assert changed.status == 303
        consent = (
            await desk.context.GetContext(
                context_pb.GetContextRequest(customer_id=story.customer_id), timeout=5
            )
        ).consent
        assert consent.marketing_allowed and consent.sms_opted_out
        assert not consent.emotion_analysis_allowed  # its box was left unticked

        async with browser.get(f"/customers/{story.customer_id}/erase") as confirm:
            assert "Erase Zoë Quill?" in await confirm.text()
        async with browser.post(
            f"/customers/{story.customer_id}/erase",
            data={"csrf_token": token, "reason": "customer_request", "confirmation": "yes"},
        ) as unconfirmed:
            assert unconfirmed.status == 400
        assert holding(await every_row(desk.engine), story.secrets) == before
        async with browser.post(
            f"/customers/{story.customer_id}/erase",
            data={"csrf_token": token, "reason": "customer_request", "confirmation": "erase"},
            allow_redirects=False,
        ) as erased:
            assert erased.status == 303
            assert erased.headers["Location"] == "/customers?erased=1"
        async with browser.get(f"/customers/{story.customer_id}") as gone:
            assert gone.status == 404
        async with browser.get(f"/conversations/{story.ticket_id}") as gone:
            assert gone.status == 404

    assert holding(await every_row(desk.engine), story.secrets) == {}
    assert holding(await every_row(desk.context_engine), story.secrets) == {}
    # Nothing of anyone else went with them.
    assert holding(await every_row(desk.engine), other.secrets).keys() >= {
        "tickets",
        "ticket_history",
        "customer_tiers",
        "outgoing_messages",
        "ratings",
        "conversations_seen",
        "outbox",
    }
    assert holding(await every_row(desk.context_engine), other.secrets).keys() >= {
        "customers",
        "turns",
        "identities",
    }

    async with desk.engine.connect() as connection:
        trail = (
            await connection.execute(
                select(AuditEntry).where(AuditEntry.actor_id == sue.id).order_by(AuditEntry.id)
            )
        ).all()
    assert [(e.action, e.agent_id) for e in trail] == [
        (AuditAction.CUSTOMER_EXPORTED.value, sue.id),
        (AuditAction.CONSENT_CHANGED.value, sue.id),
        (AuditAction.CUSTOMER_ERASED.value, sue.id),
    ]
    reference = customer_reference(story.customer_id)
    assert all(e.changes["customer"] == [None, reference] for e in trail)
    assert trail[1].changes["marketing_allowed"] == [False, True]
    assert trail[1].changes["sms_opted_out"] == [False, True]
    assert trail[2].changes["tickets"] == [1, 0]
    async with desk.context_engine.connect() as connection:
        logged = (
            await connection.execute(
                select(AuditRow.action, AuditRow.actor).where(
                    AuditRow.action.in_(["export", "consent", "erase"])
                )
            )
        ).all()
    assert sorted(logged) == sorted(
        (action, f"agent_desk:{sue.id}") for action in ("export", "consent", "erase")
    )


async def test_retention_strips_emotion_data_then_removes_old_rows(desk: Desk) -> None:
    desk.clock.offset = -timedelta(days=400)
    ancient = await customer_story(desk, "Ann Cient", "+447911123458", "order 1001")
    desk.clock.offset = -timedelta(days=40)
    old = await customer_story(desk, "Olga Old", "+447911123459", "order 2002")
    still_open = await customer_story(desk, "Owen Open", "+447911123461", "order 4004", False)
    desk.clock.offset = timedelta()
    recent = await customer_story(desk, "Rita Recent", "+447911123460", "order 3003")
    retention = retention_of(desk.settings, desk.engine)

    report = await retention.apply(desk.clock())

    assert (report.tickets_removed, report.messages_removed) == (1, 2)  # a notice, a reply
    assert (report.ratings_removed, report.conversations_removed) == (1, 1)
    assert report.emotion_removed == 2
    assert report.feedback_removed == 1  # the ancient customer's words
    # Only the outbox's events are left: its relay forgets sent ones after a week itself.
    assert holding(await every_row(desk.engine), ancient.secrets).keys() == {"outbox"}
    for kept, stripped in ((recent, False), (old, True), (still_open, True)):
        ticket = await desk.parts.store.ticket(kept.ticket_id)
        packet = handoff_pb2.HandoffRequested.FromString(ticket.packet)
        assert bool(packet.trajectory) is not stripped
        assert bool(packet.summary) is not stripped and bool(packet.reasons) is not stripped
        assert packet.bot_replies  # what the bot said goes with the messages, not sooner
        assert ticket.reason_codes == ["human_requested"]
    assert (await desk.parts.store.ticket(recent.ticket_id)).sentiment_first is not None
    assert (await desk.parts.store.ticket(old.ticket_id)).sentiment_first is None
    assert holding(await every_row(desk.engine), old.secrets).keys() >= {
        "tickets",
        "ratings",
        "feedback",
    }
    # Feedback keeps its words as long as messages, its emotion reading as long as emotions.
    async with desk.engine.connect() as connection:
        rows = await connection.execute(
            select(Feedback.text, Feedback.dominant_emotion, Feedback.intensity)
        )
        readings = {text: (emotion, intensity) for text, emotion, intensity in rows}
    assert readings["order 3003 took too long"] == ("frustration", pytest.approx(0.4))
    assert readings["order 2002 took too long"] == ("", None)

    # Later runs read only the tickets handed off or changed since the run before: the
    # open one, refreshed by a new handoff meanwhile, loses its emotion data again.
    since = desk.clock()
    refreshed = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=still_open.conversation_id,
            channel=SMS,
            customer=envelope_pb2.CustomerRef(customer_id=still_open.customer_id),
        ),
        trend="worsening",
        trajectory=[handoff_pb2.EmotionReading(dominant_emotion="sadness")],
    )
    await desk.parts.store.record_handoff(refreshed, "support", since + timedelta(seconds=1))
    ticket = await desk.parts.store.ticket(still_open.ticket_id)
    assert handoff_pb2.HandoffRequested.FromString(ticket.packet).trend == "worsening"

    later = await retention.apply(since + timedelta(minutes=1), since)

    assert later.emotion_removed == 1 and later.tickets_removed == 0
    ticket = await desk.parts.store.ticket(still_open.ticket_id)
    assert not handoff_pb2.HandoffRequested.FromString(ticket.packet).trajectory


async def test_the_command_line_applies_the_retention_now(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    desk.clock.offset = -timedelta(days=400)
    ancient = await customer_story(desk, "Ann Cient", "+447911123458", "order 1001")
    desk.clock.offset = timedelta()
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RAPPORT_AGENT_DESK_DATABASE_URL", desk.settings.database_url)
    output = io.StringIO()

    # The command runs its own event loop, as from a shell.
    code = await asyncio.to_thread(cli.main, ["apply-retention"], io.StringIO(), output)

    assert code == 0
    assert "tickets_removed=1" in output.getvalue()
    assert holding(await every_row(desk.engine), ancient.secrets).keys() == {"outbox"}
