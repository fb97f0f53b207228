"""Which items of a parsed webhook may be published: each judged on its own by the edge rules.

A platform batches (Meta's ``entry[]``/``changes[]``/``messaging[]``), and one bad item
must neither fail its neighbours nor make the platform retry the good ones forever. So
every message and status an adapter read is admitted (cleaned by :mod:`shared.channels.edge`)
or refused with a :class:`Rejection`, independently; the intake publishes the admitted
ones, counts the rejections and answers 400 only when the webhook's single item was
refused.

Adapters read a platform's shape and skip what is not for Rapport (echoes of its own
sends, reactions, event kinds it does not answer); whatever looks like a customer's
message or a delivery report is judged here, so a missing id or blank text is counted
instead of vanishing.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    InboundMessage,
    ParsedWebhook,
    StatusUpdate,
)
from shared.channels.edge import (
    Reason,
    RejectedInput,
    identifier,
    label,
    message_text,
    phone_number,
)
from shared.media_links import MAX_REFERENCE_CHARS

PHONE_CHANNELS = frozenset({"sms", "whatsapp"})
"""Channels whose addresses are phone numbers (the context service refuses any other)."""
MAX_MEDIA_BYTES = 2**40
"""Larger than any file a platform carries; a size past it is not a size."""
MAX_LOCALE_CHARS = 16
MAX_CONTENT_TYPE_CHARS = 128
MAX_ERROR_CODE_CHARS = 32
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused item: why (a bounded label), what exactly, and which item it was."""

    reason: Reason
    detail: str
    provider_message_id: str


@dataclass(frozen=True, slots=True)
class Admission:
    webhook: ParsedWebhook  # the admitted items, cleaned, with the adapter's reply
    rejections: tuple[Rejection, ...]

    @property
    def refused_whole(self) -> bool:
        """The webhook held one item and it was refused: the answer is a 400, not a 200."""
        return len(self.rejections) == 1 and not (self.webhook.messages or self.webhook.statuses)


def address(channel: str, value: str) -> str:
    """A customer's address on ``channel``: a phone number on phone channels, else an id."""
    if channel in PHONE_CHANNELS:
        return phone_number(value, field="the sender's phone number")
    return identifier(value, field="the sender's id")


def _attachment(found: Attachment) -> Attachment:
    """An attachment as the edge rules allow it: a reference is an id (a location needs
    none), sizes and coordinates are plausible, names and types are labels."""
    reference = found.reference
    if reference or found.kind is not AttachmentKind.LOCATION:
        reference = identifier(
            reference,
            field="an attachment's reference",
            max_chars=MAX_REFERENCE_CHARS,
            reason=Reason.BAD_ATTACHMENT,
        )
    if not 0 <= found.size_bytes <= MAX_MEDIA_BYTES:
        raise RejectedInput(Reason.BAD_ATTACHMENT, "an attachment's size is not plausible")
    if found.kind is AttachmentKind.LOCATION and not (
        -90 <= found.latitude <= 90 and -180 <= found.longitude <= 180
    ):  # NaN fails both comparisons too
        raise RejectedInput(Reason.BAD_ATTACHMENT, "a location's coordinates are out of range")
    return replace(
        found,
        reference=reference,
        content_type=label(found.content_type, max_chars=MAX_CONTENT_TYPE_CHARS),
        file_name=label(found.file_name),
        place=label(found.place),
    )


def admit_message(message: InboundMessage, *, max_text_chars: int) -> InboundMessage:
    """``message`` cleaned by the edge rules; :class:`RejectedInput` saying why it cannot be."""
    attachments = tuple(_attachment(found) for found in message.attachments)
    text = message_text(message.text, max_chars=max_text_chars)
    if not text and not attachments:
        raise RejectedInput(Reason.BLANK, "the message has neither text nor an attachment")
    return replace(
        message,
        address=address(message.channel, message.address),
        text=text,
        provider_message_id=identifier(message.provider_message_id, field="the message id"),
        display_name=label(message.display_name),
        attachments=attachments,
        locale=label(message.locale, max_chars=MAX_LOCALE_CHARS),
    )


def admit_status(status: StatusUpdate) -> StatusUpdate:
    """``status`` cleaned by the edge rules; :class:`RejectedInput` saying why it cannot be."""
    return replace(
        status,
        address=address(status.channel, status.address),
        provider_message_id=identifier(status.provider_message_id, field="the message id"),
        error_code=label(status.error_code, max_chars=MAX_ERROR_CODE_CHARS),
        error_message=label(status.error_message, max_chars=MAX_ERROR_CHARS),
    )


def admit(parsed: ParsedWebhook, *, max_text_chars: int) -> Admission:
    """Every item of ``parsed`` admitted or refused on its own."""
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    rejections: list[Rejection] = []
    for message in parsed.messages:
        try:
            messages.append(admit_message(message, max_text_chars=max_text_chars))
        except RejectedInput as exc:
            rejections.append(Rejection(exc.reason, str(exc), message.provider_message_id))
    for status in parsed.statuses:
        try:
            statuses.append(admit_status(status))
        except RejectedInput as exc:
            rejections.append(Rejection(exc.reason, str(exc), status.provider_message_id))
    return Admission(
        ParsedWebhook(tuple(messages), tuple(statuses), parsed.reply), tuple(rejections)
    )
