"""The agent desk's web console over HTTP, on a real context service and a real database:
sign-in, CSRF, roles and teams, the conversation view, actions and the live stream.

Kafka is replaced by a recording publisher here, fed by the desk's own outbox relay
(``test_agent_desk_outbox.py`` runs it against a real broker, the end-to-end test runs
everything).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from google.protobuf.message import Message
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import agent_pb2, feedback_pb2, handoff_pb2, messages_pb2

from services.agent_desk.__main__ import build
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine as desk_engine
from services.agent_desk.database import migrate as desk_migrate
from services.agent_desk.desk import Clock, action_event_id, utc_now
from services.agent_desk.http_app import DeskParts, create_app
from services.agent_desk.models import Role, TicketStatus
from services.agent_desk.outbox import OutboxRelay
from services.agent_desk.security import hash_password
from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine as context_engine
from services.context.database import migrate as context_migrate
from shared.conversations import thread_conversation_id
from shared.errors import InvalidInputError
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from shared.kafka.topics import AGENT_ACTIONS
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
PASSWORD = "a long enough password"
EVIL = "<script>alert('x')</script>"


@dataclass
class RecordingPublisher:
    events: list[tuple[str, Message]] = field(default_factory=list)

    async def publish(self, topic: str, event: Message) -> None:
        self.events.append((topic, event))

    def actions(self) -> list[agent_pb2.AgentActionTaken]:
        return [e for t, e in self.events if t == AGENT_ACTIONS]  # type: ignore[misc]


@dataclass
class Desk:
    parts: DeskParts
    server: TestServer
    publisher: RecordingPublisher
    relay: OutboxRelay
    context: context_grpc.ContextServiceStub
    accounts: dict[str, str]

    async def actions(self) -> list[agent_pb2.AgentActionTaken]:
        """The agent actions published once the outbox is relayed."""
        await self.relay.publish_pending()
        return self.publisher.actions()

    def browser(self, source: str = "127.0.0.1", url: str = "") -> aiohttp.ClientSession:
        """A browser on its own loopback address (all of 127.0.0.0/8 is local on Linux),
        talking to the desk or to ``url`` (a proxy in front of it)."""
        return aiohttp.ClientSession(
            base_url=url or str(self.server.make_url("/")),
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(local_addr=(source, 0)),
        )


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path) as running:
        yield running


@asynccontextmanager
async def running_desk(
    tmp_path: Path, clock: Clock = utc_now, **settings: Any
) -> AsyncIterator[Desk]:
    """A desk on a real context service and database, its accounts created; ``settings``
    and ``clock`` as a test needs them."""
    context_db = context_engine(f"sqlite:///{tmp_path / 'context.sqlite3'}")
    await context_migrate(context_db)
    context_parts = build_context(
        ContextSettings(metrics_port=0, grpc_port=0, database_url="sqlite://"), context_db
    )
    desk_settings = AgentDeskSettings(
        metrics_port=0,
        http_port=0,
        database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
        **settings,
    )
    engine = desk_engine(desk_settings.database_url)
    await desk_migrate(engine)
    publisher = RecordingPublisher()
    try:
        async with (
            running(
                lambda s: context_grpc.add_ContextServiceServicer_to_server(
                    context_parts.servicer, s
                ),
                CONTEXT,
            ) as address,
            grpc.aio.insecure_channel(address) as channel,
        ):
            parts, relay = build(desk_settings, engine, publisher, ContextClient(channel, 5), clock)
            accounts = {}
            for email, role, team in [
                ("admin@example.org", Role.ADMIN, "support"),
                ("maria@example.org", Role.AGENT, "support"),
                ("bob@example.org", Role.AGENT, "support"),
                ("sue@example.org", Role.SUPERVISOR, "support"),
                ("billie@example.org", Role.AGENT, "billing"),
            ]:
                agent = await parts.store.create_agent(
                    email=email,
                    name=email.split("@")[0].title(),
                    password_hash=hash_password(PASSWORD, 12),
                    role=role,
                    team=team,
                    languages=["en"],
                    skills=[],
                    now=datetime.now(UTC),
                )
                accounts[email] = agent.id
            server = TestServer(create_app(parts), host="127.0.0.1")
            await server.start_server()
            try:
                yield Desk(
                    parts,
                    server,
                    publisher,
                    relay,
                    context_grpc.ContextServiceStub(channel),
                    accounts,
                )
            finally:
                await server.close()
    finally:
        await context_parts.store.close()
        await context_db.dispose()
        await engine.dispose()


def hidden_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str
    text: str


async def try_login(
    browser: aiohttp.ClientSession,
    email: str,
    password: str = PASSWORD,
    headers: dict[str, str] | None = None,
) -> Answer:
    async with browser.get("/login", headers=headers) as page:
        token = hidden_token(await page.text())
    async with browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
        allow_redirects=False,
    ) as response:
        return Answer(
            response.status, response.headers.get("Retry-After", ""), await response.text()
        )


async def sign_in(browser: aiohttp.ClientSession, email: str, password: str = PASSWORD) -> int:
    return (await try_login(browser, email, password)).status


async def page_token(browser: aiohttp.ClientSession, path: str = "/") -> str:
    async with browser.get(path) as page:
        assert page.status == 200
        return hidden_token(await page.text())


async def seeded_handoff(
    desk: Desk,
    *,
    intent: str = "",
    ago: timedelta = timedelta(),
    language: str = "en",
    skills: tuple[str, ...] = ("language:en",),
    trajectory: Sequence[handoff_pb2.EmotionReading] = (),
) -> handoff_pb2.HandoffRequested:
    """A customer with history in the context service, handed off to the desk ``ago``
    (writing ``language``, needing ``skills``; feeling as ``trajectory`` says, else angry
    then calm at no intensity)."""
    visitor = f"visitor-{uuid.uuid4().hex[:8]}"
    conversation_id = thread_conversation_id("web", visitor)
    customer = (
        await desk.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(
                channel=envelope_pb2.CHANNEL_WEB, address=visitor, display_name=EVIL
            ),
            timeout=5,
        )
    ).customer
    await desk.context.UpdateConsent(
        context_pb.UpdateConsentRequest(customer_id=customer.customer_id, sms_opted_out=True),
        timeout=5,
    )
    now = datetime.now(UTC)
    for offset, role, text in [
        (2, context_pb.ROLE_CUSTOMER, f"{EVIL} I want a person"),
        (1, context_pb.ROLE_BOT, "A member of our team will be with you."),
    ]:
        turn = context_pb.Turn(
            event_id=str(uuid.uuid4()),
            conversation_id=conversation_id,
            role=role,
            text=text,
            channel=envelope_pb2.CHANNEL_WEB,
        )
        turn.occurred_at.FromDatetime(now - timedelta(seconds=offset))
        if role == context_pb.ROLE_BOT:
            turn.decision.CopyFrom(
                context_pb.DecisionRecord(
                    action="escalate",
                    reasons=[context_pb.DecisionReasonRecord(code="human_requested")],
                    priority=0.7,
                )
            )
        await desk.context.AppendTurn(
            context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
        )
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer.customer_id,
                channel=envelope_pb2.CHANNEL_WEB,
                address=visitor,
                display_name=EVIL,
            ),
        ),
        reasons=[
            handoff_pb2.DecisionReason(
                code="human_requested",
                explanation="The customer asked to talk to a person.",
                confidence=0.93,
            )
        ],
        priority=0.7,
        language=language,
        required_skills=skills,
        trajectory=trajectory
        or [
            handoff_pb2.EmotionReading(dominant_emotion="anger", sentiment_score=-0.6),
            handoff_pb2.EmotionReading(dominant_emotion="neutral", sentiment_score=0.1),
        ],
        trend="improving",
        consent=handoff_pb2.ConsentFlags(emotion_analysis_allowed=True, sms_opted_out=True),
        intent=intent,
    )
    packet.envelope.occurred_at.FromDatetime(now - ago)
    packet.reply_window_closes_at.FromDatetime(now + timedelta(hours=23))
    await desk.parts.desk(packet)
    return packet


async def test_sign_in_sets_a_strict_http_only_session_cookie(desk: Desk) -> None:
    async with desk.browser() as browser:
        async with browser.get("/", allow_redirects=False) as anonymous:
            assert (anonymous.status, anonymous.headers["Location"]) == (303, "/login")
        assert await sign_in(browser, "maria@example.org", "wrong password!!") == 401
        async with browser.get("/login") as page:
            token = hidden_token(await page.text())
        async with browser.get("/favicon.ico", allow_redirects=False) as icon:  # as browsers do
            assert (icon.status, icon.content_type) == (200, "image/svg+xml")
        async with browser.post(
            "/login",
            data={"email": "maria@example.org", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
            cookie = next(
                v for v in response.headers.getall("Set-Cookie") if "rapport_desk_session" in v
            )
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        async with browser.get("/") as queue:
            assert queue.status == 200
            assert "Content-Security-Policy" in queue.headers
            assert "Maria" in await queue.text()


async def test_a_login_without_its_csrf_token_is_refused(desk: Desk) -> None:
    async with (
        desk.browser() as browser,
        browser.post(
            "/login", data={"email": "maria@example.org", "password": PASSWORD}
        ) as response,
    ):
        assert response.status == 403


async def test_a_state_changing_request_without_the_csrf_token_is_refused(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    async with desk.browser() as browser:
        assert await sign_in(browser, "maria@example.org") == 303
        token = await page_token(browser)
        for data, headers in [
            ({}, {}),
            ({"csrf_token": "forged"}, {}),
            ({"csrf_token": token}, {"Origin": "https://evil.example"}),
        ]:
            async with browser.post(
                f"/conversations/{ticket_id}/claim", data=data, headers=headers
            ) as refused:
                assert refused.status == 403
        assert (await desk.parts.store.ticket(ticket_id)).status == TicketStatus.WAITING
        assert await desk.actions() == []

        async with browser.post(
            f"/conversations/{ticket_id}/claim",
            data={"csrf_token": token, "action_id": new_action()},
            allow_redirects=False,
        ) as claimed:
            assert claimed.status == 303
    [claim] = await desk.actions()
    assert claim.kind == agent_pb2.AGENT_ACTION_KIND_CLAIMED
    assert claim.agent_id == desk.accounts["maria@example.org"] and claim.agent_name == "Maria"
    assert claim.envelope.customer.customer_id == packet.envelope.customer.customer_id


WRONG = "wrong password!!"


async def guessed(browser: aiohttp.ClientSession, email: str, forged: bool = False) -> list[int]:
    """The statuses of 50 wrong passwords (each naming another client when ``forged``)."""
    statuses = []
    for n in range(50):
        headers = {"X-Forwarded-For": f"198.51.100.{n}"} if forged else None
        statuses.append((await try_login(browser, email, WRONG, headers)).status)
    return statuses


def throttled(statuses: list[int]) -> bool:
    """5 wrong passwords checked, then refused unchecked (a slow run may get one more
    checked each time its growing delay has passed)."""
    return statuses[:6] == [401] * 5 + [429] and statuses.count(401) < 10


async def test_failed_logins_are_delayed_with_a_retry_after(desk: Desk) -> None:
    async with desk.browser() as browser:
        wrong = [await try_login(browser, "bob@example.org", WRONG) for _ in range(6)]
        assert [answer.status for answer in wrong] == [401] * 5 + [429]
        refused = await try_login(browser, "bob@example.org")  # even the right password
        assert refused.status == 429 and refused.retry_after in ("1", "2")
        assert f"Try again in {refused.retry_after} seconds." in refused.text
        assert "Too many failed attempts from here." in refused.text


async def test_wrong_logins_from_one_address_lock_nobody_else_out(desk: Desk) -> None:
    maria_id = desk.accounts["maria@example.org"]
    async with desk.browser("127.0.0.2") as attacker:
        assert throttled(await guessed(attacker, "maria@example.org"))
        assert await sign_in(attacker, "maria@example.org") == 429
        for email in ("bob@example.org", "maria@example.org", "admin@example.org"):
            async with desk.browser("127.0.0.3") as colleague:
                assert await sign_in(colleague, email) == 303, email
        async with desk.browser("127.0.0.3") as admin:
            assert await sign_in(admin, "admin@example.org") == 303
            async with admin.get(f"/admin/users/{maria_id}") as page:
                user_page = await page.text()
            assert f'action="/admin/users/{maria_id}/unlock"' in user_page
            await post(admin, f"/admin/users/{maria_id}/unlock", hidden_token(user_page))
        assert await sign_in(attacker, "maria@example.org") == 303  # from that address too
    [unlock, _created] = await desk.parts.store.audit_trail(maria_id)
    assert (unlock.action, unlock.actor_id) == (
        "sign-ins unlocked",
        desk.accounts["admin@example.org"],
    )


@asynccontextmanager
async def reverse_proxy(target: str, host: str) -> AsyncIterator[str]:
    """A proxy on ``host`` passing every request to ``target`` and appending whom it
    heard from to X-Forwarded-For, as nginx's ``proxy_add_x_forwarded_for`` does."""
    hop_by_hop = {"host", "content-length", "transfer-encoding", "connection"}

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop_by_hop}
        prior = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {request.remote}" if prior else str(request.remote)
        async with upstream.request(
            request.method,
            target + request.path_qs,
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer:
            response = web.Response(status=answer.status, body=await answer.read())
            for name, value in answer.headers.items():
                if name.lower() not in hop_by_hop | {"content-encoding"}:
                    response.headers.add(name, value)
            return response

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", forward)
    server = TestServer(app, host=host)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(host, 0)),
        cookie_jar=aiohttp.DummyCookieJar(),  # one connection pool for every client
    ) as upstream:
        await server.start_server()
        try:
            yield str(server.make_url("/"))
        finally:
            await server.close()


