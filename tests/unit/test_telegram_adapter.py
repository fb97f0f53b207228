"""The Telegram adapter: secret-token check, Update parsing, MarkdownV2 sends and Bot API errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.social_adapter.telegram import TelegramAdapter
from shared.channels.adapter import (
    OutboundMessage,
    QuickReply,
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.rendering import render
from shared.errors import InvalidInputError
from tests.fakes.telegram_api import FakeTelegramApi, bot_api, field_problems, markdown_v2_problems

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/telegram"
BOT_TOKEN = "123456:unit-bot-token"
SECRET = "unit-secret-token"
CHAT = 123456789


def adapter(http: httpx.AsyncClient | None = None, base_url: str = "http://127.0.0.1:9") -> Any:
    return TelegramAdapter(
        http=http or httpx.AsyncClient(),
        base_url=base_url,
        bot_token=SecretStr(BOT_TOKEN),
        secret_token=SecretStr(SECRET),
        max_retry_after_seconds=0.2,
    )


def update(name: str, secret: str | None = SECRET) -> WebhookRequest:
    headers = {} if secret is None else {"x-telegram-bot-api-secret-token": secret}
    body = (FIXTURES / name).read_bytes()
    return WebhookRequest("POST", "https://hooks.example.com/telegram", headers, body)


@pytest.fixture
async def bot() -> AsyncIterator[tuple[FakeTelegramApi, TelegramAdapter]]:
    fake = FakeTelegramApi(BOT_TOKEN)
    await fake.start()
    async with httpx.AsyncClient(timeout=5) as http:
        yield fake, adapter(http, fake.base_url)
    await fake.close()


# The secret token --------------------------------------------------------------------


def test_the_configured_secret_token_is_accepted() -> None:
    adapter().verify(update("update_text.json"))


@pytest.mark.parametrize("secret", [None, "", "unit-secret-toke", SECRET + "x", "sécret"])
def test_a_missing_or_wrong_secret_token_is_refused(secret: str | None) -> None:
    with pytest.raises(SignatureError):
        adapter().verify(update("update_text.json", secret))


# Updates -------------------------------------------------------------------------------


def _type_problems(value: Any, type_name: str, types: dict[str, Any]) -> list[str]:
    """Check an object against a Bot API type, following nested types the subset holds."""
    spec = types[type_name]
    problems = [f"{type_name}: {p}" for p in field_problems(spec["fields"], value)]
    for item in spec["fields"]:
        nested = item["types"][0].removeprefix("Array of ")
        if item["name"] in value and nested in types:
            values = value[item["name"]]
            for element in values if isinstance(values, list) else [values]:
                problems += _type_problems(element, nested, types)
    return problems


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("update_*.json")))
def test_every_update_fixture_matches_the_bot_api_types(name: str) -> None:
    types = bot_api()["types"]
    types["MaybeInaccessibleMessage"] = types["Message"]
    value = json.loads((FIXTURES / name).read_text())
    assert _type_problems(value, "Update", types) == []


def test_a_text_message_is_read() -> None:
    [message] = adapter().parse(update("update_text.json")).messages
    assert (message.channel, message.address) == ("telegram", str(CHAT))
    assert message.text == "My parcel hasn't arrived"
    assert message.provider_message_id == f"{CHAT}:42"
    assert (message.display_name, message.locale) == ("Ada Lovelace", "en")
    assert message.sent_at is not None and message.sent_at.timestamp() == 1750263773


def test_an_edit_is_a_new_message_with_its_own_id() -> None:
    [message] = adapter().parse(update("update_edited_message.json")).messages
    assert message.text == "My parcel still hasn't arrived"
    assert message.provider_message_id == f"{CHAT}:42:edited:1750263799"


def test_media_is_referenced_by_file_id_largest_photo_first() -> None:
    [photo] = adapter().parse(update("update_photo.json")).messages
    assert photo.text == "The box was damaged"
    assert [(a.url, a.content_type) for a in photo.attachments] == [
        ("telegram:file/AgACAgQAAxkBAAMrlarge", "image/jpeg")
    ]
    [voice] = adapter().parse(update("update_voice.json")).messages
    assert voice.text == "" and voice.attachments[0].content_type == "audio/ogg"


def test_a_button_tap_is_read_as_its_payload_and_acknowledged_in_the_answer() -> None:
    parsed = adapter().parse(update("update_callback_query.json"))
    [tap] = parsed.messages
    assert (tap.text, tap.address) == ("TRACK_ORDER", str(CHAT))
    assert tap.provider_message_id == "callback:4382bfdwdsb323b2d9"
    assert parsed.reply.content_type == "application/json"
    assert json.loads(parsed.reply.body) == {
        "method": "answerCallbackQuery",
        "callback_query_id": "4382bfdwdsb323b2d9",
    }


def test_other_update_kinds_are_acknowledged_and_ignored() -> None:
    parsed = adapter().parse(update("update_my_chat_member.json"))
    assert parsed.messages == () and parsed.reply.status == 200


@pytest.mark.parametrize(
    "body", [b"", b"[1]", b"{}", b'{"update_id": "1"}', b'{"update_id": true}', b"\xc3("]
)
def test_a_body_that_is_not_an_update_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        adapter().parse(WebhookRequest("POST", "u", {}, body))


def test_odd_shapes_inside_an_update_are_skipped() -> None:
    for message in ({"chat": "x"}, {"chat": {"id": 1}, "message_id": 2}, {"text": 5}, "text"):
        body = json.dumps({"update_id": 1, "message": message}).encode()
        assert adapter().parse(WebhookRequest("POST", "u", {}, body)).messages == ()


# Sends ----------------------------------------------------------------------------------

RESERVED_REPLY = (
    "Order #A-1 (2 items) costs $5.00 + tax = $5.50! Use code [SAVE_10] at "
    "https://shop.example.com/a_b?x=1&y=2 ~ 50% off {today} | > `now` \\ done. **Thanks**"
)


def test_a_reply_full_of_reserved_characters_renders_to_valid_markdown_v2() -> None:
    text, _ = render(RESERVED_REPLY, (), TelegramAdapter.capabilities)
    assert markdown_v2_problems(text) == []
    assert text.endswith("*Thanks*")
    assert markdown_v2_problems(RESERVED_REPLY) != []  # the checker does catch raw text


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300))
def test_any_reply_renders_to_valid_markdown_v2(reply: str) -> None:
    text, _ = render(reply, (), TelegramAdapter.capabilities)
    assert markdown_v2_problems(text) == []


async def test_a_reply_is_sent_as_markdown_v2_with_an_inline_keyboard(
    bot: tuple[FakeTelegramApi, TelegramAdapter],
) -> None:
    fake, telegram = bot
    text, buttons = render(
        RESERVED_REPLY,
        (QuickReply("Track order", "TRACK"), QuickReply("Agent", "ä" * 40)),
        telegram.capabilities,
    )
    receipt = await telegram.send(OutboundMessage("telegram", str(CHAT), text, buttons))
    assert receipt.provider_message_id.startswith(f"{CHAT}:")
    [body] = fake.sent_to(CHAT)
    assert body["parse_mode"] == "MarkdownV2" and body["text"] == text
    keyboard = body["reply_markup"]["inline_keyboard"]
    assert keyboard[0] == [{"text": "Track order", "callback_data": "TRACK"}]
    assert keyboard[1][0]["callback_data"] == "ä" * 32  # 64 bytes, cut on a character


async def test_a_reply_cut_to_telegrams_limit_is_still_valid_markdown_v2(
    bot: tuple[FakeTelegramApi, TelegramAdapter],
) -> None:
    fake, telegram = bot
    text, _ = render("Step 1. Wait. " * 400, (), telegram.capabilities)
    assert len(text) <= 4096
    await telegram.send(OutboundMessage("telegram", str(CHAT), text))
    [body] = fake.sent_to(CHAT)
    assert body["text"].endswith("\\.\\.\\.")  # the fake refuses bad MarkdownV2


async def test_server_errors_and_throttling_are_temporary_and_retry_after_is_honoured(
    bot: tuple[FakeTelegramApi, TelegramAdapter],
) -> None:
    fake, telegram = bot
    fake.fail_next(1, 502, "Bad Gateway")
    with pytest.raises(TemporarySendError):
        await telegram.send(OutboundMessage("telegram", str(CHAT), "hi"))
    fake.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1)
    started = time.monotonic()
    with pytest.raises(TemporarySendError) as throttled:
        await telegram.send(OutboundMessage("telegram", str(CHAT), "hi"))
    assert throttled.value.code == "429"
    assert time.monotonic() - started >= 0.2  # waited, capped by max_retry_after_seconds
    assert fake.sent_to(CHAT) == []


@pytest.mark.parametrize(
    ("status", "description"),
    [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")],
)
async def test_refusals_are_permanent_with_telegrams_error_code(
    bot: tuple[FakeTelegramApi, TelegramAdapter], status: int, description: str
) -> None:
    fake, telegram = bot
    fake.fail_next(1, status, description)
    with pytest.raises(SendError) as refused:
        await telegram.send(OutboundMessage("telegram", str(CHAT), "hi"))
    assert not isinstance(refused.value, TemporarySendError)
    assert refused.value.code == str(status) and description in str(refused.value)


async def test_unescaped_text_and_a_wrong_token_are_refused_without_leaking_the_token(
    bot: tuple[FakeTelegramApi, TelegramAdapter],
) -> None:
    fake, telegram = bot
    with pytest.raises(SendError, match="can't parse entities"):
        await telegram.send(OutboundMessage("telegram", str(CHAT), "1.5 is not escaped"))
    async with httpx.AsyncClient() as http:
        stranger = TelegramAdapter(
            http=http,
            base_url=fake.base_url,
            bot_token=SecretStr("999:wrong"),
            secret_token=SecretStr(SECRET),
        )
        with pytest.raises(SendError) as refused:
            await stranger.send(OutboundMessage("telegram", str(CHAT), "hi"))
    assert refused.value.code == "401" and "999:wrong" not in str(refused.value)


async def test_an_unreachable_bot_api_is_temporary_and_its_error_holds_no_token() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(TemporarySendError) as failed:
            await adapter(http).send(OutboundMessage("telegram", str(CHAT), "hi"))
    assert BOT_TOKEN not in str(failed.value) and failed.value.__cause__ is None


def test_the_reply_window_and_limits_match_the_bot_api() -> None:
    assert TelegramAdapter.capabilities.reply_window is None
    assert TelegramAdapter.capabilities.max_text_chars == 4096
