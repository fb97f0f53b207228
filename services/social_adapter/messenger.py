"""Facebook Messenger: Page webhooks in, the Send API out.

A Page webhook (``object: page``) batches ``entry[].messaging[]`` events. Each is a
customer message (text, attachments, or a quick-reply tap), a postback (a button tap),
a delivery receipt (``delivery.mids``) or a read receipt (``read.watermark``: everything
up to then was read). Our own sends come back as echoes (``message.is_echo``) and are
ignored, or the bot would answer itself. Unknown event kinds are skipped, not refused:
Meta would otherwise retry the whole batch for days. What looks like a customer's
message or a receipt is passed on as read, missing ids included: the shared edge rules
admit or refuse each item on its own (``shared/channels/admission.py``).

Attachments are typed by ``attachments[].type``: an image, audio, video or file is
referenced by its ``payload.url`` on Meta's CDN (fetched without a token when an agent
opens it), an image with a ``sticker_id`` is a sticker, and a location carries
``payload.coordinates``. Sends are text and quick replies only (``capabilities.media``
is off).

Instagram messaging is the same platform with ``object: instagram`` (see
``instagram.py``), so both share :class:`PageMessagingAdapter`.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import SecretStr

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.meta import GraphClient, handshake, verify_signature
from services.social_adapter.payloads import (
    JsonObject,
    degrees,
    load_object,
    obj,
    objects,
    text,
)
from services.social_adapter.payloads import moment as seconds_moment
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    Capabilities,
    ChannelAdapter,
    DeliveryReceipt,
    DeliveryState,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    SendError,
    StatusUpdate,
    WebhookRequest,
    WebhookResponse,
)
from shared.channels.registry import ChannelSpec
from shared.errors import InvalidInputError

ACCEPTED = WebhookResponse(200, b"EVENT_RECEIVED")
_KINDS = {
    "image": AttachmentKind.IMAGE,
    "audio": AttachmentKind.AUDIO,
    "video": AttachmentKind.VIDEO,
    "file": AttachmentKind.FILE,
}
_QUICK_REPLY_TITLE_CHARS = 20
_QUICK_REPLY_PAYLOAD_CHARS = 1000


def _attachment(item: JsonObject) -> Attachment | None:
    """One of ``message.attachments[]``: a file by its CDN URL, a sticker (an image with a
    ``sticker_id``), or a location; None for kinds Rapport does not read."""
    kind, payload = text(item, "type", 32), obj(item, "payload")
    if kind == "location":
        coordinates = obj(payload, "coordinates")
        return Attachment(
            "",
            AttachmentKind.LOCATION,
            latitude=degrees(coordinates.get("lat")),
            longitude=degrees(coordinates.get("long")),
            place=text(item, "title"),
        )
    if kind not in _KINDS:
        return None
    if kind == "image" and "sticker_id" in payload:
        return Attachment(text(payload, "url"), AttachmentKind.STICKER)
    return Attachment(text(payload, "url"), _KINDS[kind])


def _millis(value: object) -> float | None:
    return value / 1000 if isinstance(value, int | float) and not isinstance(value, bool) else None


class PageMessagingAdapter(ChannelAdapter):
    """Messenger Platform webhooks and sends, for one ``object`` kind."""

    object_type: ClassVar[str]

    def __init__(self, *, app_secret: SecretStr, verify_token: SecretStr, graph: GraphClient):
        self._app_secret = app_secret.get_secret_value().encode()
        self._verify_token = verify_token.get_secret_value().encode()
        self._graph = graph

    def handshake(self, request: WebhookRequest) -> WebhookResponse:
        return handshake(self._verify_token, request)

    def verify(self, request: WebhookRequest) -> None:
        verify_signature(self._app_secret, request)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        data = load_object(request.body)
        if data.get("object") != self.object_type:
            raise InvalidInputError(f"not an '{self.object_type}' webhook")
        messages: list[InboundMessage] = []
        statuses: list[StatusUpdate] = []
        for entry in objects(data, "entry"):
            for event in objects(entry, "messaging"):
                sender = text(obj(event, "sender"), "id")
                sent_at = seconds_moment(_millis(event.get("timestamp")))
                if "message" in event:
                    message = self._message(sender, obj(event, "message"), sent_at)
                    if message is not None:
                        messages.append(message)
                elif "postback" in event:
                    postback = obj(event, "postback")
                    said = text(postback, "title") or text(postback, "payload")
                    mid = text(postback, "mid")
                    messages.append(InboundMessage(self.name, sender, said, mid, sent_at=sent_at))
                elif "delivery" in event:
                    mids = obj(event, "delivery").get("mids")
                    for mid in mids if isinstance(mids, list) else []:
                        if isinstance(mid, str):
                            statuses.append(
                                StatusUpdate(self.name, sender, mid, DeliveryState.DELIVERED)
                            )
                elif "read" in event:
                    read = obj(event, "read")
                    # Instagram names the message; Messenger gives a watermark time instead.
                    mid = text(read, "mid") or (
                        f"watermark:{text(read, 'watermark')}" if text(read, "watermark") else ""
                    )
                    statuses.append(StatusUpdate(self.name, sender, mid, DeliveryState.READ))
        return ParsedWebhook(tuple(messages), tuple(statuses), ACCEPTED)

    def _message(
        self, sender: str, message: JsonObject, sent_at: datetime | None
    ) -> InboundMessage | None:
        """A customer's message; None for our own echoes and content there is nothing to read in."""
        if message.get("is_echo") is True:
            return None
        attachments = tuple(
            found
            for item in objects(message, "attachments")
            if (found := _attachment(item)) is not None
        )
        if "text" not in message and not attachments:
            return None  # a shared post, a story mention, a fallback: nothing Rapport reads
        return InboundMessage(
            channel=self.name,
            address=sender,
            text=text(message, "text"),
            provider_message_id=text(message, "mid"),
            attachments=attachments,
            sent_at=sent_at,
        )

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        body: JsonObject = {"text": message.text}
        if message.quick_replies:
            body["quick_replies"] = [
                {
                    "content_type": "text",
                    "title": reply.title[:_QUICK_REPLY_TITLE_CHARS],
                    "payload": (reply.payload or reply.title)[:_QUICK_REPLY_PAYLOAD_CHARS],
                }
                for reply in message.quick_replies
            ]
        answer = await self._graph.post(
            "me/messages",
            {"recipient": {"id": message.address}, "messaging_type": "RESPONSE", "message": body},
        )
        message_id = text(answer, "message_id", 512)
        if not message_id:
            raise SendError("the Send API answered without a message_id", code="bad_response")
        return DeliveryReceipt(message_id)


class MessengerAdapter(PageMessagingAdapter):
    name = "messenger"
    object_type = "page"
    capabilities = Capabilities(max_text_chars=2000, max_quick_replies=13)


CHANNEL = ChannelSpec(
    name=MessengerAdapter.name,
    service="social_adapter",
    label="Messenger",
    routes=("/meta/messenger",),
    settings=SocialAdapterSettings,
    capabilities=lambda: MessengerAdapter.capabilities,
)
