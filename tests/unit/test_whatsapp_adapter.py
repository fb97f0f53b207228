"""The WhatsApp Cloud API adapter: webhook payloads from the spec's schemas, and sends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from services.social_adapter.meta import GraphClient
from services.social_adapter.whatsapp import WhatsAppAdapter
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    DeliveryState,
    OutboundMessage,
    ParsedWebhook,
    QuickReply,
    SendError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.admission import admit
from shared.channels.edge import Reason
from shared.channels.media import MediaFetcher, OutgoingMedia
from shared.channels.rendering import render
from shared.config import DEFAULT_MEDIA_TYPES
from shared.errors import InvalidInputError
from tests.fakes.graph_api import FakeGraphApi, send_message_validator
from tests.media_helpers import PDF, SIGNING_KEY, LinkedUploads, png

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/meta"
PHONE_ID = "106540352242922"
TOKEN = "unit-whatsapp-token"


def hook(name: str) -> WebhookRequest:
    body = (FIXTURES / name).read_bytes()
    return WebhookRequest("POST", "https://hooks.example.com/meta/whatsapp", {}, body)


def adapter(
    http: httpx.AsyncClient | None = None,
    base_url: str = "http://127.0.0.1:9",
    outgoing: OutgoingMedia | None = None,
) -> Any:
    graph = GraphClient(http or httpx.AsyncClient(), base_url, "v23.0", SecretStr(TOKEN))
    return WhatsAppAdapter(
        app_secret=SecretStr("s"),
        verify_token=SecretStr("v"),
        graph=graph,
        phone_number_id=PHONE_ID,
        outgoing=outgoing or OutgoingMedia(FETCHER, SecretStr(SIGNING_KEY), ()),
    )


FETCHER = MediaFetcher(max_bytes=1024 * 1024, content_types=DEFAULT_MEDIA_TYPES, timeout_seconds=5)


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraphApi, WhatsAppAdapter]]:
    fake = FakeGraphApi(page_token="page", whatsapp_token=TOKEN, phone_number_id=PHONE_ID)
    await fake.start()
    async with httpx.AsyncClient(timeout=5) as http:
        yield fake, adapter(http, fake.base_url)
    await fake.close()


@pytest.fixture
async def uploads(tmp_path: Path) -> AsyncIterator[LinkedUploads]:
    async with LinkedUploads(tmp_path) as served:
        yield served


@pytest.fixture
async def sender(
    uploads: LinkedUploads,
) -> AsyncIterator[tuple[FakeGraphApi, WhatsAppAdapter]]:
    """An adapter that may fetch an agent's attachments from ``uploads``."""
    fake = FakeGraphApi(page_token="page", whatsapp_token=TOKEN, phone_number_id=PHONE_ID)
    await fake.start()
    fetcher = MediaFetcher(
        max_bytes=1024 * 1024, content_types=DEFAULT_MEDIA_TYPES, timeout_seconds=5
    )
    outgoing = OutgoingMedia(fetcher, SecretStr(SIGNING_KEY), [uploads.origin])
    async with httpx.AsyncClient(timeout=5) as http:
        yield fake, adapter(http, fake.base_url, outgoing)
    await fetcher.close()
    await fake.close()


def webhook_with(message: dict[str, Any]) -> WebhookRequest:
    """A WhatsApp webhook whose one message is ``message`` (from the text fixture's sender)."""
    data = json.loads((FIXTURES / "whatsapp_text.json").read_text())
    found = data["entry"][0]["changes"][0]["value"]["messages"][0]
    data["entry"][0]["changes"][0]["value"]["messages"] = [
        {"from": found["from"], "id": "wamid.media1", "timestamp": found["timestamp"], **message}
    ]
    return WebhookRequest("POST", "u", {}, json.dumps(data).encode())


# Webhooks -----------------------------------------------------------------------------


def test_a_text_message_is_read_with_the_sender_in_e164_and_their_profile_name() -> None:
    parsed = adapter().parse(hook("whatsapp_text.json"))
    [message] = parsed.messages
    assert message.channel == "whatsapp"
    assert message.address == "+16505551234"
    assert message.display_name == "Sheena Nelson"
    assert message.text == "Does it come in another color?"
    assert message.provider_message_id.startswith("wamid.")
    assert message.sent_at is not None and message.sent_at.timestamp() == 1749416383
    assert parsed.reply.status == 200


def test_media_is_referenced_by_media_id_with_its_caption() -> None:
    [message] = adapter().parse(hook("whatsapp_image.json")).messages
    assert message.text == "Taj Mahal"
    assert message.attachments == (
        Attachment("whatsapp:media/1003383421387256", AttachmentKind.IMAGE, "image/jpeg"),
    )


