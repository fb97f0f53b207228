"""WhatsApp Cloud API: webhooks in, ``/{phone_number_id}/messages`` out, and the 24-hour rule.

Webhooks (``object: whatsapp_business_account``) carry ``entry[].changes[].value`` with
customer ``messages[]`` (text, media, button and list replies, locations…) and
``statuses[]`` for what we sent (sent, delivered, read, failed). Addresses are published
in E.164 (``+`` and the ``wa_id`` digits), the form the context service stores phones in;
the shared edge rules refuse a number that cannot exist before it is published. Images,
audio (``voice: true`` for a voice note), video, documents (with their file name) and
stickers become typed attachments referenced by media id (``whatsapp:media/<id>``); a
shared location becomes a location attachment with its name and address.

An agent's image or file is uploaded to the Cloud API's media endpoint and sent by its
media id, the text as its caption: JPEG and PNG as an image, anything else as a document.

WhatsApp allows free-form messages only within 24 hours of the customer's last message
(the customer-service window); outside it only an approved template may be sent, and
the Cloud API refuses anything else. :class:`ReplyWindowGuard` checks the window before
sending, from the customer's turns in the context service. When it is closed the reply
is not sent: the refusal is reported (code ``window_closed``), a person is asked to take
over (``HandoffRequested``, reason ``whatsapp_window_closed``; not for an agent's own
reply: a person holds that conversation already and sees the refusal in the desk), and
if a re-opening template is configured it is sent to invite the customer back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from google.protobuf.message import Message
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2, messages_pb2

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.context import ContextPort
from services.social_adapter.meta import GraphClient, handshake, verify_signature
from services.social_adapter.payloads import (
    JsonObject,
    load_object,
    location,
    moment,
    obj,
    objects,
    text,
)
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    Capabilities,
    ChannelAdapter,
    DeliveryReceipt,
    DeliveryState,
    Formatting,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    SendError,
    StatusUpdate,
    WebhookRequest,
    WebhookResponse,
)
from shared.channels.media import OutgoingMedia, file_name_for
from shared.channels.outbound import Refusal, RefusalCode
from shared.channels.registry import ChannelSpec
from shared.channels.reply_windows import REPLY_WINDOWS
from shared.errors import ContractError, InvalidInputError, NotFoundError, RefusedError
from shared.kafka.codec import caused_by
from shared.kafka.consumer import Handler
from shared.kafka.producer import Publisher
from shared.kafka.topics import HANDOFF

log = logging.getLogger(__name__)

CHANNEL = ChannelSpec(
    name="whatsapp",
    service="social_adapter",
    label="WhatsApp",
    routes=("/meta/whatsapp",),
    settings=SocialAdapterSettings,
    capabilities=lambda: WhatsAppAdapter.capabilities,
)
WINDOW_CLOSED = "whatsapp_window_closed"
ACCEPTED = WebhookResponse(200, b"EVENT_RECEIVED")
MEDIA_PREFIX = "whatsapp:media/"
"""References of customers' media: ``whatsapp:media/<Cloud API media id>``."""
_MEDIA = {
    "image": AttachmentKind.IMAGE,
    "video": AttachmentKind.VIDEO,
    "audio": AttachmentKind.AUDIO,  # "voice": true for a voice note
    "document": AttachmentKind.FILE,
    "sticker": AttachmentKind.STICKER,
}
_STATES = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
}
_BODY_WITH_BUTTONS_CHARS = 1024
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})  # what WhatsApp shows as a photo
_BUTTON_TITLE_CHARS = 20
_BUTTON_ID_CHARS = 256


def e164(wa_id: str) -> str:
    """``16505551234`` → ``+16505551234`` (nothing stays nothing, for the edge to refuse)."""
    return wa_id if not wa_id or wa_id.startswith("+") else f"+{wa_id}"


