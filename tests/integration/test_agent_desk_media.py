"""Attachments at the agent desk, through the real pieces: the desk's console, the real
social adapter (against the fake Graph and Bot APIs) and web adapter serving customers'
media at their signed ``/media``, the context service, and the orchestrator's agent-action
handler turning an agent's image into a ``SendMessage`` that the social adapter delivers.

No broker: the desk's outbox relay and the adapters publish to recording publishers, and
the test hands each event to the next piece as Kafka would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import grpc
import httpx
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import agent_pb2, handoff_pb2, messages_pb2
from yarl import URL

from infra.ports import free_port
from services.agent_desk.__main__ import build
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.http_app import DeskParts, create_app
from services.agent_desk.models import Role
from services.agent_desk.outbox import OutboxRelay
from services.agent_desk.security import hash_password
from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine as context_engine
from services.context.database import migrate as context_migrate
from services.orchestrator.agent_actions import AgentActionHandler
from services.social_adapter.__main__ import SocialAdapter
from services.social_adapter.__main__ import build as build_social
from services.social_adapter.config import SocialAdapterSettings
from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.http_app import create_app as create_web_app
from services.web_adapter.sockets import VisitorSockets
from shared.channel_names import channel_name
from shared.conversations import thread_conversation_id
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from shared.kafka.topics import DELIVERY, outbound_topic
from shared.media_links import verify_url
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.grpc_probe import running
from tests.integration.test_agent_desk_http import (
    PASSWORD,
    RecordingPublisher,
    hidden_action,
    hidden_token,
    sign_in,
)
from tests.integration.test_agent_desk_http import read_until as read_stream
from tests.media_helpers import PDF, png

pytestmark = pytest.mark.integration

CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
MEDIA_KEY = "it-desk-media-signing-key-0123456789"
WA_TOKEN, PHONE_ID, BOT_TOKEN = "it-wa-token", "106540352242922", "4242:it-bot-token"
UPLOAD_LIMIT = 64 * 1024
WA, TELEGRAM, MESSENGER, WEB = (
    envelope_pb2.CHANNEL_WHATSAPP,
    envelope_pb2.CHANNEL_TELEGRAM,
    envelope_pb2.CHANNEL_MESSENGER,
    envelope_pb2.CHANNEL_WEB,
)
PLACE = "<b>Shop</b> & co"


@dataclass
class World:
    parts: DeskParts
    server: TestServer
    relay: OutboxRelay
    desk_events: RecordingPublisher
    adapter_events: RecordingPublisher
    context: context_grpc.ContextServiceStub
    orchestrator: AgentActionHandler
    social: SocialAdapter
    graph: FakeGraphApi
    telegram: FakeTelegramApi
    web_url: str
    desk_url: str

    def browser(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=self.desk_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )

    async def actions(self) -> list[agent_pb2.AgentActionTaken]:
        await self.relay.publish_pending()
        return self.desk_events.actions()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    context_url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    context_db = context_engine(context_url)
    await context_migrate(context_db)
    context_parts = build_context(
        ContextSettings(metrics_port=0, grpc_port=0, database_url=context_url), context_db
    )
    graph = FakeGraphApi(page_token="page", whatsapp_token=WA_TOKEN, phone_number_id=PHONE_ID)
    telegram = FakeTelegramApi(BOT_TOKEN)
    await graph.start()
    await telegram.start()
    desk_port = free_port()
    desk_url = f"http://127.0.0.1:{desk_port}"
    key = SecretStr(MEDIA_KEY)
    adapter_events, desk_events = RecordingPublisher(), RecordingPublisher()
    engine = create_engine(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    await migrate(engine)
    try:
        async with (
            running(
                lambda s: context_grpc.add_ContextServiceServicer_to_server(
                    context_parts.servicer, s
                ),
                CONTEXT,
            ) as address,
            grpc.aio.insecure_channel(address) as channel,
            httpx.AsyncClient(timeout=5) as http,
        ):
            context = ContextClient(channel, 5)
            social = build_social(
                SocialAdapterSettings(
                    metrics_port=0,
                    http_port=0,
                    whatsapp_access_token=WA_TOKEN,
                    whatsapp_phone_number_id=PHONE_ID,
                    graph_api_base_url=graph.base_url,
                    telegram_bot_token=BOT_TOKEN,
                    telegram_api_base_url=telegram.base_url,
                    send_attempts=1,
                    media_signing_key=key,
                    outbound_media_origins=[desk_url],
                ),
                adapter_events,
                context,
                http,
            )
            web = WebAdapterSettings(
                metrics_port=0, media_signing_key=key, media_dir=tmp_path / "web_media"
            )
            social_server = TestServer(social.app, host="127.0.0.1")
            web_server = TestServer(
                create_web_app(web, adapter_events, VisitorSockets()), host="127.0.0.1"
            )
            await social_server.start_server()
            await web_server.start_server()
            settings = AgentDeskSettings(
                metrics_port=0,
                http_port=desk_port,
                database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
                media_signing_key=key,
                web_adapter_url=str(web_server.make_url("")),
                sms_adapter_url="http://127.0.0.1:9",  # no SMS media here
                social_adapter_url=str(social_server.make_url("")),
                agent_desk_url=desk_url,
                media_dir=tmp_path / "desk_media",
                upload_max_bytes=UPLOAD_LIMIT,
            )
            parts, relay = build(settings, engine, desk_events, context)
            for email, team in [
                ("maria@example.org", "support"),
                ("billie@example.org", "billing"),
            ]:
                await parts.store.create_agent(
                    email=email,
                    name=email.split("@")[0].title(),
                    password_hash=hash_password(PASSWORD, 12),
                    role=Role.AGENT,
                    team=team,
                    languages=["en"],
                    skills=[],
                    now=datetime.now(UTC),
                )
            server = TestServer(create_app(parts), host="127.0.0.1", port=desk_port)
            await server.start_server()
            try:
                yield World(
                    parts,
                    server,
                    relay,
                    desk_events,
                    adapter_events,
                    context_grpc.ContextServiceStub(channel),
                    AgentActionHandler(context=context, publisher=desk_events, bot_name="Ava"),
                    social,
                    graph,
                    telegram,
                    str(web_server.make_url("")).rstrip("/"),
                    desk_url,
                )
            finally:
                await server.close()
                await social_server.close()
                await web_server.close()
    finally:
        await graph.close()
        await telegram.close()
        await context_parts.store.close()
        await context_db.dispose()
        await engine.dispose()


@dataclass(frozen=True)
class Handoff:
    ticket_id: str
    turn_id: str  # the customer's message
    address: str


async def handed_off(
    world: World,
    channel: envelope_pb2.Channel,
    attachments: list[envelope_pb2.Attachment],
    text: str = "",
) -> Handoff:
    """A customer who sent ``attachments`` (and ``text``) and was handed to the desk."""
    address = str(uuid.uuid4().int % 10**10)
    if channel == WA:
        address = f"+1650555{address[:4]}"
    conversation_id = thread_conversation_id(channel_name(channel), address)
    customer = (
        await world.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=channel, address=address), timeout=5
        )
    ).customer
    turn = context_pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=conversation_id,
        role=context_pb.ROLE_CUSTOMER,
        text=text,
        channel=channel,
        attachments=attachments,
    )
    turn.occurred_at.FromDatetime(datetime.now(UTC))
    await world.context.AppendTurn(
        context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
    )
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=channel,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer.customer_id, channel=channel, address=address
            ),
        ),
        reasons=[
            handoff_pb2.DecisionReason(
                code="media_received",
                explanation="The customer sent something the bot cannot look at (image): "
                "a person should.",
                confidence=1.0,
            )
        ],
        priority=0.5,
        language="en",
    )
    await world.parts.desk(packet)
    return Handoff(packet.envelope.event_id, turn.event_id, address)


def attachment_path(ticket_id: str, turn_id: str, index: int) -> str:
    return f"/conversations/{ticket_id}/turns/{turn_id}/attachments/{index}"


async def test_an_agent_opens_a_customers_photo_through_the_desk_and_nobody_else_does(
    world: World,
) -> None:
    photo = png(5, 5)
    media_id = world.graph.add_media(photo, "image/png")
    ticket_id, turn_id, _ = astuple(
        await handed_off(
            world,
            WA,
            [
                envelope_pb2.Attachment(
                    reference=f"whatsapp:media/{media_id}",
                    content_type="image/png",
                    kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
                    size_bytes=len(photo),
                ),
                envelope_pb2.Attachment(
                    kind=envelope_pb2.ATTACHMENT_KIND_LOCATION,
                    latitude=48.85837,
                    longitude=2.294481,
                    place=PLACE,
                ),
            ],
        )
    )
    photo_path = attachment_path(ticket_id, turn_id, 0)
    async with world.browser() as anonymous:
        async with anonymous.get(photo_path, allow_redirects=False) as refused:
            assert (refused.status, refused.headers["Location"]) == (303, "/login")
    async with world.browser() as billie:
        assert await sign_in(billie, "billie@example.org") == 303
        async with billie.get(photo_path) as refused:
            assert refused.status == 403  # another team's ticket
    assert world.graph.downloads == 0

    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get("/") as queue:
            listing = await queue.text()
        assert "sent media" in listing and "cannot look at (image)" in listing
        async with maria.get(f"/conversations/{ticket_id}") as page:
            html = await page.text()
        assert f'<img src="{photo_path}"' in html and f'href="{photo_path}"' in html
        assert "Photo" in html and "Location" in html and "48.85837, 2.29448" in html
        assert "&lt;b&gt;Shop&lt;/b&gt; &amp; co" in html and PLACE not in html
        assert attachment_path(ticket_id, turn_id, 1) not in html  # a place has no bytes

        async with maria.get(photo_path) as opened:
            assert opened.status == 200
            assert await opened.read() == photo
            assert opened.headers["Content-Type"] == "image/png"
            assert opened.headers["X-Content-Type-Options"] == "nosniff"
            assert opened.headers["Content-Disposition"] == "inline"
            assert "sandbox" in opened.headers["Content-Security-Policy"]
        for missing in (
            attachment_path(ticket_id, turn_id, 1),  # the location
            attachment_path(ticket_id, turn_id, 7),
            attachment_path(ticket_id, str(uuid.uuid4()), 0),
        ):
            async with maria.get(missing) as not_there:
                assert not_there.status == 404, missing
        async with maria.get(f"{photo_path}x") as not_an_index:
            assert not_an_index.status == 404
    assert world.graph.downloads == 1


async def test_a_web_visitors_upload_and_a_telegram_pdf_come_back_from_their_adapters(
    world: World,
) -> None:
    photo = png(3, 7)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{world.web_url}/upload", data=photo) as uploaded,
    ):
        assert uploaded.status == 201
        reference = (await uploaded.json())["reference"]
    web = await handed_off(
        world,
        WEB,
        [envelope_pb2.Attachment(reference=reference, kind=envelope_pb2.ATTACHMENT_KIND_IMAGE)],
        text="This is what arrived",
    )
    file_id = world.telegram.add_file(PDF, "application/pdf", kind="documents")
    telegram = await handed_off(
        world,
        TELEGRAM,
        [
            envelope_pb2.Attachment(
                reference=f"telegram:file/{file_id}",
                content_type="application/pdf",
                kind=envelope_pb2.ATTACHMENT_KIND_FILE,
                file_name="invoice.pdf",
            )
        ],
    )
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get(attachment_path(web.ticket_id, web.turn_id, 0)) as opened:
            assert (opened.status, await opened.read()) == (200, photo)
        async with maria.get(f"/conversations/{telegram.ticket_id}") as page:
            html = await page.text()
        assert "invoice.pdf" in html and "File" in html
        async with maria.get(attachment_path(telegram.ticket_id, telegram.turn_id, 0)) as opened:
            assert (opened.status, await opened.read()) == (200, PDF)
            assert opened.headers["Content-Disposition"] == "attachment"  # never shown inline
            assert opened.headers["Content-Type"] == "application/pdf"
    assert world.telegram.downloads == 1


def reply_form(html: str, text: str, body: bytes, file_name: str, kind: str) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)  # names as browsers send them
    form.add_field("csrf_token", hidden_token(html))
    form.add_field("action_id", hidden_action(html))
    form.add_field("text", text)
    form.add_field("attachment", body, filename=file_name, content_type=kind)
    return form


async def claimed_page(maria: aiohttp.ClientSession, ticket_id: str) -> str:
    path = f"/conversations/{ticket_id}"
    async with maria.get(path) as page:
        html = await page.text()
    fields = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
    async with maria.post(f"{path}/claim", data=fields) as claimed:
        assert claimed.status == 200
        return await claimed.text()


async def orchestrated(
    world: World, action: agent_pb2.AgentActionTaken
) -> messages_pb2.SendMessage:
    """The ``SendMessage`` the orchestrator publishes for an agent's reply."""
    await world.orchestrator(action)
    [sent] = [
        event
        for topic, event in world.desk_events.events
        if isinstance(event, messages_pb2.SendMessage)
        and topic == outbound_topic(channel_name(action.envelope.channel))
        and event.envelope.causation_id == action.envelope.event_id
    ]
    return sent