MEDIA = {"mime_type": "image/jpeg", "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"type": "image", "image": {**MEDIA, "id": "101"}},
            Attachment("whatsapp:media/101", AttachmentKind.IMAGE, "image/jpeg"),
        ),
        (
            {
                "type": "audio",
                "audio": {"mime_type": "audio/ogg; codecs=opus", "id": "102", "voice": True},
            },
            Attachment(
                "whatsapp:media/102",
                AttachmentKind.AUDIO,
                "audio/ogg; codecs=opus",
                voice_note=True,
            ),
        ),
        (
            {"type": "audio", "audio": {"mime_type": "audio/mpeg", "id": "103", "voice": False}},
            Attachment("whatsapp:media/103", AttachmentKind.AUDIO, "audio/mpeg"),
        ),
        (
            {"type": "video", "video": {"mime_type": "video/mp4", "id": "104"}},
            Attachment("whatsapp:media/104", AttachmentKind.VIDEO, "video/mp4"),
        ),
        (
            {
                "type": "document",
                "document": {"mime_type": "application/pdf", "id": "105", "filename": "bill.pdf"},
            },
            Attachment(
                "whatsapp:media/105", AttachmentKind.FILE, "application/pdf", file_name="bill.pdf"
            ),
        ),
        (
            {"type": "sticker", "sticker": {"mime_type": "image/webp", "id": "106", "animated": 0}},
            Attachment("whatsapp:media/106", AttachmentKind.STICKER, "image/webp"),
        ),
    ],
)
def test_caption_less_media_is_one_typed_attachment_and_admitted(
    message: dict[str, Any], expected: Attachment
) -> None:
    parsed = adapter().parse(webhook_with(message))
    admission = admit(parsed, max_text_chars=WhatsAppAdapter.max_inbound_text_chars)
    [admitted] = admission.webhook.messages
    assert admitted.text == "" and admitted.attachments == (expected,)


def test_a_shared_location_is_a_location_attachment_with_its_name_and_address() -> None:
    [place] = adapter().parse(hook("whatsapp_location.json")).messages
    assert place.text == ""
    [where] = place.attachments
    assert (where.kind, where.reference) == (AttachmentKind.LOCATION, "")
    assert (where.latitude, where.longitude) == (37.44221496582, -122.16165924072)
    assert "101 Forest Ave, Palo Alto" in where.place
    [admitted] = admit(ParsedWebhook((place,)), max_text_chars=4096).webhook.messages
    assert admitted.attachments == (where,)


def test_a_location_without_coordinates_is_refused_as_a_bad_attachment() -> None:
    parsed = adapter().parse(webhook_with({"type": "location", "location": {"name": "Home"}}))
    admission = admit(parsed, max_text_chars=4096)
    assert [r.reason for r in admission.rejections] == [Reason.BAD_ATTACHMENT]


def test_button_and_list_replies_are_read_as_text() -> None:
    [button] = adapter().parse(hook("whatsapp_button_reply.json")).messages
    assert button.text == "Unsubscribe"
    [chosen] = adapter().parse(hook("whatsapp_interactive_reply.json")).messages
    assert chosen.text  # the list row's title


def test_reactions_are_not_messages_to_answer() -> None:
    parsed = adapter().parse(hook("whatsapp_reaction.json"))
    assert parsed.messages == () and parsed.statuses == ()


def test_statuses_become_delivery_updates_with_the_platform_error() -> None:
    delivered, failed = adapter().parse(hook("whatsapp_statuses.json")).statuses
    assert delivered.state is DeliveryState.DELIVERED and delivered.address == "+16505551234"
    assert failed.state is DeliveryState.FAILED
    assert (failed.error_code, failed.error_message) == ("131047", "Re-engagement message")


def test_other_objects_and_non_json_are_invalid_and_odd_changes_skipped_or_refused() -> None:
    page = WebhookRequest("POST", "u", {}, (FIXTURES / "messenger_text.json").read_bytes())
    with pytest.raises(InvalidInputError):
        adapter().parse(page)
    with pytest.raises(InvalidInputError):
        adapter().parse(WebhookRequest("POST", "u", {}, b"\x00"))
    data = json.loads((FIXTURES / "whatsapp_text.json").read_text())
    change = data["entry"][0]["changes"][0]
    data["entry"][0]["changes"] = [
        {**change, "field": "group_lifecycle_update"},
        {"field": "messages", "value": {"messages": [{"from": "1", "id": "x", "type": "text"}]}},
        {
            "field": "messages",
            "value": {"messages": [{"id": "x", "type": "text", "text": {"body": "no sender"}}]},
        },
        {
            "field": "messages",
            "value": {"statuses": [{"id": "x", "status": "exploded", "recipient_id": "1"}]},
        },
    ]
    parsed = adapter().parse(WebhookRequest("POST", "u", {}, json.dumps(data).encode()))
    admission = admit(parsed, max_text_chars=WhatsAppAdapter.max_inbound_text_chars)
    assert admission.webhook.messages == () and admission.webhook.statuses == ()
    assert sorted(r.reason for r in admission.rejections) == [Reason.BLANK, Reason.MISSING_FIELD]


# Sends, checked by the fake against the spec's send-message schema -----------------


def test_the_schema_copy_accepts_the_specs_own_request_examples() -> None:
    validator = send_message_validator()
    examples = json.loads((FIXTURES / "whatsapp_send_message.examples.json").read_text())
    for name, example in examples.items():
        assert validator.is_valid(example), name
    wrong = {**examples["Send Text Message"], "text": {"body": "x", "colour": "red"}}
    assert not validator.is_valid(wrong)


