"""Messenger, Instagram, WhatsApp and Telegram webhooks under fuzzed batches and bodies.

The app is the social adapter's own (``build``), publishing to a recording publisher.
Batches mix valid messages, whose text carries lone surrogates, control characters and
any code point around a known word, with items broken on purpose (blank text, an id
with a surrogate or a control character, no sender, an impossible phone number, text
over the limit). Every valid item must be published exactly once, retries included, and
no broken one; the answer is 200, or 400 when a webhook's single item is broken. Bodies
of any shape, signed, get 200 or a 4xx: never a 5xx, which a platform retries for days.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rapport.events.v1 import messages_pb2

from services.social_adapter.__main__ import build
from services.social_adapter.config import SocialAdapterSettings
from shared.channels.edge import MAX_TEXT_CHARS
from shared.kafka.topics import INBOUND
from tests.edge_strategies import BLANK, HUGE_DIGITS, NOISE, SAID, SURROGATES, Said, assert_clean
from tests.fakes.ports import FakePublisher, InMemoryContext

APP_SECRET, TELEGRAM_SECRET = "fuzz-app-secret", "fuzz-telegram-secret"
PHONES = ["16505551234", "447911123456", "4915112345678", "5511987654321"]
IMPOSSIBLE_PHONES = ["10000000", "15551234567", "999", "+", "1" * 20, "44abc"]
BROKEN_IDS = st.one_of(SURROGATES, st.sampled_from(["\x00", "\n", "\x1b", "\x85"]))
DEFECTS = ("blank", "broken_id", "no_sender", "too_long")


@dataclass(frozen=True, slots=True)
class Item:
    """One message of a batch: valid when ``defect`` is empty."""

    said: Said
    defect: str = ""
    broken: str = ""  # the character that breaks the id, for "broken_id"


VALID = st.builds(Item, SAID)
BROKEN = st.builds(
    lambda defect, said, blank, broken: Item(
        Said(blank, "") if defect == "blank" else said, defect, broken
    ),
    st.sampled_from(DEFECTS),
    SAID,
    BLANK,
    BROKEN_IDS,
)
BATCH = st.lists(st.one_of(VALID, BROKEN), max_size=6)


def _text(item: Item) -> str:
    return "x" * (MAX_TEXT_CHARS + 1) if item.defect == "too_long" else item.said.text


def _message_id(nonce: str, index: int, item: Item) -> str:
    return f"m_{nonce}_{index}" + (item.broken if item.defect == "broken_id" else "")


def page_webhook(kind: str, nonce: str, items: Sequence[Item]) -> dict[str, Any]:
    """A Messenger (``page``) or Instagram webhook, two events to an entry."""
    events = [
        {
            "sender": {} if item.defect == "no_sender" else {"id": f"psid-{nonce}"},
            "recipient": {"id": "106540352242922"},
            "timestamp": 1750263773000,
            "message": {"mid": _message_id(nonce, index, item), "text": _text(item)},
        }
        for index, item in enumerate(items)
    ]
    entries = [{"id": "1", "messaging": events[i : i + 2]} for i in range(0, len(events), 2)]
    return {"object": kind, "entry": entries}


def whatsapp_webhook(nonce: str, items: Sequence[Item], phones: Sequence[str]) -> dict[str, Any]:
    """A WhatsApp webhook, one change per message, with its sender's profile."""
    changes = []
    for index, (item, phone) in enumerate(zip(items, phones, strict=True)):
        sender = "" if item.defect == "no_sender" else phone
        message = {
            "from": sender,
            "id": _message_id(nonce, index, item),
            "timestamp": "1749416383",
            "type": "text",
            "text": {"body": _text(item)},
        }
        value = {
            "messaging_product": "whatsapp",
            "contacts": [{"profile": {"name": item.said.text[:20]}, "wa_id": sender}],
            "messages": [message],
        }
        changes.append({"field": "messages", "value": value})
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]}


def telegram_update(nonce: int, item: Item) -> dict[str, Any]:
    chat: dict[str, Any] = {} if item.defect == "no_sender" else {"id": nonce, "type": "private"}
    message_id: Any = f"{nonce}{item.broken}" if item.defect == "broken_id" else 42
    sender = {"id": nonce, "is_bot": False, "first_name": item.said.text[:20]}
    return {
        "update_id": nonce,
        "message": {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": 1750263773,
            "text": _text(item),
        },
    }


def _signed(path: str, body: bytes) -> dict[str, str]:
    if path == "/telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def post(path: str, body: bytes) -> int:
    return RUNNER.run(CLIENT.post(path, data=body, headers=_signed(path, body))).status


def published() -> list[messages_pb2.MessageReceived]:
    return [
        event
        for topic, event in PUBLISHER.published
        if topic == INBOUND and isinstance(event, messages_pb2.MessageReceived)
    ]


def check_batch(path: str, body: dict[str, Any], items: Sequence[Item], ids: Sequence[str]) -> None:
    """Post ``body`` twice (a platform retry): each valid item is published once, nothing else."""
    PUBLISHER.published.clear()
    encoded = json.dumps(body).encode()  # lone surrogates travel as \\udXXX escapes
    expected = 400 if len(items) == 1 and items[0].defect else 200
    assert post(path, encoded) == expected
    assert post(path, encoded) == expected
    valid = {
        message_id: item for message_id, item in zip(ids, items, strict=True) if not item.defect
    }
    events = published()
    assert sorted(e.provider_message_id for e in events) == sorted(valid)
    for event in events:
        assert valid[event.provider_message_id].said.word in event.text
        assert_clean(event.text)
        assert_clean(event.envelope.customer.display_name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["page", "instagram"]), items=BATCH)
