"""Telegram bots: Bot API webhooks in, ``sendMessage`` out.

Telegram signs nothing; instead ``setWebhook(secret_token=…)`` makes it send that secret
in ``X-Telegram-Bot-Api-Secret-Token`` on every call, compared here in constant time.
An ``Update`` holds at most one of its kinds; ``message`` and ``edited_message`` (text,
or a caption with a photo, document, voice note…) become inbound messages, and a tap on
an inline-keyboard button (``callback_query``) becomes the button's payload as text.
The webhook answer acknowledges the tap (``answerCallbackQuery`` as the reply body, which
the Bot API accepts in place of a separate call), so the button stops spinning.

Message ids are unique per chat only, so the provider id is ``<chat id>:<message id>``
(an edit adds its edit time: an edit is a new thing to read). A message with a missing
id or blank text is passed on as read, for the shared edge rules to refuse and count.
Media becomes typed attachments referenced by ``file_id`` (``telegram:file/<id>``): a
photo (its largest size), voice note, audio, video, video note, animation, document
(with its name, type and size), sticker; a location or venue becomes a location
attachment (an edited one, a live location moving, is not read again). Fetching a file
needs the bot token, which never leaves this service.

Replies go out as MarkdownV2 (``shared.channels.rendering`` escaped them already) with
quick replies as an inline keyboard; an agent's image goes out with ``sendPhoto`` (JPEG,
PNG, WebP) and any other file with ``sendDocument``, uploaded as ``multipart/form-data``
with the text as its caption. The bot token is part of the Bot API URL, so URLs are never
logged or put into error messages.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

import httpx
from pydantic import SecretStr

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.payloads import (
    JsonObject,
    load_object,
    location,
    moment,
    obj,
    objects,
    size,
    text,
)
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    Capabilities,
    ChannelAdapter,
    DeliveryReceipt,
    Formatting,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
    WebhookResponse,
)
from shared.channels.media import OutgoingMedia, file_name_for
from shared.channels.registry import ChannelSpec
from shared.errors import InvalidInputError

CHANNEL = ChannelSpec(
    name="telegram",
    service="social_adapter",
    label="Telegram",
    routes=("/telegram",),
    settings=SocialAdapterSettings,
    capabilities=lambda: TelegramAdapter.capabilities,
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ACCEPTED = WebhookResponse(200, b"")
FILE_PREFIX = "telegram:file/"
"""References of customers' media: ``telegram:file/<file_id>``."""
_CALLBACK_DATA_BYTES = 64
_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # sent with sendPhoto
# Media kinds of a Message: what each is, and the content type to assume when Telegram
# names none. An animation also comes as a document, for old clients: it is read once.
_MEDIA = {
    "animation": (AttachmentKind.VIDEO, "video/mp4"),
    "document": (AttachmentKind.FILE, "application/octet-stream"),
    "voice": (AttachmentKind.AUDIO, "audio/ogg"),
    "audio": (AttachmentKind.AUDIO, "audio/mpeg"),
    "video": (AttachmentKind.VIDEO, "video/mp4"),
    "video_note": (AttachmentKind.VIDEO, "video/mp4"),
}


def _file(
    media: JsonObject, kind: AttachmentKind, content_type: str, *, voice_note: bool = False
) -> Attachment:
    return Attachment(
        f"{FILE_PREFIX}{text(media, 'file_id', 256)}",
        kind,
        content_type=text(media, "mime_type", 128) or content_type,
        size_bytes=size(media.get("file_size")),
        file_name=text(media, "file_name"),
        voice_note=voice_note,
    )


def _sticker(sticker: JsonObject) -> Attachment:
    """Stickers are WebP images, or TGS (animated) and WebM (video) ones."""
    content_type = "image/webp"
    if sticker.get("is_animated") is True:
        content_type = "application/x-tgsticker"
    elif sticker.get("is_video") is True:
        content_type = "video/webm"
    return _file(sticker, AttachmentKind.STICKER, content_type)


def _place(message: JsonObject) -> Attachment | None:
    """A shared location, or a venue (which also comes as a location, for old clients)."""
    venue = obj(message, "venue")
    where = obj(venue, "location") if venue else obj(message, "location")
    if not where:
        return None
    return location(where, text(venue, "title"), text(venue, "address"))