def _media(kind: str, media: JsonObject) -> tuple[Attachment, ...]:
    """A media message's file, by Cloud API media id (none without an id: the edge then
    judges the message by its caption alone)."""
    media_id = text(media, "id")
    if not media_id:
        return ()
    attachment = Attachment(
        f"{MEDIA_PREFIX}{media_id}",
        _MEDIA[kind],
        content_type=text(media, "mime_type"),
        file_name=text(media, "filename"),
        voice_note=media.get("voice") is True,
    )
    return (attachment,)


def _said(message: JsonObject) -> tuple[str, tuple[Attachment, ...]] | None:
    """What a customer message says, and what it carries (media by Cloud API media id).

    None for kinds there is nothing to answer in (reactions, system notices, unsupported
    types); a kind Rapport reads is returned even when empty, for the edge to judge.
    """
    kind = text(message, "type", 32)
    if kind == "text":
        return text(obj(message, "text"), "body"), ()
    if kind in _MEDIA:
        media = obj(message, kind)
        return text(media, "caption"), _media(kind, media)
    if kind == "button":
        return text(obj(message, "button"), "text"), ()
    if kind == "interactive":
        reply = obj(message, "interactive")
        chosen = obj(reply, "button_reply") or obj(reply, "list_reply")
        return text(chosen, "title"), ()
    if kind == "location":
        place = obj(message, "location")
        return "", (location(place, text(place, "name"), text(place, "address")),)
    return None


class WhatsAppAdapter(ChannelAdapter):
    name = CHANNEL.name
    capabilities: Capabilities = Capabilities(
        max_text_chars=4096,
        formatting=Formatting.WHATSAPP,
        max_quick_replies=3,
        media=True,
        max_caption_chars=1024,
        reply_window=REPLY_WINDOWS[envelope_pb2.CHANNEL_WHATSAPP],
    )

    def __init__(
        self,
        *,
        app_secret: SecretStr,
        verify_token: SecretStr,
        graph: GraphClient,
        phone_number_id: str,
        outgoing: OutgoingMedia,
        template_language: str = "en_US",
    ) -> None:
        self._app_secret = app_secret.get_secret_value().encode()
        self._verify_token = verify_token.get_secret_value().encode()
        self._graph = graph
        self._path = f"{phone_number_id}/messages"
        self._media_path = f"{phone_number_id}/media"
        self._outgoing = outgoing
        self._template_language = template_language

    def handshake(self, request: WebhookRequest) -> WebhookResponse:
        return handshake(self._verify_token, request)

    def verify(self, request: WebhookRequest) -> None:
        verify_signature(self._app_secret, request)

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        data = load_object(request.body)
        if data.get("object") != "whatsapp_business_account":
            raise InvalidInputError("not a 'whatsapp_business_account' webhook")
        messages: list[InboundMessage] = []
        statuses: list[StatusUpdate] = []
        for entry in objects(data, "entry"):
            for change in objects(entry, "changes"):
                if change.get("field") != "messages":
                    continue
                value = obj(change, "value")
                names = {
                    text(contact, "wa_id"): text(obj(contact, "profile"), "name")
                    for contact in objects(value, "contacts")
                }
                messages.extend(self._messages(objects(value, "messages"), names))
                statuses.extend(self._statuses(objects(value, "statuses")))
        return ParsedWebhook(tuple(messages), tuple(statuses), ACCEPTED)

    def _messages(
        self, found: Iterable[JsonObject], names: dict[str, str]
    ) -> Iterable[InboundMessage]:
        for message in found:
            content = _said(message)
            if content is None:
                continue
            said, attachments = content
            sender = text(message, "from")
            yield InboundMessage(
                channel=CHANNEL.name,
                address=e164(sender),
                text=said,
                provider_message_id=text(message, "id"),
                display_name=names.get(sender, ""),
                attachments=attachments,
                sent_at=moment(message.get("timestamp")),
            )

    def _statuses(self, found: Iterable[JsonObject]) -> Iterable[StatusUpdate]:
        for status in found:
            state = _STATES.get(text(status, "status", 32))
            if state is None:
                continue  # a state Rapport does not report (Meta adds new ones)
            errors = objects(status, "errors")
            error = errors[0] if errors else {}
            yield StatusUpdate(
                channel=CHANNEL.name,
                address=e164(text(status, "recipient_id")),
                provider_message_id=text(status, "id"),
                state=state,
                error_code=text(error, "code"),
                error_message=text(error, "message") or text(error, "title"),
            )

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        base: JsonObject = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": message.address.lstrip("+"),
        }
        if message.attachments:
            payload = {**base, **await self._media_message(message)}
        elif message.quick_replies and len(message.text) <= _BODY_WITH_BUTTONS_CHARS:
            payload = {**base, "type": "interactive", "interactive": _buttons(message)}
        else:
            payload = {**base, "type": "text", "text": {"body": message.text, "preview_url": False}}
        return await self._post(payload)

    async def _media_message(self, message: OutboundMessage) -> JsonObject:
        """The image (JPEG, PNG) or document a person sends, uploaded to the Cloud API first
        (``POST /{phone_number_id}/media``), then sent by its media id with the caption."""
        [attachment] = message.attachments
        fetched = await self._outgoing.read(attachment)
        name = file_name_for(attachment, fetched.content_type)
        uploaded = await self._graph.post_file(
            self._media_path,
            {"messaging_product": "whatsapp", "type": fetched.content_type},
            (name, fetched.body, fetched.content_type),
        )
        media_id = text(uploaded, "id", 128)
        if not media_id:
            raise SendError("the media upload answered without an id", code="bad_response")
        kind = "image" if fetched.content_type in _IMAGE_TYPES else "document"
        media: JsonObject = {"id": media_id}
        if message.text:
            media["caption"] = message.text
        if kind == "document":
            media["filename"] = name
        return {"type": kind, kind: media}

    async def send_template(self, address: str, name: str) -> DeliveryReceipt:
        """Send the approved template ``name`` (allowed outside the 24-hour window)."""
        template = {"name": name, "language": {"code": self._template_language}}
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": address.lstrip("+"),
            "type": "template",
            "template": template,
        }
        return await self._post(payload)

    async def _post(self, payload: JsonObject) -> DeliveryReceipt:
        answer = await self._graph.post(self._path, payload)
        sent = objects(answer, "messages")
        message_id = text(sent[0], "id", 512) if sent else ""
        if not message_id:
            raise SendError("the Cloud API answered without a message id", code="bad_response")
        return DeliveryReceipt(message_id)


