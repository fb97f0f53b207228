"""Telegram bots: Bot API webhooks in, ``sendMessage`` out.

Telegram signs nothing; instead ``setWebhook(secret_token=…)`` makes it send that secret
in ``X-Telegram-Bot-Api-Secret-Token`` on every call, compared here in constant time.
An ``Update`` holds at most one of its kinds; ``message`` and ``edited_message`` (text,
or a caption with a photo, document, voice note…) become inbound messages, and a tap on
an inline-keyboard button (``callback_query``) becomes the button's payload as text.
The webhook answer acknowledges the tap (``answerCallbackQuery`` as the reply body, which
the Bot API accepts in place of a separate call), so the button stops spinning.

Message ids are unique per chat only, so the provider id is ``<chat id>:<message id>``
(an edit adds its edit time: an edit is a new thing to read). Media is referenced by
``file_id`` (``telegram:file/<id>``); fetching it needs the bot token, which never
leaves this service.

Replies go out as MarkdownV2 (``shared.channels.rendering`` escaped them already) with
quick replies as an inline keyboard. The bot token is part of the Bot API URL, so URLs
are never logged or put into error messages.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

import httpx
from pydantic import SecretStr

from services.social_adapter.payloads import JsonObject, load_object, moment, obj, objects, text
from shared.channels.adapter import (
    Attachment,
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
from shared.errors import InvalidInputError

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ACCEPTED = WebhookResponse(200, b"")
_CALLBACK_DATA_BYTES = 64
# Media kinds of a Message, with the content type to assume when Telegram names none.
_MEDIA = {
    "document": "application/octet-stream",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "video_note": "video/mp4",
    "animation": "video/mp4",
    "sticker": "image/webp",
}


def _attachments(message: JsonObject) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    sizes = objects(message, "photo")
    if sizes and text(sizes[-1], "file_id", 256):  # the largest size comes last
        found.append(Attachment(f"telegram:file/{text(sizes[-1], 'file_id', 256)}", "image/jpeg"))
    for kind, default_type in _MEDIA.items():
        media = obj(message, kind)
        file_id = text(media, "file_id", 256)
        if file_id:
            content_type = text(media, "mime_type", 128) or default_type
            found.append(Attachment(f"telegram:file/{file_id}", content_type))
    return tuple(found)


def _name(user: JsonObject) -> str:
    full = " ".join(part for part in (text(user, "first_name"), text(user, "last_name")) if part)
    return (full or text(user, "username"))[:256]


def _callback_data(payload: str, title: str) -> str:
    """Telegram takes 1–64 bytes of callback data; cut on a character boundary."""
    data = (payload or title).encode()[:_CALLBACK_DATA_BYTES]
    return data.decode(errors="ignore") or "-"


class TelegramAdapter(ChannelAdapter):
    name = CHANNEL
    capabilities = Capabilities(
        max_text_chars=4096, formatting=Formatting.TELEGRAM_MARKDOWN_V2, max_quick_replies=8
    )

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        bot_token: SecretStr,
        secret_token: SecretStr,
        max_retry_after_seconds: float = 30.0,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._bot_token = bot_token
        self._secret = secret_token.get_secret_value().encode()
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
        chat_id, message_id = text(obj(message, "chat"), "id", 64), text(message, "message_id", 32)
        said = text(message, "text") or text(message, "caption")
        attachments = _attachments(message)
        if not chat_id or not message_id or not (said or attachments):
            return ()
        provider_id = f"{chat_id}:{message_id}"
        if edited:
            provider_id += f":edited:{text(message, 'edit_date', 32)}"
        sender = obj(message, "from")
        return (
            InboundMessage(
                channel=CHANNEL,
                address=chat_id,
                text=said,
                provider_message_id=provider_id,
                display_name=_name(sender),
                attachments=attachments,
                locale=text(sender, "language_code", 16),
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
            channel=CHANNEL,
            address=chat_id,
            text=data,
            provider_message_id=f"callback:{query_id}",
            display_name=_name(obj(query, "from")),
            locale=text(obj(query, "from"), "language_code", 16),
        )
        return ParsedWebhook(messages=(tapped,), reply=reply)

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
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
        result = obj(await self._call("sendMessage", payload), "result")
        message_id = text(result, "message_id", 32)
        if not message_id:
            raise SendError("sendMessage answered without a message_id", code="bad_response")
        return DeliveryReceipt(f"{message.address}:{message_id}")

    async def _call(self, method: str, payload: JsonObject) -> JsonObject:
        url = f"{self._base_url}/bot{self._bot_token.get_secret_value()}/{method}"
        try:
            response = await self._http.post(url, json=payload)
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