async def test_behind_a_trusted_proxy_each_client_is_throttled_on_its_own(
    tmp_path: Path,
) -> None:
    async with (
        running_desk(tmp_path, trusted_proxies=("127.0.0.4/32",)) as desk,
        reverse_proxy(str(desk.server.make_url("")).rstrip("/"), "127.0.0.4") as proxy,
        desk.browser("127.0.0.5", proxy) as attacker,
        desk.browser("127.0.0.6", proxy) as colleague,
        desk.browser("127.0.0.7") as forger,
    ):
        # The attacker's own X-Forwarded-For is kept on the left, and not believed.
        assert throttled(await guessed(attacker, "maria@example.org", forged=True))
        assert await sign_in(attacker, "maria@example.org") == 429
        assert await sign_in(colleague, "maria@example.org") == 303  # same account, proxy
        async with desk.browser("127.0.0.6", proxy) as bob:
            assert await sign_in(bob, "bob@example.org") == 303
        # Straight to the desk, a made-up X-Forwarded-For changes nothing.
        assert throttled(await guessed(forger, "bob@example.org", forged=True))


async def test_an_agent_gets_403_on_admin_pages_and_another_teams_conversations(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    async with desk.browser() as agent, desk.browser() as other_team, desk.browser() as admin:
        assert await sign_in(agent, "maria@example.org") == 303
        async with agent.get("/admin/users") as response:
            assert response.status == 403
        token = await page_token(agent)
        async with agent.post(
            "/admin/users",
            data={"csrf_token": token, "email": "x@example.org", "name": "X", "role": "admin"},
        ) as response:
            assert response.status == 403
        assert await desk.parts.store.agent_by_email("x@example.org") is None

        assert await sign_in(other_team, "billie@example.org") == 303
        async with other_team.get(f"/conversations/{packet.envelope.event_id}") as response:
            assert response.status == 403
        async with other_team.get("/") as response:
            assert packet.envelope.event_id not in await response.text()

        assert await sign_in(admin, "admin@example.org") == 303
        token = await page_token(admin, "/admin/users")
        async with admin.post(
            "/admin/users",
            data={
                "csrf_token": token,
                "email": "new@example.org",
                "name": "Newt",
                "password": PASSWORD,
                "role": "supervisor",
                "team": "billing",
                "languages": "en, fr",
            },
        ) as response:
            assert response.status == 200
            assert "new@example.org" in await response.text()
        created = await desk.parts.store.agent_by_email("new@example.org")
        assert created is not None and created.role == "supervisor"
        assert created.languages == ["en", "fr"]


async def test_the_conversation_view_shows_history_reasons_and_context_escaped(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    async with desk.browser() as browser:
        assert await sign_in(browser, "maria@example.org") == 303
        async with browser.get("/") as queue:
            listing = await queue.text()
        assert f'data-ticket="{ticket_id}"' in listing
        assert "The customer asked to talk to a person." in listing
        # The name (escaped), the channel, the last message (escaped), the wait.
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</span>" in listing
        assert 'aria-label="Web chat"' in listing
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; I want a person</q>" in listing
        assert "waiting under a minute" in listing
        assert "<script>alert" not in listing
        async with browser.get(f"/conversations/{ticket_id}") as response:
            html = await response.text()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; I want a person" in html
    assert "A member of our team will be with you." in html
    assert "Why the bot said this: escalate" in html
    assert 'The customer asked to talk to a person. <span class="muted">(93% sure)' in html
    assert '<svg class="chart"' in html and "<polyline" in html
    assert "<li>SMS:" not in html  # opted out, but a web visitor has no number to text
    assert "Closes at" in html
    assert 'id="claim-form"' in html


async def said_in_anger(
    desk: Desk,
    customer_id: str,
    conversation_id: str,
    channel: envelope_pb2.Channel,
    text: str,
) -> None:
    """The customer writes ``text`` now, read as anger, as the orchestrator stores it."""
    turn = context_pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=conversation_id,
        role=context_pb.ROLE_CUSTOMER,
        text=text,
        channel=channel,
        emotion=context_pb.EmotionSnapshot(
            dominant_emotion="anger", intensity=0.9, sentiment_score=-0.8
        ),
    )
    turn.occurred_at.GetCurrentTime()
    await desk.context.AppendTurn(
        context_pb.AppendTurnRequest(customer_id=customer_id, turn=turn), timeout=5
    )


async def test_a_nameless_sms_customer_is_shown_by_number_with_one_trend_on_both_pages(
    desk: Desk,
) -> None:
    phone = "+14155550123"
    conversation_id = thread_conversation_id("sms", phone)
    customer = (
        await desk.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=envelope_pb2.CHANNEL_SMS, address=phone),
            timeout=5,
        )
    ).customer
    await said_in_anger(
        desk, customer.customer_id, conversation_id, envelope_pb2.CHANNEL_SMS, "Nobody answers me"
    )
    ref = envelope_pb2.CustomerRef(
        customer_id=customer.customer_id, channel=envelope_pb2.CHANNEL_SMS, address=phone
    )
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=conversation_id, channel=envelope_pb2.CHANNEL_SMS, customer=ref
        ),
        priority=0.5,
        language="en",
        identities=[ref],
        # What the bot saw before the customer's latest reading: the context is fresher.
        trajectory=[handoff_pb2.EmotionReading(dominant_emotion="joy", sentiment_score=0.5)],
        trend="worsening",
    )
    await desk.parts.desk(packet)
    async with desk.browser() as browser:
        assert await sign_in(browser, "maria@example.org") == 303
        async with browser.get("/") as queue:
            listing = await queue.text()
        async with browser.get(f"/conversations/{packet.envelope.event_id}") as response:
            html = await response.text()
    assert f"{phone}</span>" in listing and "Customer<" not in listing
    assert 'aria-label="SMS"' in listing and "Nobody answers me</q>" in listing
    assert "Trend: stable" in listing and "Trend: stable" in html
    assert "worsening" not in listing + html
    assert "anger 90%" in html
    assert "SMS: may be texted" in html