def _buttons(message: OutboundMessage) -> JsonObject:
    """Reply buttons: ids unique and non-empty, titles unique and at most 20 characters."""
    buttons: list[JsonObject] = []
    titles: set[str] = set()
    ids: set[str] = set()
    for reply in message.quick_replies:
        title = reply.title.strip()[:_BUTTON_TITLE_CHARS] or "…"
        button_id = (reply.payload.strip() or title)[:_BUTTON_ID_CHARS]
        if title in titles or button_id in ids:
            continue
        titles.add(title)
        ids.add(button_id)
        buttons.append({"type": "reply", "reply": {"id": button_id, "title": title}})
    return {"type": "button", "body": {"text": message.text}, "action": {"buttons": buttons}}


# The 24-hour customer-service window ------------------------------------------------


def last_customer_message(
    turns: Iterable[context_pb.Turn], channel: envelope_pb2.Channel = envelope_pb2.CHANNEL_WHATSAPP
) -> datetime | None:
    """When the customer last wrote on ``channel``, among these turns."""
    moments = [
        turn.occurred_at.ToDatetime(UTC)
        for turn in turns
        if turn.role == context_pb.ROLE_CUSTOMER
        and turn.channel == channel
        and turn.HasField("occurred_at")
    ]
    return max(moments, default=None)


def window_open(last_message: datetime | None, now: datetime, window: timedelta) -> bool:
    """True while free-form messages are allowed: within ``window`` of the customer's last."""
    return last_message is not None and timedelta(0) <= now - last_message < window


