"""The edge rules every inbound channel shares, and how the intake applies them item by item."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from pydantic import SecretStr
from rapport.events.v1 import messages_pb2

from services.social_adapter.messenger import MessengerAdapter
from services.social_adapter.meta import GraphClient
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    DeliveryState,
    InboundMessage,
    ParsedWebhook,
    StatusUpdate,
)
from shared.channels.admission import admit
from shared.channels.edge import (
    Reason,
    RejectedInput,
    clean_text,
    count,
    identifier,
    label,
    message_text,
    phone_number,
)
from shared.channels.webhooks import PublicUrls, WebhookIntake
from tests.edge_strategies import ANY_CHARACTER, HUGE_DIGITS, assert_clean
from tests.fakes.ports import FakePublisher

APP_SECRET = "edge-app-secret"

# Text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("half an emoji \ud83d!", "half an emoji \ufffd!"),
        ("\udc00 alone", "\ufffd alone"),
        ("a pair as two halves \ud83d\ude00", "a pair as two halves \U0001f600"),
        ("one\r\ntwo\rthree\nfour\tfive", "one\ntwo\nthree\nfour\tfive"),
        (
            "bell\x07 nul\x00 escape\x1b del\x7f next-line\x85 end",
            "bell nul escape del next-line end",
        ),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("zero\u200dwidth joiner stays", "zero\u200dwidth joiner stays"),
    ],
)
def test_text_is_repaired_not_refused(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@given(st.text(ANY_CHARACTER, max_size=60))
def test_any_text_comes_out_encodable_without_controls_in_nfc_and_stays_so(raw: str) -> None:
    cleaned = clean_text(raw)
    assert_clean(cleaned.strip())
    assert clean_text(cleaned) == cleaned


def test_message_text_is_trimmed_and_bounded() -> None:
    assert message_text("  \x00 hi there \t\n") == "hi there"
    assert message_text("x" * 10, max_chars=10) == "x" * 10
    with pytest.raises(RejectedInput) as refused:
        message_text("x" * 11, max_chars=10)
    assert refused.value.reason is Reason.TOO_LONG


def test_labels_are_cleaned_put_on_one_line_and_cut() -> None:
    assert label("  Ada\nLovelace\x00 \ud800 ") == "Ada Lovelace \ufffd"
    assert label("x" * 300) == "x" * 256
    assert label("ab cd", max_chars=3) == "ab"


# Identifiers, counts, phone numbers -----------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", Reason.MISSING_FIELD),
        ("   ", Reason.MISSING_FIELD),
        ("m_1\ud800", Reason.BAD_ID),
        ("m_1\x00", Reason.BAD_ID),
        ("m_1\n", Reason.BAD_ID),
        ("m" * 513, Reason.BAD_ID),
    ],
)
def test_ids_are_refused_not_repaired(raw: str, reason: Reason) -> None:
    with pytest.raises(RejectedInput) as refused:
        identifier(raw, field="the message id")
    assert refused.value.reason is reason
    assert identifier("m_AG5Hz2-_=", field="the message id") == "m_AG5Hz2-_="


@pytest.mark.parametrize(
    "raw", ["9" * 5000, "1" + "0" * 4400, "11", "-1", "1e3", "²", "٣", "", "x"]
)
def test_counts_that_are_not_small_ascii_numbers_are_refused(raw: str) -> None:
    with pytest.raises(RejectedInput) as refused:
        count(raw, field="NumMedia", maximum=10)
    assert refused.value.reason is Reason.BAD_NUMBER


@given(st.one_of(st.text(max_size=30), HUGE_DIGITS, st.integers(0, 10).map(str)))
def test_a_count_is_a_number_in_range_or_a_refusal(raw: str) -> None:
    try:
        number = count(raw, field="NumMedia", maximum=10)
    except RejectedInput:
        return
    assert 0 <= number <= 10 and number == int(raw.strip())


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("+14155550123", "+14155550123"),
        ("+447911123456", "+447911123456"),
        (" +4915112345678 ", "+4915112345678"),
    ],
)
def test_phone_numbers_that_can_exist_are_taken_in_e164(raw: str, canonical: str) -> None:
    assert phone_number(raw, field="From") == canonical


@pytest.mark.parametrize(
    "raw",
    [
        "+10000000",
        "+15551234567",
        "4155550123",
        "+1 415 555 0123",
        "tel:+14155550123",
        "+999",
        "+",
        "+14155550123\x00",
        "+1" + "9" * 5000,
    ],
)
def test_impossible_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(RejectedInput) as refused:
        phone_number(raw, field="From")
    assert refused.value.reason is Reason.BAD_PHONE


@given(st.text(st.one_of(ANY_CHARACTER, st.sampled_from("+0123456789")), max_size=20))
def test_a_phone_number_is_e164_or_a_refusal(raw: str) -> None:
    try:
        number = phone_number(raw, field="From")
    except RejectedInput:
        return
    assert number.startswith("+") and number[1:].isascii() and number[1:].isdigit()


# Admission of a webhook's items ---------------------------------------------------------


def _message(mid: str, text: str, *, sender: str = "psid-1", media: str = "") -> InboundMessage:
    attachments = (Attachment(media, AttachmentKind.IMAGE),) if media else ()
    return InboundMessage("messenger", sender, text, mid, attachments=attachments)


def test_each_item_is_admitted_or_refused_on_its_own() -> None:
    parsed = ParsedWebhook(
        messages=(
            _message("m1", "first"),
            _message("m2", "broken \ud800 emoji"),
            _message("m3", " \t\x00 "),
            _message("m4\x00", "bad id"),
            _message("m5", "no sender", sender=""),
            _message("m6", "", media="https://cdn.example.test/photo.jpg"),
            _message("m7", "  ", media="https://cdn.example.test/\ud800"),
            _message("m8", "last"),
        ),
        statuses=(
            StatusUpdate("messenger", "psid-1", "m_sent", DeliveryState.READ),
            StatusUpdate("messenger", "psid-1", "", DeliveryState.READ),
        ),
    )
    admission = admit(parsed, max_text_chars=100)
    assert [(m.provider_message_id, m.text) for m in admission.webhook.messages] == [
        ("m1", "first"),
        ("m2", "broken \ufffd emoji"),
        ("m6", ""),  # media with no text is a message
        ("m8", "last"),
    ]
    assert [s.provider_message_id for s in admission.webhook.statuses] == ["m_sent"]
    assert [r.reason for r in admission.rejections] == [
        Reason.BLANK,
        Reason.BAD_ID,
        Reason.MISSING_FIELD,
        Reason.BAD_ATTACHMENT,
        Reason.MISSING_FIELD,
    ]
    assert not admission.refused_whole


@pytest.mark.parametrize(
    ("attachment", "reason"),
    [
        (Attachment("", AttachmentKind.IMAGE), Reason.MISSING_FIELD),
        (
            Attachment("whatsapp:media/1", AttachmentKind.IMAGE, size_bytes=-1),
            Reason.BAD_ATTACHMENT,
        ),
        (
            Attachment("whatsapp:media/1", AttachmentKind.FILE, size_bytes=2**63),
            Reason.BAD_ATTACHMENT,
        ),
        (Attachment("", AttachmentKind.LOCATION, latitude=91.0), Reason.BAD_ATTACHMENT),
        (Attachment("", AttachmentKind.LOCATION, longitude=float("nan")), Reason.BAD_ATTACHMENT),
        (Attachment("", AttachmentKind.LOCATION, latitude=float("inf")), Reason.BAD_ATTACHMENT),
    ],
)
def test_an_attachment_without_a_reference_or_with_impossible_numbers_is_refused(
    attachment: Attachment, reason: Reason
) -> None:
    message = InboundMessage("whatsapp", "+16505551234", "", "w1", attachments=(attachment,))
    admission = admit(ParsedWebhook((message,)), max_text_chars=100)
    assert [r.reason for r in admission.rejections] == [reason]


def test_an_attachments_names_are_cleaned_and_a_location_needs_no_reference() -> None:
    photo = Attachment(
        "telegram:file/AgAC",
        AttachmentKind.IMAGE,
        content_type=" image/jpeg\x00",
        file_name="box\x07 photo.jpg",
    )
    place = Attachment(
        "",
        AttachmentKind.LOCATION,
        latitude=-33.8568,
        longitude=151.2153,
        place="Sydney\nOpera  House",
    )
    message = InboundMessage("telegram", "42", "", "42:1", attachments=(photo, place))
    [admitted] = admit(ParsedWebhook((message,)), max_text_chars=100).webhook.messages
    assert [(a.content_type, a.file_name, a.place) for a in admitted.attachments] == [
        ("image/jpeg", "box photo.jpg", ""),
        ("", "", "Sydney Opera House"),
    ]


def test_a_webhook_is_refused_whole_only_when_its_single_item_is() -> None:
    assert admit(ParsedWebhook((_message("m1", " "),)), max_text_chars=100).refused_whole
    assert not admit(ParsedWebhook((_message("m1", "hi"),)), max_text_chars=100).refused_whole
    two_bad = ParsedWebhook((_message("m1", " "), _message("m2", "")))
    assert not admit(two_bad, max_text_chars=100).refused_whole  # 200: Meta must not retry
    assert not admit(ParsedWebhook(), max_text_chars=100).refused_whole


def test_phone_channels_get_canonical_numbers_and_lose_impossible_ones() -> None:
    parsed = ParsedWebhook(
        messages=(
            InboundMessage("whatsapp", "+16505551234", "hi", "w1"),
            InboundMessage("whatsapp", "+10000000", "hi", "w2"),
            InboundMessage("sms", "4155550123", "hi", "s1"),
        )
    )
    admission = admit(parsed, max_text_chars=100)
    assert [m.address for m in admission.webhook.messages] == ["+16505551234"]
    assert [r.reason for r in admission.rejections] == [Reason.BAD_PHONE, Reason.BAD_PHONE]


# The intake, on Messenger's real adapter ------------------------------------------------


@pytest.fixture
async def messenger_hook() -> AsyncIterator[tuple[TestClient[Any, Any], FakePublisher]]:
    async with httpx.AsyncClient() as http:
        graph = GraphClient(http, "http://127.0.0.1:9", "v23.0", SecretStr("token"))
        adapter = MessengerAdapter(
            app_secret=SecretStr(APP_SECRET), verify_token=SecretStr("verify"), graph=graph
        )
        publisher = FakePublisher()
        app = web.Application()
        app.add_routes(WebhookIntake(adapter, publisher, PublicUrls()).routes("/hook"))
        async with TestClient(TestServer(app)) as client:
            yield client, publisher


def _page(*texts: str) -> bytes:
    events = [
        {"sender": {"id": "psid-9"}, "message": {"mid": f"mid-{i}", "text": text}}
        for i, text in enumerate(texts)
    ]
    return json.dumps({"object": "page", "entry": [{"messaging": events}]}).encode()


async def _post(
    client: TestClient[Any, Any], body: bytes, secret: str = APP_SECRET
) -> tuple[int, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    answer = await client.post(
        "/hook", data=body, headers={"X-Hub-Signature-256": f"sha256={digest}"}
    )
    return answer.status, await answer.text()


def _rejected(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "rapport_webhook_items_rejected_total", {"channel": "messenger", "reason": reason}
    )
    return value or 0.0


async def test_a_batch_publishes_its_good_items_counts_and_logs_the_bad_one_and_answers_200(
    messenger_hook: tuple[TestClient[Any, Any], FakePublisher], caplog: pytest.LogCaptureFixture
) -> None:
    client, publisher = messenger_hook
    blanks_before = _rejected("blank")
    with caplog.at_level(logging.WARNING, logger="shared.channels.webhooks"):
        assert (await _post(client, _page("first", "lone \ud800 half", "\x00 ", "last")))[0] == 200
    published = [e for _, e in publisher.published if isinstance(e, messages_pb2.MessageReceived)]
    assert [(e.provider_message_id, e.text) for e in published] == [
        ("mid-0", "first"),
        ("mid-1", "lone \ufffd half"),
        ("mid-3", "last"),
    ]
    assert _rejected("blank") == blanks_before + 1
    [logged] = [r for r in caplog.records if "mid-2" in r.getMessage()]
    assert "blank" in logged.getMessage()


async def test_a_single_bad_item_or_a_bad_body_is_a_400_with_the_reason_and_forgery_a_403(
    messenger_hook: tuple[TestClient[Any, Any], FakePublisher],
) -> None:
    client, publisher = messenger_hook
    status, reason = await _post(client, _page(" \t "))
    assert status == 400 and reason.startswith("blank:")
    assert (await _post(client, b'{"object": "page", "entry": [' + b"9" * 5000 + b"]}"))[0] == 400
    assert (await _post(client, _page("hi"), secret="forged"))[0] == 403
    assert publisher.published == []


def test_repaired_text_is_what_protobuf_takes() -> None:
    event = messages_pb2.MessageReceived(text=clean_text("a \ud800 b \x00"))
    assert messages_pb2.MessageReceived.FromString(event.SerializeToString()).text == "a \ufffd b "
    assert unicodedata.is_normalized("NFC", event.text)