async def test_claim_reply_and_resolve_publish_the_agents_actions(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    async with desk.browser() as maria, desk.browser() as bob:
        assert await sign_in(maria, "maria@example.org") == 303
        assert await sign_in(bob, "bob@example.org") == 303
        maria_token, bob_token = await page_token(maria), await page_token(bob)

        async with maria.post(
            f"/conversations/{ticket_id}/claim",
            data={"csrf_token": maria_token, "action_id": new_action()},
        ) as response:
            assert response.status == 200 and 'id="reply-form"' in await response.text()
        async with bob.post(
            f"/conversations/{ticket_id}/reply",
            data={"csrf_token": bob_token, "action_id": new_action(), "text": "Hi"},
        ) as response:
            assert response.status == 403  # Maria's now: Bob cannot even see it
        async with maria.post(
            f"/conversations/{ticket_id}/claim",
            data={"csrf_token": maria_token, "action_id": new_action()},
        ) as response:
            assert response.status == 409  # already claimed
        async with maria.post(
            f"/conversations/{ticket_id}/reply",
            data={
                "csrf_token": maria_token,
                "action_id": new_action(),
                "text": "  Hi, I'm Maria.  ",
            },
        ) as response:
            assert response.status == 200
        async with maria.post(
            f"/conversations/{ticket_id}/resolve",
            data={"csrf_token": maria_token, "action_id": new_action()},
        ) as response:
            assert response.status == 200

    kinds = [(a.kind, a.text, a.agent_name) for a in await desk.actions()]
    assert kinds == [
        (agent_pb2.AGENT_ACTION_KIND_CLAIMED, "", "Maria"),
        (agent_pb2.AGENT_ACTION_KIND_REPLIED, "Hi, I'm Maria.", "Maria"),
        (agent_pb2.AGENT_ACTION_KIND_RESOLVED, "", "Maria"),
    ]
    ticket = await desk.parts.store.ticket(ticket_id)
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.claimed_at and ticket.first_reply_at and ticket.resolved_at
    assert ticket.claimed_at <= ticket.first_reply_at <= ticket.resolved_at
    assert ticket.assignee_id == desk.accounts["maria@example.org"]


def hidden_action(html: str) -> str:
    match = re.search(r'name="action_id" value="([^"]+)"', html)
    assert match, "no action id on the page"
    return match.group(1)


async def test_a_double_submitted_or_retried_action_is_done_and_published_once(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    path = f"/conversations/{ticket_id}"
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get(path) as page:
            html = await page.text()
        claim = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
        async with maria.post(f"{path}/claim", data={**claim, "action_id": "x"}) as stale:
            assert stale.status == 400 and "reload the page" in await stale.text()
        assert (await desk.parts.store.ticket(ticket_id)).status == TicketStatus.WAITING
        for _ in range(2):  # the second is the browser retrying: done already, not a conflict
            async with maria.post(f"{path}/claim", data=claim) as claimed:
                assert claimed.status == 200

        async with maria.get(path) as page:
            html = await page.text()
        reply = {
            "csrf_token": hidden_token(html),
            "action_id": hidden_action(html),
            "text": "Hi, I'm Maria.",
        }

        async def send() -> int:
            async with maria.post(f"{path}/reply", data=reply) as response:
                return response.status

        assert await asyncio.gather(send(), send()) == [200, 200]  # a double click
        assert await send() == 200  # a retried POST
        await post(maria, f"{path}/reply", reply["csrf_token"], text="Anything else?")  # new form
    actions = await desk.actions()
    assert [(a.kind, a.text) for a in actions] == [
        (agent_pb2.AGENT_ACTION_KIND_CLAIMED, ""),
        (agent_pb2.AGENT_ACTION_KIND_REPLIED, "Hi, I'm Maria."),
        (agent_pb2.AGENT_ACTION_KIND_REPLIED, "Anything else?"),
    ]
    assert actions[0].envelope.event_id == action_event_id(ticket_id, "claimed", claim["action_id"])
    assert actions[1].envelope.event_id == action_event_id(
        ticket_id, "replied:Hi, I'm Maria.", reply["action_id"]
    )
    assert await desk.relay.publish_pending() == 0  # nothing left to publish twice


async def test_a_supervisor_assigns_and_the_holder_transfers(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    maria_id, bob_id = desk.accounts["maria@example.org"], desk.accounts["bob@example.org"]
    async with desk.browser() as sue, desk.browser() as bob, desk.browser() as maria:
        for browser, email in [(sue, "sue"), (bob, "bob"), (maria, "maria")]:
            assert await sign_in(browser, f"{email}@example.org") == 303
        sue_token, bob_token, maria_token = [await page_token(b) for b in (sue, bob, maria)]

        async with maria.post(
            f"/conversations/{ticket_id}/assign",
            data={"csrf_token": maria_token, "action_id": new_action(), "agent_id": bob_id},
        ) as response:
            assert response.status == 403  # agents do not assign waiting tickets
        async with sue.post(
            f"/conversations/{ticket_id}/assign",
            data={"csrf_token": sue_token, "action_id": new_action(), "agent_id": bob_id},
        ) as response:
            assert response.status == 200
        async with bob.post(
            f"/conversations/{ticket_id}/assign",
            data={"csrf_token": bob_token, "action_id": new_action(), "agent_id": maria_id},
        ) as response:
            assert response.url.path == "/"  # transferred: back to Bob's queue
        async with bob.get(f"/conversations/{ticket_id}") as response:
            assert response.status == 403  # no longer Bob's to see
        async with maria.post(
            f"/conversations/{ticket_id}/reply",
            data={"csrf_token": maria_token, "action_id": new_action(), "text": "Hello"},
        ) as response:
            assert response.status == 200

    actions = [(a.kind, a.agent_id) for a in await desk.actions()]
    assert actions == [
        (agent_pb2.AGENT_ACTION_KIND_CLAIMED, bob_id),
        (agent_pb2.AGENT_ACTION_KIND_CLAIMED, maria_id),
        (agent_pb2.AGENT_ACTION_KIND_REPLIED, maria_id),
    ]


async def test_the_event_stream_announces_a_new_handoff(desk: Desk) -> None:
    async with desk.browser() as browser:
        assert await sign_in(browser, "maria@example.org") == 303
        async with browser.get("/events") as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            handed_off = asyncio.create_task(seeded_handoff(desk))
            received = b""
            while b"event: ticket" not in received:
                received += await asyncio.wait_for(stream.content.readany(), timeout=10)
            packet = await handed_off
    assert packet.envelope.event_id.encode() in received


def customer_message(
    packet: handoff_pb2.HandoffRequested, text: str, ago: timedelta = timedelta()
) -> messages_pb2.MessageReceived:
    """What the web adapter publishes when the handed-off customer writes again."""
    customer = packet.envelope.customer
    message = messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=packet.envelope.conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(
                channel=envelope_pb2.CHANNEL_WEB, address=customer.address
            ),
        ),
        text=text,
    )
    message.envelope.occurred_at.FromDatetime(datetime.now(UTC) - ago)
    return message


def rating(packet: handoff_pb2.HandoffRequested, score: int, agent_id: str) -> Message:
    return feedback_pb2.SatisfactionRated(
        envelope=new_envelope(
            conversation_id=packet.envelope.conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            customer=packet.envelope.customer,
        ),
        score=score,
        comment="quick and kind",
        agent_id=agent_id,
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def new_action() -> str:
    """The action id a freshly rendered conversation page gives its forms."""
    return str(uuid.uuid4())


async def post(browser: aiohttp.ClientSession, path: str, token: str, **form: str) -> str:
    fields = {"csrf_token": token, "action_id": new_action(), **form}
    async with browser.post(path, data=fields) as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def test_suggested_replies_speak_to_the_latest_feeling_and_intent(desk: Desk) -> None:
    packet = await seeded_handoff(desk, intent="cancel_order")
    ticket_id = packet.envelope.event_id
    await said_in_anger(
        desk,
        packet.envelope.customer.customer_id,
        packet.envelope.conversation_id,
        envelope_pb2.CHANNEL_WEB,
        "This is ridiculous!",
    )
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        token = await page_token(maria)
        page = await post(maria, f"/conversations/{ticket_id}/claim", token)
        drafts = re.findall(r"<button[^>]*data-draft>([^<]+)</button>", page)
        assert len(drafts) == 3
        for draft in drafts:
            assert draft.startswith("Hi, I&#39;m Maria from the team")
            assert "You have every reason to be upset" in draft  # anger, high tier
        assert "I can help you cancel: what is the order number?" in drafts[0]
        await post(maria, f"/conversations/{ticket_id}/reply", token, text="Hello")
        async with maria.get(f"/conversations/{ticket_id}") as after_first_reply:
            later = re.findall(r"data-draft>([^<]+)<", await after_first_reply.text())
    assert later and not any("from the team" in draft for draft in later)  # introduced once


async def test_a_waiting_customer_who_writes_is_told_their_place_in_line_now_and_then(
    desk: Desk,
) -> None:
    await seeded_handoff(desk, ago=timedelta(minutes=20))  # ahead in the queue
    packet = await seeded_handoff(desk, ago=timedelta(minutes=10))
    conversation_id = packet.envelope.conversation_id
    outbound = "rapport.outbound.web.v1"
    before = sample("rapport_desk_holding_messages_total", channel="web")

    await desk.parts.desk(customer_message(packet, "Hello? Anyone?"))
    await desk.parts.desk(customer_message(packet, "Still here."))  # answered after the gap
    await desk.parts.desk(customer_message(packet, "old, replayed", ago=timedelta(hours=1)))

    await desk.relay.publish_pending()
    sent = [e for t, e in desk.publisher.events if t == outbound]
    assert len(sent) == 1
    [message] = sent
    assert isinstance(message, messages_pb2.SendMessage)
    assert message.text == (
        "Thank you for waiting. You are number 2 in line; "
        "a member of our team will reply here as soon as they can. "
        "I can't say yet how long the wait will be."
    )
    assert message.sender == messages_pb2.SENDER_BOT
    assert message.envelope.customer.customer_id == packet.envelope.customer.customer_id
    turns = (
        await desk.context.ListTurns(
            context_pb.ListTurnsRequest(conversation_id=conversation_id), timeout=5
        )
    ).turns
    stored = [t for t in turns if t.event_id == message.envelope.event_id]
    assert [(t.role, t.text) for t in stored] == [(context_pb.ROLE_BOT, message.text)]
    assert sample("rapport_desk_holding_messages_total", channel="web") == before + 1


async def test_a_rating_is_recorded_once_against_the_ticket_agent_and_channel(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    maria_id = desk.accounts["maria@example.org"]
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        token = await page_token(maria)
        await post(maria, f"/conversations/{ticket_id}/claim", token)
        await post(maria, f"/conversations/{ticket_id}/resolve", token)
    before = sample("rapport_desk_csat_ratings_total", channel="web", score="4")
    rated = rating(packet, 4, maria_id)
    await desk.parts.desk(rated)
    await desk.parts.desk(rated)  # redelivered
    _tickets, ratings, _seen = await desk.parts.store.kpi_records(datetime.now(UTC) - timedelta(1))
    mine = [r for r in ratings if r.event_id == rated.envelope.event_id]
    assert [(r.ticket_id, r.agent_id, r.channel, r.score, r.comment) for r in mine] == [
        (ticket_id, maria_id, envelope_pb2.CHANNEL_WEB, 4, "quick and kind")
    ]
    assert sample("rapport_desk_csat_ratings_total", channel="web", score="4") == before + 1
    bad = rating(packet, 9, maria_id)
    with pytest.raises(InvalidInputError):
        await desk.parts.desk(bad)


async def test_the_dashboard_shows_the_kpis_to_supervisors_only(desk: Desk) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    await desk.parts.desk(customer_message(packet, "Anyone?"))  # a conversation seen...
    other = customer_message(packet, "Hi")
    other.envelope.conversation_id = f"web:{uuid.uuid4()}"  # ...and one the bot kept
    await desk.parts.desk(other)
    async with desk.browser() as maria, desk.browser() as sue:
        assert await sign_in(maria, "maria@example.org") == 303
        assert await sign_in(sue, "sue@example.org") == 303
        token = await page_token(maria)
        await post(maria, f"/conversations/{ticket_id}/claim", token)
        await post(maria, f"/conversations/{ticket_id}/resolve", token)
        await desk.parts.desk(rating(packet, 4, desk.accounts["maria@example.org"]))
        async with maria.get("/dashboard") as refused:
            assert refused.status == 403
        async with sue.get("/dashboard?days=30&channel=web") as response:
            assert response.status == 200
            html = await response.text()
        async with sue.get("/dashboard?days=7") as unknown_period:
            assert unknown_period.status == 400
    assert 'id="kpi-csat">4.0<' in html
    row = re.search(r'<tr data-channel="web">(.*?)</tr>', html, re.DOTALL)
    assert row is not None
    cells = re.findall(r"<td>([^<]*)", row.group(1))
    # conversations, escalation rate, tickets, wait, handle, FCR, repeat, sentiment, CSAT...
    assert cells[:3] == ["2", "50%", "1"]
    assert cells[5:8] == ["100%", "0%", "+0.70"]  # -0.6 → 0.1 from the handoff's readings
    assert "human_requested" in html


async def test_a_customers_new_message_reaches_the_open_conversation_live_and_escaped(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    async with desk.browser() as maria, desk.browser() as billie:
        assert await sign_in(maria, "maria@example.org") == 303
        assert await sign_in(billie, "billie@example.org") == 303
        async with maria.get("/events") as stream, billie.get("/events") as other_team:
            await desk.parts.desk(customer_message(packet, f"{EVIL} are you there?"))
            received = b""
            while b"event: message" not in received:
                received += await asyncio.wait_for(stream.content.readany(), timeout=10)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(other_team.content.readany(), timeout=0.5)
    text = received.decode()
    assert f'data-ticket="{packet.envelope.event_id}"' in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; are you there?" in text
    assert "<script>" not in text


# Account management (admins only)

NEW_PASSWORD = "another long password"


def profile_form(role: str = "agent", **fields: str) -> dict[str, str]:
    return {"name": "Bob", "role": role, "team": "support", "languages": "en", **fields}


async def read_until(stream: aiohttp.ClientResponse, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        received += await asyncio.wait_for(stream.content.readany(), timeout=10)
    return received


async def test_agents_and_supervisors_get_403_on_account_management(desk: Desk) -> None:
    bob_id = desk.accounts["bob@example.org"]
    for email in ("maria@example.org", "sue@example.org"):
        async with desk.browser() as browser:
            assert await sign_in(browser, email) == 303
            token = await page_token(browser)
            async with browser.get(f"/admin/users/{bob_id}") as response:
                assert response.status == 403
            for path, form in [
                ("", profile_form("admin")),
                ("/deactivate", {}),
                ("/password", {"password": NEW_PASSWORD}),
                ("/unlock", {}),
            ]:
                async with browser.post(
                    f"/admin/users/{bob_id}{path}", data={"csrf_token": token, **form}
                ) as response:
                    assert response.status == 403, path
    bob = await desk.parts.store.agent(bob_id)
    assert bob is not None and (bob.role, bob.active) == ("agent", True)
    assert [e.action for e in await desk.parts.store.audit_trail(bob_id)] == ["created"]
    async with desk.browser() as browser:
        assert await sign_in(browser, "bob@example.org") == 303  # password unchanged


async def test_account_changes_without_the_csrf_token_are_refused(desk: Desk) -> None:
    bob_id = desk.accounts["bob@example.org"]
    async with desk.browser() as admin:
        assert await sign_in(admin, "admin@example.org") == 303
        token = await page_token(admin, "/admin/users")
        for path, form in [
            ("", profile_form("supervisor")),
            ("/deactivate", {}),
            ("/password", {"password": NEW_PASSWORD}),
            ("/unlock", {}),
        ]:
            for refused in ({}, {"csrf_token": "forged"}):
                async with admin.post(
                    f"/admin/users/{bob_id}{path}", data={**form, **refused}
                ) as response:
                    assert response.status == 403, path
            async with admin.post(
                f"/admin/users/{bob_id}{path}",
                data={"csrf_token": token, **form},
                headers={"Origin": "https://evil.example"},
            ) as response:
                assert response.status == 403, path
    assert [e.action for e in await desk.parts.store.audit_trail(bob_id)] == ["created"]


async def test_an_admin_edits_an_account_with_checked_input_and_sees_the_audit_trail(
    desk: Desk,
) -> None:
    bob_id = desk.accounts["bob@example.org"]
    async with desk.browser() as admin:
        assert await sign_in(admin, "admin@example.org") == 303
        token = await page_token(admin, f"/admin/users/{bob_id}")
        for form, message in [
            (profile_form(languages="english"), "&#39;english&#39; is not a language code"),
            (profile_form(skills="bereavement"), "&#39;bereavement&#39; is not a skill"),
            (profile_form("owner"), "pick a role: agent, supervisor or admin"),
            (profile_form(name=""), "a name needs 1 to 100 characters"),
        ]:
            async with admin.post(
                f"/admin/users/{bob_id}", data={"csrf_token": token, **form}
            ) as response:
                assert response.status == 400 and message in await response.text()
        await post(
            admin,
            f"/admin/users/{bob_id}",
            token,
            **profile_form("supervisor", languages="en, FR", skills="topic:bereavement"),
        )
        await post(admin, f"/admin/users/{bob_id}/password", token, password=NEW_PASSWORD)
        async with admin.get("/admin/users") as response:
            users = await response.text()
        async with admin.get(f"/admin/users/{bob_id}") as response:
            edit_page = await response.text()
    bob = await desk.parts.store.agent(bob_id)
    assert bob is not None
    assert (bob.role, bob.languages, bob.skills) == (
        "supervisor",
        ["en", "fr"],
        ["topic:bereavement"],
    )
    audit = users[users.index('id="audit"') :]
    first, second = re.findall(r"<tr><td>(.*?)</tr>", audit, re.DOTALL)[:2]
    assert "password reset" in first and "Admin &lt;admin@example.org&gt;" in first
    assert "edited" in second and "Bob &lt;bob@example.org&gt;" in second
    assert "role: agent → supervisor" in second and "languages: en → en, fr" in second
    assert "$argon2" not in users and NEW_PASSWORD not in users
    assert 'value="en, fr"' in edit_page and '<option value="supervisor" selected>' in edit_page


async def test_deactivating_an_account_signs_it_out_and_puts_its_tickets_back_in_the_queue(
    desk: Desk,
) -> None:
    packet = await seeded_handoff(desk)
    ticket_id = packet.envelope.event_id
    maria_id = desk.accounts["maria@example.org"]
    async with desk.browser() as maria, desk.browser() as bob, desk.browser() as admin:
        for browser, email in [(maria, "maria"), (bob, "bob"), (admin, "admin")]:
            assert await sign_in(browser, f"{email}@example.org") == 303
        maria_token, admin_token = await page_token(maria), await page_token(admin)
        await post(maria, f"/conversations/{ticket_id}/claim", maria_token)
        async with maria.get("/events") as maria_stream, bob.get("/events") as bob_stream:
            await post(admin, f"/admin/users/{maria_id}/deactivate", admin_token)
            assert ticket_id.encode() in await read_until(bob_stream, b"event: ticket")
            ended = await asyncio.wait_for(maria_stream.content.read(), timeout=10)
            assert b"event: ticket" not in ended  # her stream closes, telling her nothing
        ticket = await desk.parts.store.ticket(ticket_id)
        assert (ticket.status, ticket.assignee_id) == (TicketStatus.WAITING, None)

        async with maria.get("/", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/login")
        async with maria.post(
            f"/conversations/{ticket_id}/claim",
            data={"csrf_token": maria_token, "action_id": new_action()},
        ) as response:
            assert response.status == 401
        async with bob.get("/") as response:
            assert f'data-ticket="{ticket_id}"' in await response.text()

        async with desk.browser() as again:
            async with again.get("/login") as form:
                login_token = hidden_token(await form.text())
            async with again.post(
                "/login",
                data={
                    "email": "maria@example.org",
                    "password": PASSWORD,
                    "csrf_token": login_token,
                },
            ) as refused:
                assert refused.status == 401
                assert "Wrong email or password." in await refused.text()  # as a wrong one
        await post(admin, f"/admin/users/{maria_id}/reactivate", admin_token)
        assert await sign_in(maria, "maria@example.org") == 303
    actions = [e.action for e in await desk.parts.store.audit_trail(maria_id)]
    assert actions == ["reactivated", "deactivated", "created"]


async def test_a_password_reset_signs_the_account_out_and_keeps_the_length_rule(
    desk: Desk,
) -> None:
    bob_id = desk.accounts["bob@example.org"]
    async with desk.browser() as bob, desk.browser() as admin:
        assert await sign_in(bob, "bob@example.org") == 303
        assert await sign_in(admin, "admin@example.org") == 303
        token = await page_token(admin, f"/admin/users/{bob_id}")
        async with admin.post(
            f"/admin/users/{bob_id}/password", data={"csrf_token": token, "password": "short"}
        ) as response:
            assert response.status == 400
            assert "a password needs at least 12 characters" in await response.text()
        async with bob.get("/", allow_redirects=False) as response:
            assert response.status == 200  # a refused reset changes nothing

        await post(admin, f"/admin/users/{bob_id}/password", token, password=NEW_PASSWORD)
        async with bob.get("/", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (303, "/login")
        assert await sign_in(bob, "bob@example.org") == 401
        assert await sign_in(bob, "bob@example.org", NEW_PASSWORD) == 303


async def test_an_admin_cannot_demote_or_deactivate_themselves(desk: Desk) -> None:
    admin_id = desk.accounts["admin@example.org"]
    await desk.parts.store.create_agent(
        email="ada@example.org",
        name="Ada",
        password_hash=hash_password(PASSWORD, 12),
        role=Role.ADMIN,
        team="support",
        languages=["en"],
        skills=[],
        now=datetime.now(UTC),
    )
    async with desk.browser() as admin, desk.browser() as ada:
        assert await sign_in(admin, "admin@example.org") == 303
        assert await sign_in(ada, "ada@example.org") == 303
        token = await page_token(admin, "/admin/users")
        for path, form in [("", profile_form("supervisor", name="Admin")), ("/deactivate", {})]:
            async with admin.post(
                f"/admin/users/{admin_id}{path}", data={"csrf_token": token, **form}
            ) as response:
                assert response.status == 409, path
                assert "cannot demote or deactivate your own account" in await response.text()
        still = await desk.parts.store.agent(admin_id)
        assert still is not None and (still.role, still.active) == ("admin", True)

        ada_token = await page_token(ada, "/admin/users")  # another admin may
        await post(ada, f"/admin/users/{admin_id}", ada_token, **profile_form(name="Admin"))
        async with admin.get("/admin/users") as response:
            assert response.status == 403  # an agent now, at once
