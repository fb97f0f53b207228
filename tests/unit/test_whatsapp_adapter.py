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
    DeliveryState,
    OutboundMessage,
    QuickReply,
    SendError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.rendering import render
from shared.errors import InvalidInputError
from tests.fakes.graph_api import FakeGraphApi, send_message_validator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/meta"
PHONE_ID = "106540352242922"
TOKEN = "unit-whatsapp-token"


def hook(name: str) -> WebhookRequest:
    body = (FIXTURES / name).read_bytes()
    return WebhookRequest("POST", "https://hooks.example.com/meta/whatsapp", {}, body)


def adapter(http: httpx.AsyncClient | None = None, base_url: str = "http://127.0.0.1:9") -> Any:
    graph = GraphClient(http or httpx.AsyncClient(), base_url, "v23.0", SecretStr(TOKEN))
    return WhatsAppAdapter(
        app_secret=SecretStr("s"),
        verify_token=SecretStr("v"),
        graph=graph,
        phone_number_id=PHONE_ID,
    )


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraphApi, WhatsAppAdapter]]:
    fake = FakeGraphApi(page_token="page", whatsapp_token=TOKEN, phone_number_id=PHONE_ID)
    await fake.start()
    async with httpx.AsyncClient(timeout=5) as http:
        yield fake, adapter(http, fake.base_url)
    await fake.close()


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
    [attachment] = message.attachments
    assert (attachment.url, attachment.content_type) == (
        "whatsapp:media/1003383421387256",
        "image/jpeg",
    )


def test_button_list_and_location_replies_are_read_as_text() -> None:
    [button] = adapter().parse(hook("whatsapp_button_reply.json")).messages
    assert button.text == "Unsubscribe"
    [chosen] = adapter().parse(hook("whatsapp_interactive_reply.json")).messages
    assert chosen.text  # the list row's title
    [place] = adapter().parse(hook("whatsapp_location.json")).messages
    assert place.text.startswith("Location: ") and "37.44221496582" in place.text


def test_reactions_are_not_messages_to_answer() -> None:
    parsed = adapter().parse(hook("whatsapp_reaction.json"))
    assert parsed.messages == () and parsed.statuses == ()


def test_statuses_become_delivery_updates_with_the_platform_error() -> None:
    delivered, failed = adapter().parse(hook("whatsapp_statuses.json")).statuses
    assert delivered.state is DeliveryState.DELIVERED and delivered.address == "+16505551234"
    assert failed.state is DeliveryState.FAILED
    assert (failed.error_code, failed.error_message) == ("131047", "Re-engagement message")


def test_other_objects_and_non_json_are_invalid_and_odd_changes_skipped() -> None:
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
    assert parsed.messages == () and parsed.statuses == ()


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