async def delivered(world: World, send: messages_pb2.SendMessage) -> None:
    """Hand ``send`` to the social adapter's delivery, and its report to the desk."""
    await world.social.deliveries[channel_name(send.envelope.channel)](send)
    [report] = [
        event
        for topic, event in world.adapter_events.events
        if topic == DELIVERY
        and isinstance(event, messages_pb2.MessageDeliveryUpdated)
        and event.send_event_id == send.envelope.event_id
    ]
    await world.parts.desk(report)


async def test_an_agents_image_goes_out_as_a_signed_desk_link_and_reaches_telegram(
    world: World,
) -> None:
    handoff = await handed_off(world, TELEGRAM, [], text="Did my parcel arrive broken?")
    ticket_id, chat = handoff.ticket_id, handoff.address
    photo = png(6, 4)
    path = f"/conversations/{ticket_id}"
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        html = await claimed_page(maria, ticket_id)
        assert 'id="reply-attachment"' in html and 'enctype="multipart/form-data"' in html
        for _ in range(2):  # a double submit is one reply
            form = reply_form(
                html, "Is this your parcel?", photo, "../photos/parcel.png", "image/png"
            )
            async with maria.post(f"{path}/reply", data=form) as replied:
                assert replied.status == 200, await replied.text()
        [_claim, reply] = await world.actions()
        assert reply.kind == agent_pb2.AGENT_ACTION_KIND_REPLIED
        assert reply.text == "Is this your parcel?"
        [attachment] = reply.attachments
        assert (
            attachment.content_type,
            attachment.kind,
            attachment.file_name,
            attachment.size_bytes,
        ) == ("image/png", envelope_pb2.ATTACHMENT_KIND_IMAGE, "parcel.png", len(photo))
        link = URL(attachment.reference)
        assert str(link.origin()) == world.desk_url and link.path == "/media"
        assert verify_url(MEDIA_KEY.encode(), attachment.reference).startswith("desk:upload/")
        async with aiohttp.ClientSession() as adapter_side:
            async with adapter_side.get(attachment.reference) as fetched:
                assert (fetched.status, await fetched.read()) == (200, photo)
            unsigned = link.with_query({"ref": link.query["ref"], "exp": link.query["exp"]})
            async with adapter_side.get(unsigned, allow_redirects=False) as refused:
                assert refused.status == 403  # no signature, no bytes (and no sign-in page)

        sent = await orchestrated(world, reply)
        assert list(sent.attachments) == [attachment]
        assert (sent.text, sent.sender) == ("Is this your parcel?", messages_pb2.SENDER_AGENT)
        [stored] = [
            t
            for t in (
                await world.context.ListTurns(
                    context_pb.ListTurnsRequest(conversation_id=sent.envelope.conversation_id),
                    timeout=5,
                )
            ).turns
            if t.event_id == sent.envelope.event_id
        ]
        assert list(stored.attachments) == [attachment]
        await delivered(world, sent)
        [(method, telegram)] = world.telegram.files_sent_to(chat)
        assert method == "sendPhoto" and telegram["photo"].body == photo
        assert telegram["caption"] == "Is this your parcel?"

        async with maria.get(path) as page:
            html = await page.text()
        own = attachment_path(ticket_id, sent.envelope.event_id, 0)
        assert "parcel.png" in html and f'<img src="{own}"' in html
        assert 'data-delivery="sent"' in html
        async with maria.get(own) as opened:
            assert (opened.status, await opened.read()) == (200, photo)  # from the desk's copy


