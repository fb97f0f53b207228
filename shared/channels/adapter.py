"""The one small interface every messaging platform sits behind.

An adapter knows its platform and nothing else: how to check that a webhook really came
from the platform (``verify``), what the webhook says (``parse``), and how to send a
message (``send``). The plumbing around it — publishing to Kafka, deduplication, retries,
dead letters, rendering within ``capabilities`` — is shared (``webhooks.py``,
``outbound.py``, ``rendering.py``), so adding a channel is one new module.

Adapters take a framework-neutral :class:`WebhookRequest` (method, public URL, headers,
raw body) so signatures are checked over exactly the bytes the platform signed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from shared.channels.edge import MAX_TEXT_CHARS
from shared.errors import RapportError


class SignatureError(RapportError):
    """A webhook whose signature is missing or wrong: answered 403, nothing published."""


class SendError(RapportError):
    """A platform refused a send for good (bad number, opted out, policy): not retried."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TemporarySendError(SendError):
    """A platform failed a send in a way worth retrying (5xx, 429, a timeout)."""

    retriable: ClassVar[bool] = True


class Formatting(StrEnum):
    PLAIN = "plain"
    MARKDOWN = "markdown"  # web widget
    WHATSAPP = "whatsapp"  # *bold* _italic_
    TELEGRAM_MARKDOWN_V2 = "telegram_markdown_v2"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can show; the renderer keeps every message within it."""

    max_text_chars: int
    formatting: Formatting = Formatting.PLAIN
    max_quick_replies: int = 0
    # Whether a person can send an image or a file here (one per message, the text as
    # its caption, at most ``max_caption_chars``).
    media: bool = False
    max_caption_chars: int = 1024
    # SMS: at most this many segments (GSM-7 160/153, UCS-2 70/67 characters each).
    max_segments: int | None = None
    # WhatsApp: free-form messages only this long after the customer's last message.
    reply_window: timedelta | None = None


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A webhook as the platform sent it; ``url`` is the public URL the platform called."""

    method: str
    url: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


class AttachmentKind(StrEnum):
    """What an attachment is; ``rapport.common.v1.AttachmentKind``."""

    IMAGE = "image"
    AUDIO = "audio"  # audio files and voice notes alike
    VIDEO = "video"
    FILE = "file"  # a document or any other file
    LOCATION = "location"
    STICKER = "sticker"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo, voice note, file, place… a message carries; ``rapport.common.v1.Attachment``.

    The bytes stay with the platform: ``reference`` names them for the channel's adapter
    (formats in :mod:`shared.media_links`), and is empty for a location, which has none.
    Sizes, names and types are what the platform says; zero or empty when it says nothing.
    """

    reference: str
    kind: AttachmentKind
    content_type: str = ""
    size_bytes: int = 0
    file_name: str = ""
    voice_note: bool = False  # recorded in the app, as opposed to an audio file
    latitude: float = 0.0  # LOCATION only: WGS84 degrees
    longitude: float = 0.0
    place: str = ""  # LOCATION only: the place's name or address, when shared


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message, platform-neutral. ``provider_message_id`` is the dedupe key."""

    channel: str
    address: str
    text: str
    provider_message_id: str
    display_name: str = ""
    attachments: tuple[Attachment, ...] = ()
    locale: str = ""
    sent_at: datetime | None = None
    # Set by the channel when it has already answered the message as a carrier compliance
    # keyword ("stop", "start", "help"): the event says so and the bot stays quiet.
    compliance_keyword: str = ""


class DeliveryState(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A platform's report on a message we sent (delivery and read receipts)."""

    channel: str
    address: str
    provider_message_id: str
    state: DeliveryState
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True, slots=True)
class ParsedWebhook:
    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    # What to answer the platform once everything is safely on Kafka.
    reply: WebhookResponse = WebhookResponse()


@dataclass(frozen=True, slots=True)
class QuickReply:
    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A rendered message ready for the platform's send API."""

    channel: str
    address: str
    text: str
    quick_replies: tuple[QuickReply, ...] = ()
    event_id: str = ""
    # An image or file a person sends (``reference``: a signed link, see
    # :mod:`shared.media_links`); ``text`` is then its caption. Only when
    # ``capabilities.media``, and one at most.
    attachments: tuple[Attachment, ...] = ()
    # The conversation it answers, for platforms that thread replies themselves (email).
    conversation_id: str = ""
    # Who wrote it: "bot", "agent" or "system" (``SendMessage.sender``); empty when unsaid.
    sender: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    provider_message_id: str
    state: DeliveryState = DeliveryState.SENT


class ChannelSender(ABC):
    """What replies are sent through (:mod:`shared.channels.outbound`): a platform's send
    side alone, for a platform whose messages do not arrive as webhooks (email, over IMAP).
    Subclasses set ``name`` and ``capabilities``."""

    name: str
    capabilities: Capabilities

    @abstractmethod
    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        """Send through the platform's API; :class:`SendError` when it refuses or fails."""


class ChannelAdapter(ChannelSender):
    """One messaging platform reached by webhooks. Subclasses set ``name`` and
    ``capabilities``."""

    # Longest text a customer's message may have on this platform; longer is refused.
    max_inbound_text_chars: ClassVar[int] = MAX_TEXT_CHARS

    def handshake(self, request: WebhookRequest) -> WebhookResponse:
        """Answer a platform's subscription check (Meta's GET ``hub.challenge``)."""
        return WebhookResponse(405, b"this endpoint takes POST webhooks")

    @abstractmethod
    def verify(self, request: WebhookRequest) -> None:
        """Raise :class:`SignatureError` unless the platform really sent this request."""

    @abstractmethod
    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        """What the (verified) webhook says; :class:`InvalidInputError` if it cannot be read.

        Each message and status is then admitted or refused on its own by the edge rules
        (:mod:`shared.channels.admission`); parse only reads the platform's shape.
        """
