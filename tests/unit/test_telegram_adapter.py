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
    Attachment,
    AttachmentKind,
    OutboundMessage,
    QuickReply,
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.admission import admit
from shared.channels.media import MediaFetcher, OutgoingMedia
from shared.channels.rendering import render
from shared.config import DEFAULT_MEDIA_TYPES
from shared.errors import InvalidInputError
from tests.fakes.telegram_api import (
    FakeTelegramApi,
    Upload,
    bot_api,
    field_problems,
    markdown_v2_problems,
)
from tests.media_helpers import PDF, SIGNING_KEY, LinkedUploads, png

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/telegram"
BOT_TOKEN = "123456:unit-bot-token"
SECRET = "unit-secret-token"
CHAT = 123456789


FETCHER = MediaFetcher(max_bytes=1024 * 1024, content_types=DEFAULT_MEDIA_TYPES, timeout_seconds=5)


def adapter(
    http: httpx.AsyncClient | None = None,
    base_url: str = "http://127.0.0.1:9",
    outgoing: OutgoingMedia | None = None,
) -> Any:
    return TelegramAdapter(
        http=http or httpx.AsyncClient(),
        base_url=base_url,
        bot_token=SecretStr(BOT_TOKEN),
        secret_token=SecretStr(SECRET),
        outgoing=outgoing or OutgoingMedia(FETCHER, SecretStr(SIGNING_KEY), ()),
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


def test_a_photo_is_its_largest_size_by_file_id_with_that_size() -> None:
    [photo] = adapter().parse(update("update_photo.json")).messages
    assert photo.text == "The box was damaged"
    assert photo.attachments == (
        Attachment(
            "telegram:file/AgACAgQAAxkBAAMrlarge",
            AttachmentKind.IMAGE,
            "image/jpeg",
            size_bytes=84012,
        ),
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "update_voice.json",
            Attachment(
                "telegram:file/AwACAgQAAxkBAAMsvoice",
                AttachmentKind.AUDIO,
                "audio/ogg",
                size_bytes=9012,
                voice_note=True,
            ),
        ),
        (
            "update_document.json",
            Attachment(
                "telegram:file/BQACAgQAAxkBAAMudocument",
                AttachmentKind.FILE,
                "application/pdf",
                size_bytes=48213,
                file_name="invoice-4711.pdf",
            ),
        ),
        (
            "update_sticker.json",
            Attachment(
                "telegram:file/CAACAgIAAxkBAAMvsticker",
                AttachmentKind.STICKER,
                "image/webp",
                size_bytes=23012,
            ),
        ),
        (
            "update_video_note.json",
            Attachment(
                "telegram:file/DQACAgQAAxkBAAMwnote",
                AttachmentKind.VIDEO,
                "video/mp4",
                size_bytes=310422,
            ),
        ),
        (
            "update_venue.json",
            Attachment(
                "",
                AttachmentKind.LOCATION,
                latitude=51.501364,
                longitude=-0.14189,
                place="Buckingham Palace, London SW1A 1AA",
            ),
        ),
    ],
)
def test_media_without_text_is_one_typed_attachment_and_admitted(
    name: str, expected: Attachment
) -> None:
    parsed = adapter().parse(update(name))
    admission = admit(parsed, max_text_chars=TelegramAdapter.max_inbound_text_chars)
    [message] = admission.webhook.messages
    assert message.text == "" and message.attachments == (expected,)


def test_audio_files_animations_and_plain_locations_are_read_once_each() -> None:
    chat = {"id": CHAT, "type": "private"}
    message = {
        "message_id": 50,
        "date": 1750263870,
        "chat": chat,
        "audio": {"file_id": "CQAC1", "file_unique_id": "u1", "duration": 3, "title": "Song"},
        "animation": {"file_id": "CgAC2", "file_unique_id": "u2", "width": 1, "height": 1},
        "document": {"file_id": "CgAC2", "file_unique_id": "u2", "mime_type": "video/mp4"},
        "location": {"latitude": 48.8584, "longitude": 2.2945},
    }
    body = json.dumps({"update_id": 1, "message": message}).encode()
    [found] = adapter().parse(WebhookRequest("POST", "u", {}, body)).messages
    assert [(a.reference, a.kind, a.voice_note) for a in found.attachments] == [
        ("telegram:file/CgAC2", AttachmentKind.VIDEO, False),
        ("telegram:file/CQAC1", AttachmentKind.AUDIO, False),
        ("", AttachmentKind.LOCATION, False),
    ]


