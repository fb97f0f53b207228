"""Meta's webhook rules (handshake, X-Hub-Signature-256), Messenger/Instagram parsing and sends."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.social_adapter.instagram import InstagramAdapter
from services.social_adapter.messenger import MessengerAdapter
from services.social_adapter.meta import GraphClient
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    DeliveryState,
    OutboundMessage,
    QuickReply,
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.admission import admit
from shared.channels.edge import Reason
from shared.errors import InvalidInputError
from tests.fakes.graph_api import FakeGraphApi, meta_error

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/meta"
APP_SECRET = "unit-app-secret"
VERIFY_TOKEN = "unit-verify-token"
PAGE_TOKEN = "unit-page-token"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(body: bytes, signed: str | None = "auto") -> WebhookRequest:
    headers = {}
    if signed is not None:
        headers["x-hub-signature-256"] = signature(body) if signed == "auto" else signed
    return WebhookRequest("POST", "https://hooks.example.com/meta/messenger", headers, body)


def get(**query: str) -> WebhookRequest:
    return WebhookRequest("GET", "https://hooks.example.com/meta/messenger", {}, b"", query)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    fake = FakeGraphApi(page_token=PAGE_TOKEN, whatsapp_token="wa", phone_number_id="1")
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def messenger(http: httpx.AsyncClient | None = None, base_url: str = "http://127.0.0.1:9") -> Any:
    client = GraphClient(http or httpx.AsyncClient(), base_url, "v23.0", SecretStr(PAGE_TOKEN))
    return MessengerAdapter(
        app_secret=SecretStr(APP_SECRET), verify_token=SecretStr(VERIFY_TOKEN), graph=client
    )


def instagram() -> InstagramAdapter:
    client = GraphClient(httpx.AsyncClient(), "http://127.0.0.1:9", "v23.0", SecretStr("x"))
    return InstagramAdapter(
        app_secret=SecretStr(APP_SECRET), verify_token=SecretStr(VERIFY_TOKEN), graph=client
    )


# The GET verification handshake ----------------------------------------------------


def test_the_handshake_echoes_the_challenge_for_our_verify_token() -> None:
    answer = messenger().handshake(
        get(
            **{
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            }
        )
    )
    assert (answer.status, answer.body) == (200, b"1158201444")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "tøken", "hub.challenge": "1"},
        {},
    ],
)
def test_the_handshake_refuses_anyone_without_the_token(query: dict[str, str]) -> None:
    answer = messenger().handshake(get(**query))
    assert answer.status == 403 and b"1" not in answer.body


# X-Hub-Signature-256 ---------------------------------------------------------------


def test_a_body_signed_with_the_app_secret_is_accepted() -> None:
    body = fixture("messenger_text.json")
    messenger().verify(post(body))  # no exception


@pytest.mark.parametrize(
    "signed",
    [
        None,  # missing
        "",
        signature(b"{}"),  # a valid signature of another body
        signature(fixture("messenger_text.json"), "another-app-secret"),  # forged
        signature(fixture("messenger_text.json")).removeprefix("sha256="),  # no prefix
        "sha1=" + hmac.new(APP_SECRET.encode(), fixture("messenger_text.json"), "sha1").hexdigest(),
        "sha256=ünïcode",
    ],
)
def test_missing_forged_or_wrong_signatures_are_refused(signed: str | None) -> None:
    with pytest.raises(SignatureError):
        messenger().verify(post(fixture("messenger_text.json"), signed))


def test_a_body_changed_after_signing_is_refused() -> None:
    body = fixture("messenger_text.json")
    tampered = body.replace(b"Where is my order", b"Refund me now, order")
    with pytest.raises(SignatureError):
        messenger().verify(post(tampered, signature(body)))
    # Even re-serialising the same JSON changes the bytes: signatures are over raw bytes.
    with pytest.raises(SignatureError):
        messenger().verify(post(json.dumps(json.loads(body)).encode(), signature(body)))


# Messenger and Instagram payloads -----------------------------------------------


def test_a_messenger_text_message_is_read() -> None:
    parsed = messenger().parse(post(fixture("messenger_text.json")))
    [message] = parsed.messages
    assert message.channel == "messenger" and message.address == "7012345678901234"
    assert message.text == "Where is my order #1234?"
    assert message.provider_message_id.startswith("m_AG5Hz2")
    assert message.sent_at is not None and message.sent_at.year == 2025
    assert parsed.statuses == () and parsed.reply.status == 200


def test_attachments_and_quick_reply_taps_are_read() -> None:
    image, tap = (
        messenger().parse(post(fixture("messenger_attachment_and_quick_reply.json"))).messages
    )
    assert image.text == "" and image.provider_message_id == "m_image_1"
    assert image.attachments == (
        Attachment("https://scontent.example.com/v/t1.15752-9/photo.jpg", AttachmentKind.IMAGE),
    )
    assert tap.text == "Track my order"


def _attachments_message(*attachments: dict[str, Any]) -> bytes:
    event = {
        "sender": {"id": "7012345678901234"},
        "recipient": {"id": "106540352242922"},
        "timestamp": 1750263773000,
        "message": {"mid": "m_media_1", "attachments": list(attachments)},
    }
    return json.dumps({"object": "page", "entry": [{"id": "1", "messaging": [event]}]}).encode()


CDN = "https://scontent.xx.fbcdn.net/v/t1.15752-9/"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {"type": "image", "payload": {"url": f"{CDN}photo.jpg"}},
            Attachment(f"{CDN}photo.jpg", AttachmentKind.IMAGE),
        ),
        (
            {"type": "audio", "payload": {"url": f"{CDN}audioclip.mp4"}},
            Attachment(f"{CDN}audioclip.mp4", AttachmentKind.AUDIO),
        ),
        (
            {"type": "video", "payload": {"url": f"{CDN}video.mp4"}},
            Attachment(f"{CDN}video.mp4", AttachmentKind.VIDEO),
        ),
        (
            {"type": "file", "payload": {"url": f"{CDN}invoice.pdf"}},
            Attachment(f"{CDN}invoice.pdf", AttachmentKind.FILE),
        ),
        (
            {
                "type": "image",
                "payload": {"url": f"{CDN}like.png", "sticker_id": 369239263222822},
            },
            Attachment(f"{CDN}like.png", AttachmentKind.STICKER),
        ),
        (
            {
                "type": "location",
                "title": "Pin's location",
                "payload": {"coordinates": {"lat": 52.52, "long": 13.405}},
            },
            Attachment(
                "",
                AttachmentKind.LOCATION,
                latitude=52.52,
                longitude=13.405,
                place="Pin's location",
            ),
        ),
    ],
)
def test_each_kind_of_attachment_is_typed_and_a_message_of_one_alone_admitted(
    item: dict[str, Any], expected: Attachment
) -> None:
    parsed = messenger().parse(post(_attachments_message(item)))
    [message] = admit(parsed, max_text_chars=2000).webhook.messages
    assert message.text == "" and message.attachments == (expected,)


def test_shares_and_story_mentions_alone_are_not_messages() -> None:
    shared = {"type": "share", "payload": {"url": f"{CDN}post"}}
    assert messenger().parse(post(_attachments_message(shared))).messages == ()


def test_receipts_become_statuses_and_our_own_echoes_are_ignored() -> None:
    parsed = messenger().parse(post(fixture("messenger_receipts_and_echo.json")))
    assert parsed.messages == ()
    assert [(s.provider_message_id, s.state) for s in parsed.statuses] == [
        ("m_sent_1", DeliveryState.DELIVERED),
        ("m_sent_2", DeliveryState.DELIVERED),
        ("watermark:1750263772000", DeliveryState.READ),
    ]


def test_a_postback_is_read_as_its_title() -> None:
    [message] = messenger().parse(post(fixture("messenger_postback.json"))).messages
    assert (message.text, message.provider_message_id) == ("Talk to a person", "m_postback_1")


def test_instagram_messages_and_read_receipts_are_read() -> None:
    [message] = instagram().parse(post(fixture("instagram_text.json"))).messages
    assert (message.channel, message.text) == ("instagram", "Do you ship to Canada?")
    [read] = instagram().parse(post(fixture("instagram_read.json"))).statuses
    assert read.state is DeliveryState.READ and read.provider_message_id.startswith("aWdf")


def test_a_webhook_for_another_object_or_not_json_is_invalid() -> None:
    with pytest.raises(InvalidInputError):
        messenger().parse(post(fixture("instagram_text.json")))
    with pytest.raises(InvalidInputError):
        instagram().parse(post(fixture("messenger_text.json")))
    for body in (b"", b"[]", b"not json", b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(InvalidInputError):
            messenger().parse(post(body))


def test_unknown_shapes_inside_a_page_webhook_are_skipped_or_refused_one_by_one() -> None:
    odd = {
        "object": "page",
        "entry": [
            "text",
            {"messaging": {"not": "a list"}},
            {"messaging": [{"sender": {"id": 7}, "message": {"mid": 5, "text": ["x"]}}]},
            {"messaging": [{"sender": {}, "message": {"mid": "m", "text": "no sender"}}]},
            {"messaging": [{"sender": {"id": "1"}, "delivery": {"mids": "m_1"}}]},
            {
                "messaging": [
                    {
                        "sender": {"id": "1"},
                        "timestamp": 1e300,
                        "message": {"mid": "m_ok", "text": "hi"},
                    }
                ]
            },
        ],
    }
    parsed = messenger().parse(post(json.dumps(odd).encode()))
    admission = admit(parsed, max_text_chars=MessengerAdapter.max_inbound_text_chars)
    [message] = admission.webhook.messages
    assert (message.text, message.sent_at) == ("hi", None)
    # A message whose text is not text, and one with no sender: refused, each on its own.
    assert sorted(r.reason for r in admission.rejections) == [Reason.BLANK, Reason.MISSING_FIELD]


# Sending through the Graph API -------------------------------------------------------


async def test_a_reply_with_quick_replies_is_sent_to_me_messages(
    graph: FakeGraphApi, http: httpx.AsyncClient
) -> None:
    adapter = messenger(http, graph.base_url)
    replies = (QuickReply("Track my order please now", "TRACK"), QuickReply("Agent", ""))
    receipt = await adapter.send(OutboundMessage("messenger", "psid-1", "Hello!", replies))
    assert receipt.provider_message_id.startswith("m_")
    [body] = graph.to("psid-1")
    assert body["messaging_type"] == "RESPONSE" and body["message"]["text"] == "Hello!"
    assert body["message"]["quick_replies"] == [
        {"content_type": "text", "title": "Track my order pleas", "payload": "TRACK"},
        {"content_type": "text", "title": "Agent", "payload": "Agent"},
    ]


@pytest.mark.parametrize(
    ("status", "body", "temporary", "code"),
    [
        (500, meta_error(2, "Service temporarily unavailable"), True, "2"),
        (503, {"nonsense": True}, True, "503"),
        (429, meta_error(4, "(#4) Application request limit reached"), True, "4"),
        (400, meta_error(613, "Calls to this api have exceeded the rate limit."), True, "613"),
        (400, meta_error(100, "(#100) The parameter recipient is required"), False, "100"),
        (403, meta_error(10, "(#10) This message is sent outside of allowed window."), False, "10"),
    ],
)
async def test_graph_errors_become_temporary_or_permanent_send_errors(
    graph: FakeGraphApi,
    http: httpx.AsyncClient,
    status: int,
    body: dict[str, Any],
    temporary: bool,
    code: str,
) -> None:
    graph.fail_next(1, status, body)
    with pytest.raises(SendError) as raised:
        await messenger(http, graph.base_url).send(OutboundMessage("messenger", "p", "hi"))
    assert isinstance(raised.value, TemporarySendError) is temporary
    assert raised.value.code == code
    assert graph.received == []


async def test_a_wrong_page_token_is_a_permanent_error(
    graph: FakeGraphApi, http: httpx.AsyncClient
) -> None:
    client = GraphClient(http, graph.base_url, "v23.0", SecretStr("stolen"))
    adapter = MessengerAdapter(
        app_secret=SecretStr(APP_SECRET), verify_token=SecretStr(VERIFY_TOKEN), graph=client
    )
    with pytest.raises(SendError) as raised:
        await adapter.send(OutboundMessage("messenger", "p", "hi"))
    assert not isinstance(raised.value, TemporarySendError) and raised.value.code == "190"


async def test_an_unreachable_graph_api_is_temporary(http: httpx.AsyncClient) -> None:
    with pytest.raises(TemporarySendError):
        await messenger(http, "http://127.0.0.1:9").send(OutboundMessage("messenger", "p", "hi"))