async def test_where_the_channel_cannot_carry_a_file_none_is_offered_and_one_sent_anyway_is_refused(
    world: World,
) -> None:
    ticket_id = (await handed_off(world, MESSENGER, [], text="Here is my receipt")).ticket_id
    path = f"/conversations/{ticket_id}"
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        html = await claimed_page(maria, ticket_id)
        assert 'id="reply-attachment"' not in html
        assert "Images and files cannot be sent on messenger" in html
        form = reply_form(html, "", PDF, "receipt.pdf", "application/pdf")  # a crafted post
        async with maria.post(f"{path}/reply", data=form) as replied:
            assert replied.status == 200
        [_claim, reply] = await world.actions()
        assert reply.text == "" and reply.attachments[0].content_type == "application/pdf"
        await delivered(world, await orchestrated(world, reply))
        async with maria.get(path) as page:
            html = await page.text()
        assert 'data-delivery="refused"' in html and 'data-problem="media_unsupported"' in html
        assert "the channel cannot carry this attachment" in html

        resend = re.search(r'action="(/conversations/[^"]+/resend)"', html)
        assert resend, "a refused message can be sent again"
        fields = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
        async with maria.post(resend.group(1), data={**fields, "identity": ""}) as resent:
            assert resent.status == 200
        again = (await world.actions())[-1]
        assert again.envelope.event_id != reply.envelope.event_id
        [attachment] = again.attachments  # the same file, under a fresh link
        assert (attachment.content_type, attachment.file_name) == ("application/pdf", "receipt.pdf")
        assert verify_url(MEDIA_KEY.encode(), attachment.reference) == verify_url(
            MEDIA_KEY.encode(), reply.attachments[0].reference
        )
    assert world.graph.received == []