async def test_a_text_reply_is_sent_as_a_text_message(
    graph: tuple[FakeGraphApi, WhatsAppAdapter],
) -> None:
    fake, whatsapp = graph
    text, _ = render("Your order **4711** ships today.", (), whatsapp.capabilities)
    receipt = await whatsapp.send(OutboundMessage("whatsapp", "+16505551234", text))
    assert receipt.provider_message_id.startswith("wamid.")
    [body] = fake.to("16505551234")
    assert body["type"] == "text" and body["text"]["body"] == "Your order *4711* ships today."


async def test_quick_replies_become_reply_buttons_and_long_text_falls_back_to_text(
    graph: tuple[FakeGraphApi, WhatsAppAdapter],
) -> None:
    fake, whatsapp = graph
    buttons = (QuickReply("Track my order, please", "TRACK"), QuickReply("Agent", ""))
    await whatsapp.send(OutboundMessage("whatsapp", "+15550001111", "Pick one", buttons))
    await whatsapp.send(OutboundMessage("whatsapp", "+15550001111", "x" * 2000, buttons))
    interactive, text = fake.to("15550001111")
    assert interactive["interactive"]["action"]["buttons"] == [
        {"type": "reply", "reply": {"id": "TRACK", "title": "Track my order, plea"}},
        {"type": "reply", "reply": {"id": "Agent", "title": "Agent"}},
    ]
    assert text["type"] == "text"


async def test_a_template_is_sent_in_the_schema_shape(
    graph: tuple[FakeGraphApi, WhatsAppAdapter],
) -> None:
    fake, whatsapp = graph
    await whatsapp.send_template("+15550002222", "customer_care_follow_up")
    [body] = fake.to("15550002222")
    assert body["template"] == {"name": "customer_care_follow_up", "language": {"code": "en_US"}}


async def test_cloud_api_errors_carry_metas_code(
    graph: tuple[FakeGraphApi, WhatsAppAdapter],
) -> None:
    fake, whatsapp = graph
    fake.fail_next(1, 400, {"error": {"message": "Re-engagement message", "code": 131047}})
    with pytest.raises(SendError) as refused:
        await whatsapp.send(OutboundMessage("whatsapp", "+15550003333", "hi"))
    assert refused.value.code == "131047" and not isinstance(refused.value, TemporarySendError)
    fake.fail_next(1, 400, {"error": {"message": "Rate limit hit", "code": 130429}})
    with pytest.raises(TemporarySendError):
        await whatsapp.send(OutboundMessage("whatsapp", "+15550003333", "hi"))


# An agent's image or file -----------------------------------------------------------


async def test_an_agents_photo_is_uploaded_then_sent_by_media_id_with_its_caption(
    uploads: LinkedUploads, sender: tuple[FakeGraphApi, WhatsAppAdapter]
) -> None:
    fake, whatsapp = sender
    photo = png()
    link = await uploads.link(photo)
    image = Attachment(link, AttachmentKind.IMAGE, "image/png", file_name="parcel.png")
    message = OutboundMessage("whatsapp", "+15550004444", "Is this it?", attachments=(image,))
    receipt = await whatsapp.send(message)
    assert receipt.provider_message_id.startswith("wamid.")
    [body] = fake.to("15550004444")
    assert body["type"] == "image" and body["image"]["caption"] == "Is this it?"
    uploaded = fake.media[body["image"]["id"]]
    assert (uploaded.body, uploaded.content_type, uploaded.file_name) == (
        photo,
        "image/png",
        "parcel.png",
    )


async def test_a_pdf_goes_as_a_document_with_its_file_name(
    uploads: LinkedUploads, sender: tuple[FakeGraphApi, WhatsAppAdapter]
) -> None:
    fake, whatsapp = sender
    link = await uploads.link(PDF)
    invoice = Attachment(link, AttachmentKind.FILE, "application/pdf", file_name="invoice.pdf")
    await whatsapp.send(OutboundMessage("whatsapp", "+15550005555", "", attachments=(invoice,)))
    [body] = fake.to("15550005555")
    assert body["type"] == "document"
    assert body["document"]["filename"] == "invoice.pdf" and "caption" not in body["document"]
    assert fake.media[body["document"]["id"]].body == PDF


async def test_an_attachment_whose_link_is_not_signed_with_our_key_is_not_sent(
    uploads: LinkedUploads, sender: tuple[FakeGraphApi, WhatsAppAdapter]
) -> None:
    fake, whatsapp = sender
    forged = await uploads.link(png(), key="someone-elses-key-0123456789")
    image = Attachment(forged, AttachmentKind.IMAGE)
    with pytest.raises(SendError) as refused:
        await whatsapp.send(OutboundMessage("whatsapp", "+15550006666", "", attachments=(image,)))
    assert refused.value.code == "bad_signature"
    assert not isinstance(refused.value, TemporarySendError)
    assert fake.media == {} and fake.to("15550006666") == []