def window_explanation(last_message: datetime | None, window: timedelta, template: str) -> str:
    """Why the reply was held back, in words a support agent reads in the queue."""
    hours = int(window.total_seconds() // 3600)
    if last_message is None:
        since = "has not written to us on WhatsApp recently"
    else:
        since = f"last wrote on WhatsApp at {last_message:%Y-%m-%d %H:%M} UTC"
    then = (
        f" The approved template '{template}' was sent to invite them to reply." if template else ""
    )
    return (
        f"The customer {since}, more than {hours} hours ago, so WhatsApp only allows an "
        f"approved template message and the reply was not sent.{then} Please follow "
        "up with the customer personally."
    )


class ReplyWindowGuard:
    """A :data:`~shared.channels.outbound.SendGuard` for WhatsApp's customer-service window.

    The guard judges a rendered :class:`OutboundMessage` but needs the ``SendMessage`` it
    came from (customer id, conversation, trace): wrap the delivery handler with
    :meth:`guarding` so the event is at hand while it is being delivered.
    """

    def __init__(
        self,
        *,
        context: ContextPort,
        publisher: Publisher,
        adapter: WhatsAppAdapter,
        reopen_template: str = "",
        max_turns: int = 50,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._context = context
        self._publisher = publisher
        self._adapter = adapter
        self._window = (
            adapter.capabilities.reply_window or REPLY_WINDOWS[envelope_pb2.CHANNEL_WHATSAPP]
        )
        self._reopen_template = reopen_template
        self._max_turns = max_turns
        self._clock = clock
        self._in_flight: dict[str, messages_pb2.SendMessage] = {}

    def guarding(self, deliver: Handler) -> Handler:
        """``deliver``, with each event kept at hand for the guard while it runs."""

        async def handle(event: Message) -> None:
            if not isinstance(event, messages_pb2.SendMessage):
                await deliver(event)  # nothing to guard: the delivery ignores or refuses it
                return
            event_id = event.envelope.event_id
            self._in_flight[event_id] = event
            try:
                await deliver(event)
            finally:
                self._in_flight.pop(event_id, None)

        return handle

    async def __call__(self, message: OutboundMessage) -> Refusal | None:
        event = self._in_flight.get(message.event_id)
        if event is None:
            raise ContractError("the WhatsApp window guard was not given the event it guards")
        envelope = event.envelope
        try:
            customer_id = envelope.customer.customer_id
            if not customer_id:
                customer = await self._context.resolve_customer(
                    envelope_pb2.CHANNEL_WHATSAPP, message.address, "", envelope.occurred_at
                )
                customer_id = customer.customer_id
            history = await self._context.get_context(
                customer_id, envelope.conversation_id, self._max_turns
            )
        except RefusedError as exc:
            return Refusal(
                RefusalCode.CUSTOMER_ERASED, f"Not sent: the customer's data was erased ({exc})."
            )
        except NotFoundError:
            history = context_pb.GetContextResponse()
        last = last_customer_message(history.recent_turns)
        if window_open(last, self._clock(), self._window):
            return None
        reopened = await self._reopen(message.address)
        explanation = window_explanation(
            last, self._window, self._reopen_template if reopened else ""
        )
        if event.sender != messages_pb2.SENDER_AGENT:  # a person holds it already
            await self._hand_over(event, history, explanation)
        return Refusal(RefusalCode.WINDOW_CLOSED, explanation)

    async def _reopen(self, address: str) -> bool:
        if not self._reopen_template:
            return False
        try:
            await self._adapter.send_template(address, self._reopen_template)
        except SendError as exc:
            log.warning("the re-opening template was not sent: %s", exc)
            return False
        return True

    async def _hand_over(
        self, event: messages_pb2.SendMessage, history: context_pb.GetContextResponse, why: str
    ) -> None:
        envelope = event.envelope
        await self._publisher.publish(
            HANDOFF,
            handoff_pb2.HandoffRequested(
                envelope=caused_by(envelope, f"handoff:{WINDOW_CLOSED}"),
                reasons=[handoff_pb2.DecisionReason(code=WINDOW_CLOSED, explanation=why)],
                summary="\n".join(
                    part
                    for part in (history.summary, f"Reply not sent: {event.text[:500]}")
                    if part
                ),
                priority=0.5,
                language=history.conversation.language,
            ),
        )
