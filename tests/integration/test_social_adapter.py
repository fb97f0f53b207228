"""The social adapter end to end: real Kafka, a real context service, fake platform APIs.

The aiohttp app and the outbound consumers are the ones ``__main__`` runs, wired by its
``build``; only the platforms (Graph API, Bot API) are local fakes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import ConsumerRecord
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import handoff_pb2, messages_pb2

from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.social_adapter.__main__ import build, deliver_replies
from services.social_adapter.config import SocialAdapterSettings
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import decode, new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER, DELIVERY, HANDOFF, INBOUND
from shared.media_links import sign
from tests.conftest import unique
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.ports import FakePublisher
from tests.fakes.telegram_api import FakeTelegramApi
from tests.grpc_probe import running
from tests.kafka_helpers import create_private_topic, eventually, read_until
from tests.media_helpers import PDF, LinkedUploads, png

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
APP_SECRET, VERIFY_TOKEN = "it-app-secret", "it-verify-token"
PAGE_TOKEN, WA_TOKEN, PHONE_ID = "it-page-token", "it-wa-token", "106540352242922"
BOT_TOKEN, TG_SECRET = "4242:it-bot-token", "it-telegram-secret"
MEDIA_KEY, MEDIA_LIMIT = "it-media-signing-key-0123456789", 64 * 1024
WA, MESSENGER, TELEGRAM = (
    envelope_pb2.CHANNEL_WHATSAPP,
    envelope_pb2.CHANNEL_MESSENGER,
    envelope_pb2.CHANNEL_TELEGRAM,
)
E = TypeVar("E", bound=Message)


@dataclass
class Stack:
    url: str
    bootstrap: str
    graph: FakeGraphApi
    telegram: FakeTelegramApi
    context: context_grpc.ContextServiceStub
    publisher: EventPublisher
    # Channel → a private outbound topic: replies other tests left on the shared topics
    # would otherwise reach this test's fakes (and take the failures it queued).
    outbound: dict[str, str]
    uploads: LinkedUploads  # where an agent's attachments are fetched from


@pytest.fixture
async def uploads(tmp_path: Path) -> AsyncIterator[LinkedUploads]:
    async with LinkedUploads(tmp_path / "desk", MEDIA_KEY) as served:
        yield served


@pytest.fixture
async def context_address(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    engine = create_engine(url)
    await migrate(engine)
    parts = build_context(ContextSettings(metrics_port=0, grpc_port=0, database_url=url), engine)
    try:
        async with running(
            lambda s: context_grpc.add_ContextServiceServicer_to_server(parts.servicer, s), CONTEXT
        ) as address:
            yield address
    finally:
        await parts.store.close()
        await engine.dispose()


@pytest.fixture
async def stack(
    kafka_bootstrap: str, context_address: str, uploads: LinkedUploads
) -> AsyncIterator[Stack]:
    graph = FakeGraphApi(page_token=PAGE_TOKEN, whatsapp_token=WA_TOKEN, phone_number_id=PHONE_ID)
    telegram = FakeTelegramApi(BOT_TOKEN)
    await graph.start()
    await telegram.start()
    config = SocialAdapterSettings(
        kafka_bootstrap=kafka_bootstrap,
        context_address=context_address,
        http_port=0,
        metrics_port=0,
        consumer_group=unique("social"),
        meta_app_secret=APP_SECRET,
        meta_verify_token=VERIFY_TOKEN,
        page_access_token=PAGE_TOKEN,
        whatsapp_access_token=WA_TOKEN,
        whatsapp_phone_number_id=PHONE_ID,
        graph_api_base_url=graph.base_url,
        telegram_bot_token=BOT_TOKEN,
        telegram_secret_token=TG_SECRET,
        telegram_api_base_url=telegram.base_url,
        send_attempts=3,
        send_retry_wait_seconds=0.05,
        media_signing_key=MEDIA_KEY,
        media_max_bytes=MEDIA_LIMIT,
        page_media_origins=[graph.base_url],  # the fake's /cdn plays Meta's CDN
        outbound_media_origins=[uploads.origin],
    )
    stop = asyncio.Event()
    async with (
        EventPublisher(kafka_bootstrap, client_id="social-tests") as publisher,
        grpc.aio.insecure_channel(context_address) as channel,
        httpx.AsyncClient(timeout=5) as http,
    ):
        parts = build(config, publisher, ContextClient(channel, 5), http)
        server = TestServer(parts.app, host="127.0.0.1")
        await server.start_server()
        topics = {
            channel: await create_private_topic(kafka_bootstrap) for channel in parts.deliveries
        }
        consumers = asyncio.create_task(
            deliver_replies(config, publisher, parts.deliveries, stop, topics=topics)
        )
        try:
            yield Stack(
                str(server.make_url("")).rstrip("/"),
                kafka_bootstrap,
                graph,
                telegram,
                context_grpc.ContextServiceStub(channel),
                publisher,
                topics,
                uploads,
            )
        finally:
            stop.set()
            await consumers
            await server.close()
            await graph.close()
            await telegram.close()


def meta_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def whatsapp_webhook(message_id: str, sender: str = "16505551234") -> bytes:
    data = json.loads((FIXTURES / "meta/whatsapp_text.json").read_text())
    value = data["entry"][0]["changes"][0]["value"]
    value["messages"][0].update(id=message_id, **{"from": sender})
    value["contacts"][0]["wa_id"] = sender
    return json.dumps(data).encode()


def events(
    record_type: type[E], accept: Callable[[E], bool]
) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    """A record filter: records of ``record_type`` that ``accept`` likes."""

    def wanted(record: ConsumerRecord[bytes, bytes]) -> bool:
        try:
            event = decode(record.value, list(record.headers), record_type)
        except Exception:
            return False
        return accept(event)

    return wanted


def parse(record: ConsumerRecord[bytes, bytes], record_type: type[E]) -> E:
    return decode(record.value, list(record.headers), record_type)


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def customer_wrote(stack: Stack, address: str, ago: timedelta) -> str:
    """A WhatsApp customer whose last message was ``ago``; returns their customer id."""
    customer = (
        await stack.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=WA, address=address), timeout=5
        )
    ).customer
    await stack.context.AppendTurn(
        context_pb.AppendTurnRequest(
            customer_id=customer.customer_id,
            turn=context_pb.Turn(
                event_id=str(uuid.uuid4()),
                conversation_id=str(uuid.uuid4()),
                role=context_pb.ROLE_CUSTOMER,
                text="Where is my parcel?",
                channel=WA,
                occurred_at=stamp(datetime.now(UTC) - ago),
            ),
        ),
        timeout=5,
    )
    return str(customer.customer_id)


def reply(
    channel: envelope_pb2.Channel,
    address: str,
    text: str = "**Hello** there. Order #5 (A-1) is ready!",
    customer_id: str = "",
    quick_replies: tuple[tuple[str, str], ...] = (),
) -> messages_pb2.SendMessage:
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id=str(uuid.uuid4()),
            channel=channel,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer_id, channel=channel, address=address
            ),
        ),
        text=text,
        sender=messages_pb2.SENDER_BOT,
        quick_replies=[messages_pb2.QuickReply(title=t, payload=p) for t, p in quick_replies],
    )


async def deliveries(stack: Stack, *sends: messages_pb2.SendMessage) -> dict[str, Any]:
    """The delivery report of each send, by send event id."""
    ids = {s.envelope.event_id for s in sends}
    found = await read_until(
        stack.bootstrap,
        DELIVERY,
        events(messages_pb2.MessageDeliveryUpdated, lambda e: e.send_event_id in ids),
        count=len(ids),
    )
    reports = [parse(r, messages_pb2.MessageDeliveryUpdated) for r in found]
    return {r.send_event_id: r for r in reports}


# Inbound ----------------------------------------------------------------------------------


async def test_a_whatsapp_webhook_delivered_three_times_is_published_once_and_a_forged_one_never(
    stack: Stack,
) -> None:
    genuine, forged = f"wamid.{uuid.uuid4().hex}", f"wamid.{uuid.uuid4().hex}"
    body = whatsapp_webhook(genuine)
    async with httpx.AsyncClient(base_url=stack.url) as client:
        for _ in range(3):
            answer = await client.post(
                "/meta/whatsapp",
                content=body,
                headers={"X-Hub-Signature-256": meta_signature(body)},
            )
            assert answer.status_code == 200
        forged_body = whatsapp_webhook(forged)
        refused = await client.post(
            "/meta/whatsapp",
            content=forged_body,
            headers={"X-Hub-Signature-256": meta_signature(body)},  # someone else's signature
        )
        assert refused.status_code == 403
        unsigned = await client.post("/meta/whatsapp", content=forged_body)
        assert unsigned.status_code == 403
    wanted = events(
        messages_pb2.MessageReceived, lambda e: e.provider_message_id in {genuine, forged}
    )
    with pytest.raises(AssertionError, match="found 1 of 2"):
        await read_until(stack.bootstrap, INBOUND, wanted, count=2, timeout=4)
    [record] = await read_until(stack.bootstrap, INBOUND, wanted)
    event = parse(record, messages_pb2.MessageReceived)
    assert event.provider_message_id == genuine
    assert event.envelope.customer.address == "+16505551234"
    assert event.envelope.channel == WA and event.text == "Does it come in another color?"


async def test_a_batch_with_a_lone_surrogate_and_a_blank_message_loses_no_neighbour(
    stack: Stack,
) -> None:
    """Once a 500 on every retry, so the messages after the surrogate never arrived."""
    nonce = uuid.uuid4().hex
    # The second carries half an emoji (a lone surrogate), the third nothing but blanks.
    texts = ["Where is my order?", "It came broken \ud83d", " \t\u0000 ", "Please call me"]
    mids = [f"m_{nonce}_{index}" for index in range(len(texts))]
    events_sent = [
        {"sender": {"id": f"psid-{nonce}"}, "timestamp": 1750263773000, "message": {"mid": m}}
        for m in mids
    ]
    for event, said in zip(events_sent, texts, strict=True):
        event["message"]["text"] = said  # sent as Meta sends it: "\ud83d", "\u0000"
    body = json.dumps(
        {
            "object": "page",
            "entry": [
                {"id": "1", "messaging": events_sent[:2]},
                {"id": "2", "messaging": events_sent[2:]},
            ],
        }
    ).encode()
    async with httpx.AsyncClient(base_url=stack.url) as client:
        for _ in range(2):  # a platform retry publishes nothing twice
            answer = await client.post(
                "/meta/messenger",
                content=body,
                headers={"X-Hub-Signature-256": meta_signature(body)},
            )
            assert answer.status_code == 200
        lone_blank = json.dumps(
            {"object": "page", "entry": [{"messaging": events_sent[2:3]}]}
        ).encode()
        refused = await client.post(
            "/meta/messenger",
            content=lone_blank,
            headers={"X-Hub-Signature-256": meta_signature(lone_blank)},
        )
        assert refused.status_code == 400 and refused.text.startswith("blank:")
    wanted = events(messages_pb2.MessageReceived, lambda e: e.provider_message_id in mids)
    with pytest.raises(AssertionError, match="found 3 of 4"):
        await read_until(stack.bootstrap, INBOUND, wanted, count=4, timeout=4)
    published = {
        event.provider_message_id: event.text
        for event in (
            parse(r, messages_pb2.MessageReceived)
            for r in await read_until(stack.bootstrap, INBOUND, wanted, count=3)
        )
    }
    assert published == {
        mids[0]: "Where is my order?",
        mids[1]: "It came broken \ufffd",
        mids[3]: "Please call me",
    }


async def test_the_meta_handshake_and_a_telegram_update_go_through_the_app(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as client:
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "8831",
        }
        for path in ("/meta/messenger", "/meta/instagram", "/meta/whatsapp"):
            answer = await client.get(path, params=params)
            assert (answer.status_code, answer.text) == (200, "8831")
            wrong = await client.get(path, params={**params, "hub.verify_token": "nope"})
            assert wrong.status_code == 403
        update = json.loads((FIXTURES / "telegram/update_text.json").read_text())
        update["message"]["message_id"] = uuid.uuid4().int % 10**9
        body = json.dumps(update).encode()
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        assert (await client.post("/telegram", content=body, headers=headers)).status_code == 200
        assert (await client.post("/telegram", content=body)).status_code == 403
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    provider_id = f"{update['message']['chat']['id']}:{update['message']['message_id']}"
    await read_until(
        stack.bootstrap,
        INBOUND,
        events(messages_pb2.MessageReceived, lambda e: e.provider_message_id == provider_id),
    )


# Media ------------------------------------------------------------------------------------


async def received(stack: Stack, provider_message_id: str) -> messages_pb2.MessageReceived:
    [record] = await read_until(
        stack.bootstrap,
        INBOUND,
        events(
            messages_pb2.MessageReceived, lambda e: e.provider_message_id == provider_message_id
        ),
    )
    return parse(record, messages_pb2.MessageReceived)


async def opened(stack: Stack, reference: str, key: str = MEDIA_KEY, **signing: Any) -> Any:
    """``/media`` for a signed link to ``reference``: the answer."""
    link = sign(key.encode(), reference, **signing).url(stack.url)
    async with httpx.AsyncClient() as client:
        return await client.get(link)


async def test_caption_less_photos_are_published_typed_and_opened_with_each_platforms_key(
    stack: Stack,
) -> None:
    photo, nonce = png(4, 4), uuid.uuid4().hex
    media_id = stack.graph.add_media(photo, "image/jpeg")
    whatsapp = json.loads(whatsapp_webhook(f"wamid.{nonce}"))
    whatsapp["entry"][0]["changes"][0]["value"]["messages"][0] |= {
        "type": "image",
        "image": {"mime_type": "image/jpeg", "sha256": "x", "id": media_id},
    }
    del whatsapp["entry"][0]["changes"][0]["value"]["messages"][0]["text"]
    cdn_url = stack.graph.add_cdn(photo, "image/png")
    messenger = {
        "object": "page",
        "entry": [
            {
                "id": "1",
                "messaging": [
                    {
                        "sender": {"id": f"psid-{nonce}"},
                        "timestamp": 1750263773000,
                        "message": {
                            "mid": f"m_{nonce}",
                            "attachments": [{"type": "image", "payload": {"url": cdn_url}}],
                        },
                    }
                ],
            }
        ],
    }
    file_id = stack.telegram.add_file(photo, "image/jpeg")
    telegram = json.loads((FIXTURES / "telegram/update_photo.json").read_text())
    chat, message_id = uuid.uuid4().int % 10**9, uuid.uuid4().int % 10**9
    del telegram["message"]["caption"]
    telegram["message"] |= {"message_id": message_id, "chat": {"id": chat, "type": "private"}}
    telegram["message"]["photo"][-1] |= {"file_id": file_id, "file_size": len(photo)}
    async with httpx.AsyncClient(base_url=stack.url) as client:
        for path, data in (("/meta/whatsapp", whatsapp), ("/meta/messenger", messenger)):
            body = json.dumps(data).encode()
            headers = {"X-Hub-Signature-256": meta_signature(body)}
            assert (await client.post(path, content=body, headers=headers)).status_code == 200
        headers = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        answer = await client.post("/telegram", content=json.dumps(telegram), headers=headers)
        assert answer.status_code == 200

    published = [
        await received(stack, f"wamid.{nonce}"),
        await received(stack, f"m_{nonce}"),
        await received(stack, f"{chat}:{message_id}"),
    ]
    assert [(e.text, len(e.attachments)) for e in published] == [("", 1)] * 3
    attachments = [event.attachments[0] for event in published]
    assert [(a.reference, a.kind) for a in attachments] == [
        (f"whatsapp:media/{media_id}", envelope_pb2.ATTACHMENT_KIND_IMAGE),
        (cdn_url, envelope_pb2.ATTACHMENT_KIND_IMAGE),
        (f"telegram:file/{file_id}", envelope_pb2.ATTACHMENT_KIND_IMAGE),
    ]
    assert attachments[2].size_bytes == len(photo)
    for attachment in attachments:
        answer = await opened(stack, attachment.reference)
        assert (answer.status_code, answer.content) == (200, photo), attachment.reference
    assert stack.graph.downloads == 2 and stack.telegram.downloads == 1


async def test_media_links_unsigned_expired_or_leading_off_the_allow_list_are_refused(
    stack: Stack,
) -> None:
    media_id = stack.graph.add_media(png(), "image/png")
    reference = f"whatsapp:media/{media_id}"
    elsewhere = stack.graph.base_url.replace("127.0.0.1", "localhost")
    page = stack.graph.add_cdn(b"<svg onload='alert(1)'/>", "image/svg+xml")
    huge = stack.graph.add_cdn(b"\x89PNG" + b"\x00" * MEDIA_LIMIT, "image/png")
    answers = {
        "forged": await opened(stack, reference, key="a-key-of-our-own-making-0123"),
        "expired": await opened(stack, reference, now=0),
        "unknown": await opened(stack, "ftp://files.example/1"),
        "off_the_list": await opened(
            stack, stack.graph.add_cdn(png(), "image/png").replace("127.0.0.1", "localhost")
        ),
        "svg": await opened(stack, page),
        "huge": await opened(stack, huge),
    }
    stack.graph.media_base_url = elsewhere
    answers["media_url_elsewhere"] = await opened(stack, reference)
    stack.graph.media_base_url, stack.graph.redirect_media_to = "", elsewhere
    answers["redirected"] = await opened(stack, reference)
    assert {name: (a.status_code, a.json()["error"]) for name, a in answers.items()} == {
        "forged": (403, "bad_signature"),
        "expired": (403, "expired_link"),
        "unknown": (404, "unknown_reference"),
        "off_the_list": (502, "host_not_allowed"),
        "svg": (502, "type_not_allowed"),
        "huge": (502, "too_large"),
        "media_url_elsewhere": (502, "host_not_allowed"),
        "redirected": (502, "redirect_refused"),
    }
    assert stack.graph.downloads == 2  # only the SVG and the oversize body were answered


def with_attachment(
    send: messages_pb2.SendMessage, link: str, content_type: str, file_name: str = ""
) -> messages_pb2.SendMessage:
    send.sender = messages_pb2.SENDER_AGENT
    send.attachments.append(
        envelope_pb2.Attachment(
            reference=link,
            content_type=content_type,
            kind=envelope_pb2.ATTACHMENT_KIND_IMAGE
            if content_type.startswith("image/")
            else envelope_pb2.ATTACHMENT_KIND_FILE,
            file_name=file_name,
        )
    )
    return send


async def test_an_agents_image_reaches_whatsapp_and_telegram_and_is_refused_on_messenger(
    stack: Stack,
) -> None:
    phone = f"+1202555{uuid.uuid4().int % 10**4:04d}"
    customer_id = await customer_wrote(stack, phone, timedelta(hours=1))
    chat, psid = uuid.uuid4().int % 10**9, str(uuid.uuid4().int % 10**15)
    photo = png(3, 3)
    link = await stack.uploads.link(photo)
    invoice = await stack.uploads.link(PDF)
    sends = (
        with_attachment(
            reply(WA, phone, text="Is this **your** parcel?", customer_id=customer_id),
            link,
            "image/png",
            "parcel.png",
        ),
        with_attachment(
            reply(TELEGRAM, str(chat), text="Your invoice (PDF)."),
            invoice,
            "application/pdf",
            "invoice.pdf",
        ),
        with_attachment(reply(MESSENGER, psid, text="A photo"), link, "image/png"),
    )
    for send in sends:
        await stack.publisher.publish(outbound_topic_of(stack, send), send)
    reports = await deliveries(stack, *sends)
    states = [reports[send.envelope.event_id] for send in sends]
    assert [(r.state, r.error_code) for r in states] == [
        (messages_pb2.DELIVERY_STATE_SENT, ""),
        (messages_pb2.DELIVERY_STATE_SENT, ""),
        (messages_pb2.DELIVERY_STATE_FAILED, "media_unsupported"),
    ]
    [whatsapp] = stack.graph.to(phone[1:])
    assert whatsapp["type"] == "image" and whatsapp["image"]["caption"] == "Is this *your* parcel?"
    uploaded = stack.graph.media[whatsapp["image"]["id"]]
    assert (uploaded.body, uploaded.content_type) == (photo, "image/png")
    [(method, telegram)] = stack.telegram.files_sent_to(str(chat))
    assert method == "sendDocument" and telegram["caption"] == "Your invoice \\(PDF\\)\\."
    assert telegram["document"].body == PDF and telegram["document"].file_name == "invoice.pdf"
    assert stack.graph.to(psid) == []


# Outbound ---------------------------------------------------------------------------------


async def test_replies_reach_each_platform_rendered_for_that_channel(stack: Stack) -> None:
    phone = f"+1202555{uuid.uuid4().int % 10**4:04d}"
    customer_id = await customer_wrote(stack, phone, timedelta(hours=1))
    psid, chat = str(uuid.uuid4().int % 10**15), uuid.uuid4().int % 10**9
    buttons = (("Track order", "TRACK"), ("Agent", "AGENT"))
    sends = (
        reply(MESSENGER, psid, quick_replies=buttons),
        reply(WA, phone, customer_id=customer_id, quick_replies=buttons),
        reply(TELEGRAM, str(chat), quick_replies=buttons),
    )
    for send in sends:
        await stack.publisher.publish(outbound_topic_of(stack, send), send)
    await eventually(
        lambda: bool(
            stack.graph.to(psid) and stack.graph.to(phone[1:]) and stack.telegram.sent_to(chat)
        )
    )
    [page] = stack.graph.to(psid)
    assert page["message"]["text"] == "Hello there. Order #5 (A-1) is ready!"
    assert [q["payload"] for q in page["message"]["quick_replies"]] == ["TRACK", "AGENT"]
    [whatsapp] = stack.graph.to(phone[1:])
    assert whatsapp["interactive"]["body"]["text"] == "*Hello* there. Order #5 (A-1) is ready!"
    [telegram] = stack.telegram.sent_to(chat)
    assert telegram["text"] == "*Hello* there\\. Order \\#5 \\(A\\-1\\) is ready\\!"
    assert telegram["reply_markup"]["inline_keyboard"][1] == [
        {"text": "Agent", "callback_data": "AGENT"}
    ]
    reports = await deliveries(stack, *sends)
    assert {r.state for r in reports.values()} == {messages_pb2.DELIVERY_STATE_SENT}
    assert reports[sends[1].envelope.event_id].provider_message_id.startswith("wamid.")


def outbound_topic_of(stack: Stack, send: messages_pb2.SendMessage) -> str:
    names = {MESSENGER: "messenger", WA: "whatsapp", TELEGRAM: "telegram"}
    return stack.outbound[names[send.envelope.channel]]


async def test_a_send_that_fails_with_500_is_retried_until_it_succeeds(stack: Stack) -> None:
    psid = str(uuid.uuid4().int % 10**15)
    stack.graph.fail_next(2, 500)
    before = stack.graph.attempts
    send = reply(MESSENGER, psid, text="Retry me")
    await stack.publisher.publish(stack.outbound["messenger"], send)
    await eventually(lambda: bool(stack.graph.to(psid)))
    assert stack.graph.attempts - before == 3
    [report] = (await deliveries(stack, send)).values()
    assert report.state == messages_pb2.DELIVERY_STATE_SENT


async def test_a_permanent_refusal_is_dead_lettered_with_the_platforms_error(stack: Stack) -> None:
    chat = uuid.uuid4().int % 10**9
    stack.telegram.fail_next(1, 403, "Forbidden: bot was blocked by the user")
    send = reply(TELEGRAM, str(chat), text="Anyone there?")
    await stack.publisher.publish(stack.outbound["telegram"], send)
    event_id = send.envelope.event_id.encode()
    [dead] = await read_until(
        stack.bootstrap, DEAD_LETTER, lambda r: dict(r.headers).get("event-id") == event_id
    )
    headers = dict(dead.headers)
    assert headers["dead-letter-topic"] == stack.outbound["telegram"].encode()
    assert b"bot was blocked by the user" in headers["dead-letter-error"]
    [report] = (await deliveries(stack, send)).values()
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED and report.error_code == "403"
    assert stack.telegram.sent_to(chat) == []


async def test_whatsapp_outside_the_window_is_not_sent_and_a_person_is_asked_to_take_over(
    stack: Stack,
) -> None:
    phone = f"+1202555{uuid.uuid4().int % 10**4:04d}"
    customer_id = await customer_wrote(stack, phone, timedelta(hours=30))
    send = reply(WA, phone, text="Your refund is on its way.", customer_id=customer_id)
    await stack.publisher.publish(stack.outbound["whatsapp"], send)
    [record] = await read_until(
        stack.bootstrap,
        HANDOFF,
        events(
            handoff_pb2.HandoffRequested,
            lambda e: e.envelope.causation_id == send.envelope.event_id,
        ),
    )
    handoff = parse(record, handoff_pb2.HandoffRequested)
    assert [r.code for r in handoff.reasons] == ["whatsapp_window_closed"]
    assert "24 hours" in handoff.reasons[0].explanation
    assert handoff.envelope.conversation_id == send.envelope.conversation_id
    [report] = (await deliveries(stack, send)).values()
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert report.error_code == "window_closed" and "24 hours" in report.error_message
    assert stack.graph.to(phone[1:]) == []


# Fuzz -------------------------------------------------------------------------------------

PATHS = ("/meta/messenger", "/meta/instagram", "/meta/whatsapp", "/telegram")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
# Shapes close to real webhooks, so the parsers see more than "not an object".
near_webhooks = st.fixed_dictionaries(
    {
        "object": st.sampled_from(["page", "instagram", "whatsapp_business_account", "x"]),
        "entry": st.lists(
            st.fixed_dictionaries(
                {
                    "messaging": st.lists(json_values, max_size=3),
                    "changes": st.lists(json_values, max_size=3),
                }
            ),
            max_size=2,
        ),
        "update_id": st.integers(),
        "message": json_values,
        "callback_query": json_values,
    }
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_webhooks.map(lambda v: json.dumps(v).encode()),
)
# Any byte a header value may hold (h11 refuses control characters and edge whitespace).
header_values = st.lists(st.integers(0x20, 0xFF).filter(lambda c: c != 0x7F), max_size=40).map(
    lambda b: bytes(b).strip(b" ")
)
header_names = st.sampled_from(
    [
        "X-Hub-Signature-256",
        "X-Telegram-Bot-Api-Secret-Token",
        "Content-Type",
        "X-Forwarded-Host",
        "X-Anything",
    ]
)


class NoContext:
    """The fuzz sends nothing, so the context service is never asked."""

    async def resolve_customer(self, *args: object) -> context_pb.Customer:
        raise AssertionError("not expected")

    async def get_context(self, *args: object) -> context_pb.GetContextResponse:
        raise AssertionError("not expected")


@pytest.fixture
def app_in_a_thread() -> Iterator[str]:
    """The real app on its own event loop and thread, publishing to a fake.

    Hypothesis draws in the test's thread; nothing else may run there meanwhile (it
    checks that nobody touches the global ``random`` while it draws, and Kafka clients
    do), so this app has no Kafka clients and its loop runs in another thread.
    """
    loop = asyncio.new_event_loop()
    config = SocialAdapterSettings(
        metrics_port=0,
        http_port=0,
        meta_app_secret=APP_SECRET,
        meta_verify_token=VERIFY_TOKEN,
        telegram_secret_token=TG_SECRET,
    )

    async def start() -> tuple[TestServer, httpx.AsyncClient]:
        http = httpx.AsyncClient()
        server = TestServer(build(config, FakePublisher(), NoContext(), http).app, host="127.0.0.1")
        await server.start_server()
        return server, http

    server, http = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        asyncio.run_coroutine_threadsafe(http.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_every_webhook_endpoint_answers_random_requests_without_a_server_error(
    app_in_a_thread: str,
) -> None:
    seen: list[int] = []

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure always reproduces
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @example("/meta/whatsapp", "POST", whatsapp_webhook("wamid.fuzz"), {}, {}, True)
    @example("/telegram", "POST", b'{"update_id": 1, "message": 7}', {}, {}, True)
    @example("/meta/instagram", "POST", b"{}", {}, {}, True)
    @example("/meta/messenger", "POST", b"{}", {}, {}, False)
    @given(
        path=st.sampled_from(PATHS),
        method=st.sampled_from(["GET", "POST", "PUT"]),
        body=bodies,
        headers=st.dictionaries(header_names, header_values, max_size=3),
        query=st.dictionaries(
            st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]),
            st.text(max_size=30),
            max_size=3,
        ),
        authentic=st.booleans(),
    )
    def fuzz(
        path: str,
        method: str,
        body: bytes,
        headers: dict[str, bytes],
        query: dict[str, str],
        authentic: bool,
    ) -> None:
        sent: dict[str, Any] = dict(headers)
        if authentic:  # signed for real, so the body reaches the parser
            sent["X-Hub-Signature-256"] = meta_signature(body)
            sent["X-Telegram-Bot-Api-Secret-Token"] = TG_SECRET
        answer = client.request(method, path, content=body, headers=sent, params=query)
        seen.append(answer.status_code)
        assert answer.status_code < 500, (answer.status_code, answer.text)
        assert answer.status_code == 200 or 400 <= answer.status_code < 500

    with httpx.Client(base_url=app_in_a_thread, timeout=10) as client:
        fuzz()
    assert {200, 403} <= set(seen) and any(400 <= s < 500 and s != 403 for s in seen)