async def test_a_voice_note_arrives_live_and_opens_once_the_orchestrator_stored_it(
    world: World,
) -> None:
    handoff = await handed_off(world, TELEGRAM, [], text="I'll send you a voice note")
    voice = b"OggS" + b"\0" * 60
    file_id = world.telegram.add_file(voice, "audio/ogg", kind="voice")
    note = envelope_pb2.Attachment(
        reference=f"telegram:file/{file_id}",
        content_type="audio/ogg",
        kind=envelope_pb2.ATTACHMENT_KIND_AUDIO,
        voice_note=True,
        size_bytes=len(voice),
    )
    ticket = await world.parts.store.ticket(handoff.ticket_id)
    message = messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=ticket.conversation_id,
            channel=TELEGRAM,
            customer=envelope_pb2.CustomerRef(channel=TELEGRAM, address=handoff.address),
        ),
        attachments=[note],
    )
    path = attachment_path(handoff.ticket_id, message.envelope.event_id, 0)
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get("/events") as stream:
            await world.parts.desk(message)
            live = (await read_stream(stream, b"Voice note")).decode()
        assert f'href="{path}"' in live and "<img" not in live and "64 bytes" in live
        async with maria.get(path) as early:
            assert early.status == 404  # not stored yet
        customer = (
            await world.context.ResolveCustomer(
                context_pb.ResolveCustomerRequest(channel=TELEGRAM, address=handoff.address),
                timeout=5,
            )
        ).customer
        stored = context_pb.Turn(
            event_id=message.envelope.event_id,
            conversation_id=ticket.conversation_id,
            role=context_pb.ROLE_CUSTOMER,
            channel=TELEGRAM,
            attachments=[note],
        )
        stored.occurred_at.GetCurrentTime()
        await world.context.AppendTurn(
            context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=stored), timeout=5
        )
        async with maria.get(path) as opened:
            assert (opened.status, await opened.read()) == (200, voice)
            assert opened.headers["Content-Disposition"] == "inline"