@example(  # the case that once failed every retry with a 500
    kind="page",
    items=[
        Item(Said("hello one", "one")),
        Item(Said("bad \ud800 two", "two")),
        Item(Said("three", "three")),
    ],
)
def test_every_valid_page_message_is_published_once_whatever_its_neighbours(
    kind: str, items: list[Item]
) -> None:
    nonce = uuid.uuid4().hex
    path = "/meta/messenger" if kind == "page" else "/meta/instagram"
    ids = [_message_id(nonce, index, item) for index, item in enumerate(items)]
    check_batch(path, page_webhook(kind, nonce, items), items, ids)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=BATCH,
    phones=st.lists(st.sampled_from(PHONES), min_size=6, max_size=6),
    impossible=st.lists(st.sampled_from(IMPOSSIBLE_PHONES), min_size=6, max_size=6),
    wrong_phone=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_every_valid_whatsapp_message_is_published_once_whatever_its_neighbours(
    items: list[Item], phones: list[str], impossible: list[str], wrong_phone: list[bool]
) -> None:
    nonce = uuid.uuid4().hex
    senders = [
        bad if wrong else good
        for good, bad, wrong in zip(phones, impossible, wrong_phone, strict=True)
    ]
    # An impossible phone number is one more way for an item to be broken.
    items = [
        Item(item.said, item.defect or ("bad_phone" if wrong else ""), item.broken)
        for item, wrong in zip(items, wrong_phone, strict=False)
    ]
    ids = [_message_id(nonce, index, item) for index, item in enumerate(items)]
    body = whatsapp_webhook(nonce, items, senders[: len(items)])
    check_batch("/meta/whatsapp", body, items, ids)
    for event in published():
        assert event.envelope.customer.address[1:] in PHONES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=st.one_of(VALID, BROKEN))
@example(item=Item(Said("lone \udc00 surrogate", "surrogate")))
def test_a_telegram_message_is_published_once_or_refused_with_a_400(item: Item) -> None:
    nonce = uuid.uuid4().int % 10**12
    chat = "" if item.defect == "no_sender" else str(nonce)
    message_id = f"{nonce}{item.broken}" if item.defect == "broken_id" else "42"
    check_batch("/telegram", telegram_update(nonce, item), [item], [f"{chat}:{message_id}"])


# Bodies of any shape ------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(
        "object entry messaging changes value field messages statuses contacts sender "
        "recipient id mid text message attachments payload url type from body timestamp "
        "postback title delivery mids read watermark is_echo profile name wa_id image "
        "caption mime_type location latitude longitude interactive button_reply status "
        "recipient_id errors code update_id chat message_id date edited_message edit_date "
        "callback_query data photo file_id language_code first_name".split()
    ),
    st.text(max_size=6),
)
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    NOISE,
    BLANK,
    HUGE_DIGITS,
    st.sampled_from(["page", "instagram", "whatsapp_business_account", "messages", "text"]),
    st.sampled_from(["image", "16505551234", "10000000", "m_1", "https://x.test/a.jpg"]),
)
JSON = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
TOP = st.builds(
    lambda kind, rest: {**rest, "object": kind, "update_id": 1},
    st.sampled_from(["page", "instagram", "whatsapp_business_account"]),
    st.dictionaries(KEYS, JSON, max_size=4),
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


RAW = st.one_of(
    TOP.map(_encode),
    JSON.map(_encode),
    st.binary(max_size=200),
    HUGE_DIGITS.map(lambda digits: f'{{"update_id": {digits}}}'.encode()),
)
PATHS = ["/meta/messenger", "/meta/instagram", "/meta/whatsapp", "/telegram"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), body=RAW)
@example(
    path="/telegram",
    body=_encode(
        {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "text": "\ud800"}}
    ),
)
def test_signed_bodies_of_any_shape_get_200_or_a_4xx(path: str, body: bytes) -> None:
    PUBLISHER.published.clear()
    status = post(path, body)
    assert status == 200 or 400 <= status < 500, status
    for event in published():
        assert_clean(event.text)


# The app, once for the module --------------------------------------------------------

PUBLISHER = FakePublisher()
RUNNER: asyncio.Runner
CLIENT: TestClient[Any, Any]
HTTP: httpx.AsyncClient


def setup_module() -> None:
    global RUNNER, CLIENT, HTTP
    RUNNER = asyncio.Runner()
    HTTP = RUNNER.run(_http())
    CLIENT = RUNNER.run(_make(lambda: _app(HTTP)))


async def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient()


def _app(http: httpx.AsyncClient) -> Any:
    config = SocialAdapterSettings(
        metrics_port=0,
        meta_app_secret=APP_SECRET,  # type: ignore[arg-type]
        telegram_secret_token=TELEGRAM_SECRET,  # type: ignore[arg-type]
    )
    return build(config, PUBLISHER, InMemoryContext(), http).app  # type: ignore[arg-type]


async def _make(app: Callable[[], Any]) -> TestClient[Any, Any]:
    client = TestClient(TestServer(app()))
    await client.start_server()
    return client


def teardown_module() -> None:
    RUNNER.run(CLIENT.close())
    RUNNER.run(HTTP.aclose())
    RUNNER.close()