def _attachments(message: JsonObject, *, with_place: bool) -> tuple[Attachment, ...]:
    """What a message carries; ``with_place`` False for an edit, which for a place is a
    live location moving (read once, when it was shared)."""
    found: list[Attachment] = []
    photos = [photo for photo in objects(message, "photo") if text(photo, "file_id", 256)]
    if photos:  # the same photo in several sizes, the largest last
        found.append(_file(photos[-1], AttachmentKind.IMAGE, "image/jpeg"))
    for field_name, (kind, content_type) in _MEDIA.items():
        media = obj(message, field_name)
        if field_name == "document" and "animation" in message:
            continue
        if text(media, "file_id", 256):
            found.append(_file(media, kind, content_type, voice_note=field_name == "voice"))
    if text(obj(message, "sticker"), "file_id", 256):
        found.append(_sticker(obj(message, "sticker")))
    place = _place(message) if with_place else None
    if place is not None:
        found.append(place)
    return tuple(found)


def _name(user: JsonObject) -> str:
    full = " ".join(part for part in (text(user, "first_name"), text(user, "last_name")) if part)
    return full or text(user, "username")


def _callback_data(payload: str, title: str) -> str:
    """Telegram takes 1–64 bytes of callback data; cut on a character boundary."""
    data = (payload or title).encode()[:_CALLBACK_DATA_BYTES]
    return data.decode(errors="ignore") or "-"