def test_a_live_location_moving_is_not_read_again() -> None:
    moved = {
        "message_id": 51,
        "date": 1750263880,
        "edit_date": 1750263890,
        "chat": {"id": CHAT, "type": "private"},
        "location": {"latitude": 48.8585, "longitude": 2.2946, "live_period": 900},
    }
    body = json.dumps({"update_id": 2, "edited_message": moved}).encode()
    assert adapter().parse(WebhookRequest("POST", "u", {}, body)).messages == ()


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


def test_odd_shapes_inside_an_update_are_skipped_or_refused_never_published() -> None:
    for message in ({"chat": "x"}, {"chat": {"id": 1}, "message_id": 2}, {"text": 5}, "text"):
        body = json.dumps({"update_id": 1, "message": message}).encode()
        parsed = adapter().parse(WebhookRequest("POST", "u", {}, body))
        admission = admit(parsed, max_text_chars=TelegramAdapter.max_inbound_text_chars)
        assert admission.webhook.messages == ()


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
            outgoing=OutgoingMedia(FETCHER, SecretStr(SIGNING_KEY), ()),
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


# An agent's image or file --------------------------------------------------------------


@pytest.fixture
async def sender(tmp_path: Path) -> AsyncIterator[tuple[FakeTelegramApi, TelegramAdapter, Any]]:
    """An adapter that may fetch an agent's attachments from the uploads served here."""
    fake = FakeTelegramApi(BOT_TOKEN)
    await fake.start()
    fetcher = MediaFetcher(
        max_bytes=1024 * 1024, content_types=DEFAULT_MEDIA_TYPES, timeout_seconds=5
    )
    async with LinkedUploads(tmp_path) as uploads, httpx.AsyncClient(timeout=5) as http:
        outgoing = OutgoingMedia(fetcher, SecretStr(SIGNING_KEY), [uploads.origin])
        yield fake, adapter(http, fake.base_url, outgoing), uploads
    await fetcher.close()
    await fake.close()


async def test_an_agents_photo_goes_with_send_photo_and_an_escaped_caption(
    sender: tuple[FakeTelegramApi, TelegramAdapter, LinkedUploads],
) -> None:
    fake, telegram, uploads = sender
    photo = png()
    image = Attachment(await uploads.link(photo), AttachmentKind.IMAGE, file_name="box.png")
    caption, _ = render("Is this **your** parcel (#4711)?", (), telegram.capabilities)
    receipt = await telegram.send(
        OutboundMessage("telegram", str(CHAT), caption, attachments=(image,))
    )
    assert receipt.provider_message_id.startswith(f"{CHAT}:")
    [(method, body)] = fake.files_sent_to(str(CHAT))
    assert method == "sendPhoto"
    assert (body["caption"], body["parse_mode"]) == (caption, "MarkdownV2")
    assert body["photo"] == Upload("box.png", "image/png", photo)


async def test_a_pdf_goes_with_send_document_and_no_caption_when_there_is_no_text(
    sender: tuple[FakeTelegramApi, TelegramAdapter, LinkedUploads],
) -> None:
    fake, telegram, uploads = sender
    invoice = Attachment(await uploads.link(PDF), AttachmentKind.FILE)
    await telegram.send(OutboundMessage("telegram", str(CHAT), "", attachments=(invoice,)))
    [(method, body)] = fake.files_sent_to(str(CHAT))
    assert method == "sendDocument" and "caption" not in body
    assert body["document"] == Upload("attachment.pdf", "application/pdf", PDF)