async def test_an_upload_of_the_wrong_kind_or_size_or_without_the_csrf_token_is_refused(
    world: World,
) -> None:
    ticket_id = (await handed_off(world, WA, [], text="Look at this")).ticket_id
    path = f"/conversations/{ticket_id}/reply"
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        html = await claimed_page(maria, ticket_id)
        refusals = {
            "script": (reply_form(html, "", b"<script>x</script>", "a.html", "image/png"), 400),
            "empty": (reply_form(html, "hi", b"", "empty.png", "image/png"), 400),
            "too_large": (
                reply_form(html, "", png(200, 200) + b"\0" * UPLOAD_LIMIT, "big.png", "image/png"),
                400,
            ),
            "long_caption": (reply_form(html, "x" * 1025, png(), "p.png", "image/png"), 400),
        }
        answers = {}
        for name, (form, _status) in refusals.items():
            async with maria.post(path, data=form) as refused:
                answers[name] = (refused.status, await refused.text())
        assert {name: status for name, (status, _) in answers.items()} == {
            name: status for name, (_, status) in refusals.items()
        }
        assert (
            "only application/pdf, image/gif, image/jpeg, image/png, image/webp"
            in (answers["script"][1])
        )
        assert re.search(r"over the limit of \d+ bytes", answers["too_large"][1])
        assert "a caption has at most 1024 characters" in answers["long_caption"][1]

        no_token = aiohttp.FormData()
        no_token.add_field("action_id", hidden_action(html))
        no_token.add_field("attachment", png(), filename="p.png", content_type="image/png")
        async with maria.post(path, data=no_token) as refused:
            assert refused.status == 403
    async with world.browser() as stranger:  # no session: no upload-sized body is read
        huge = {"email": "x@example.org", "password": "x" * 300_000}
        async with stranger.post("/login", data=huge) as refused:
            assert refused.status == 413
    [claim] = await world.actions()
    assert claim.kind == agent_pb2.AGENT_ACTION_KIND_CLAIMED