class TelegramAdapter(ChannelAdapter):
    name = CHANNEL.name
    capabilities: Capabilities = Capabilities(
        max_text_chars=4096,
        formatting=Formatting.TELEGRAM_MARKDOWN_V2,
        max_quick_replies=8,
        media=True,
        max_caption_chars=1024,
    )

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        bot_token: SecretStr,
        secret_token: SecretStr,
        outgoing: OutgoingMedia,
        max_retry_after_seconds: float = 30.0,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._bot_token = bot_token
        self._secret = secret_token.get_secret_value().encode()
        self._outgoing = outgoing
        self._max_retry_after = max_retry_after_seconds

    def verify(self, request: WebhookRequest) -> None:
        given = request.header(SECRET_HEADER)
        if not given:
            raise SignatureError(f"no {SECRET_HEADER} header")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._secret):
            raise SignatureError(f"{SECRET_HEADER} is not ours")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        update = load_object(request.body)
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise InvalidInputError("not a Telegram Update (no update_id)")
        for kind in ("message", "edited_message"):
            if kind in update:
                found = self._message(obj(update, kind), edited=kind == "edited_message")
                return ParsedWebhook(messages=found, reply=ACCEPTED)
        if "callback_query" in update:
            return self._callback(obj(update, "callback_query"))
        return ParsedWebhook(reply=ACCEPTED)  # kinds a support bot does not answer

    def _message(self, message: JsonObject, *, edited: bool) -> tuple[InboundMessage, ...]:
        """The customer's message; nothing for kinds without text or media (a poll, a contact)."""
        attachments = _attachments(message, with_place=not edited)
        if "text" not in message and "caption" not in message and not attachments:
            return ()
        chat_id, message_id = text(obj(message, "chat"), "id"), text(message, "message_id")
        provider_id = f"{chat_id}:{message_id}" if chat_id and message_id else ""
        if edited and provider_id:
            provider_id += f":edited:{text(message, 'edit_date', 32)}"
        sender = obj(message, "from")
        return (
            InboundMessage(
                channel=CHANNEL.name,
                address=chat_id,
                text=text(message, "text") or text(message, "caption"),
                provider_message_id=provider_id,
                display_name=_name(sender),
                attachments=attachments,
                locale=text(sender, "language_code"),
                sent_at=moment(message.get("edit_date") if edited else message.get("date")),
            ),
        )

    def _callback(self, query: JsonObject) -> ParsedWebhook:
        query_id, data = text(query, "id", 256), text(query, "data", 256)
        chat_id = text(obj(obj(query, "message"), "chat"), "id", 64) or text(
            obj(query, "from"), "id", 64
        )
        if not query_id:
            return ParsedWebhook(reply=ACCEPTED)
        answer = json.dumps({"method": "answerCallbackQuery", "callback_query_id": query_id})
        reply = WebhookResponse(200, answer.encode(), "application/json")
        if not chat_id or not data:
            return ParsedWebhook(reply=reply)
        tapped = InboundMessage(
            channel=CHANNEL.name,
            address=chat_id,
            text=data,
            provider_message_id=f"callback:{query_id}",
            display_name=_name(obj(query, "from")),
            locale=text(obj(query, "from"), "language_code", 16),
        )
        return ParsedWebhook(messages=(tapped,), reply=reply)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if message.attachments:
            return self._receipt(message.address, await self._send_media(message))
        chat_id: int | str = message.address
        if message.address.lstrip("-").isdecimal():
            chat_id = int(message.address)
        payload: JsonObject = {"chat_id": chat_id, "text": message.text, "parse_mode": "MarkdownV2"}
        if message.quick_replies:
            payload["reply_markup"] = {
                "inline_keyboard": [
                    [
                        {
                            "text": reply.title,
                            "callback_data": _callback_data(reply.payload, reply.title),
                        }
                    ]
                    for reply in message.quick_replies
                ]
            }
        return self._receipt(message.address, await self._call("sendMessage", json=payload))

    async def _send_media(self, message: OutboundMessage) -> JsonObject:
        """The image (JPEG, PNG, WebP: ``sendPhoto``) or file (``sendDocument``) a person
        sends, uploaded as ``multipart/form-data``, the text as its caption."""
        [attachment] = message.attachments
        fetched = await self._outgoing.read(attachment)
        method, field = ("sendDocument", "document")
        if fetched.content_type in _PHOTO_TYPES:
            method, field = ("sendPhoto", "photo")
        fields = {"chat_id": message.address}
        if message.text:
            fields |= {"caption": message.text, "parse_mode": "MarkdownV2"}
        name = file_name_for(attachment, fetched.content_type)
        upload = (name, fetched.body, fetched.content_type)
        return await self._call(method, data=fields, files={field: upload})

    @staticmethod
    def _receipt(address: str, answer: JsonObject) -> DeliveryReceipt:
        message_id = text(obj(answer, "result"), "message_id", 32)
        if not message_id:
            raise SendError("the Bot API answered without a message_id", code="bad_response")
        return DeliveryReceipt(f"{address}:{message_id}")

    async def _call(self, method: str, **content: Any) -> JsonObject:
        """``POST`` a Bot API method with ``content`` as httpx takes it (``json=``, or
        ``data=`` and ``files=``); the answer when ``ok``, else the error raised."""
        url = f"{self._base_url}/bot{self._bot_token.get_secret_value()}/{method}"
        try:
            response = await self._http.post(url, **content)
        # The cause is dropped (``from None``): its message and traceback can hold the URL.
        except httpx.TimeoutException:
            raise TemporarySendError("the Bot API timed out", code="timeout") from None
        except httpx.TransportError as exc:
            raise TemporarySendError(
                f"the Bot API is unreachable: {type(exc).__name__}", code="network"
            ) from None
        try:
            decoded: Any = response.json()
        except ValueError:
            decoded = None
        answer: JsonObject = decoded if isinstance(decoded, dict) else {}
        if response.is_success and answer.get("ok") is True:
            return answer
        code = text(answer, "error_code", 16) or str(response.status_code)
        described = f"Bot API error {code}: {text(answer, 'description', 300) or 'no description'}"
        if response.status_code == 429 or code == "429":
            retry_after = obj(answer, "parameters").get("retry_after")
            if isinstance(retry_after, int | float) and not isinstance(retry_after, bool):
                await asyncio.sleep(min(max(float(retry_after), 0.0), self._max_retry_after))
            raise TemporarySendError(described, code=code)
        if response.status_code >= 500:
            raise TemporarySendError(described, code=code)
        if response.is_success:  # 200 without ok: true is not what the Bot API promises
            raise SendError(f"{method} answered without ok: true", code="bad_response")
        raise SendError(described, code=code)
