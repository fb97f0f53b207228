"""One mail read from a support mailbox, turned into a ``MessageReceived`` on Kafka.

The reader (``imap.py``) hands each mail here in UID order and moves its cursor on once
:meth:`EmailIntake.take` returns, so ``take`` returns only when the mail is settled: on
Kafka, or known to need nothing (a duplicate, an auto-reply, a bounce), or on the
dead-letter topic. When Kafka or the store cannot take it, ``take`` raises and the mail
is read again later; it then yields the same event id (derived from its Message-ID),
which every consumer drops as a duplicate.

The customer's files are kept in an :class:`UploadStore` (``email:attachment/<sha256>``)
and served to agents at ``/media``. A file that is too large or of a type not kept is
never silently dropped: it stays in the event as an attachment with nothing to open
(an empty reference), and the mail's whole text says why for the agent. A mail over the
mailbox's size limit arrives as its headers only (:meth:`EmailIntake.take_oversized`):
it is published from them as one such attachment, the mail itself, with no words of the
customer for the bot to read and a note telling the agent to open it in the mailbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from services.email_adapter.config import EmailSettings
from services.email_adapter.metrics import ATTACHMENTS_NOT_KEPT, AUTOMATIC_MAILS, MAILS_TAKEN
from services.email_adapter.mime import ReadEmail, UnreadableEmailError, read_email, thread_ids
from services.email_adapter.parts import EmailAttachment
from services.email_adapter.store import EmailStore
from shared.channels.adapter import Attachment, AttachmentKind, InboundMessage
from shared.channels.attachments import kind_of, media_type
from shared.channels.edge import MAX_TEXT_CHARS
from shared.channels.inbound import received_event
from shared.channels.webhooks import inbound_event_id
from shared.conversations import thread_conversation_id
from shared.kafka.codec import Headers
from shared.kafka.consumer import MAX_ERROR_HEADER_BYTES
from shared.kafka.producer import Publisher
from shared.kafka.topics import DEAD_LETTER, INBOUND
from shared.media_store import UploadRefusedError, UploadStore

log = logging.getLogger(__name__)

CHANNEL = "email"
ATTACHMENT_PREFIX = "email:attachment/"
MAX_FULL_TEXT_CHARS = 200_000
"""The whole mail's text kept in the event; Kafka takes records of about 1 MB at most."""
MAX_DEAD_LETTER_BYTES = 512 * 1024
"""Bytes of an unreadable mail copied to the dead-letter topic; the mail stays on the server."""
_NOTE_ROOM = 100  # characters kept free for the note ending a cut text
_MEGABYTE = 1024 * 1024
WHOLE_MAIL_TYPE = "message/rfc822"


class Outcome(StrEnum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"
    AUTOMATIC = "automatic"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class MailPlace:
    """Where a mail was read: for logs, and for the dead letter of one that is unreadable."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int

    def __str__(self) -> str:
        return f"imap:{self.mailbox}/{self.folder}[{self.uidvalidity}]@{self.uid}"


class RawPublisher(Publisher, Protocol):
    """A publisher that can also put bytes on a topic as they are (dead letters)."""

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None: ...


def bounded(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``, saying how much of it is left in the mailbox."""
    if len(text) <= max_chars:
        return text
    kept = text[: max(max_chars - _NOTE_ROOM, 0)]
    note = f"\n\n[… {len(text) - len(kept)} more characters are in the mail in the mailbox]"
    return (kept + note)[:max_chars]


def not_kept_note(attachment: EmailAttachment, why: str) -> str:
    """The line telling the agent about a file the customer sent that was not kept."""
    name = attachment.file_name or "unnamed file"
    return (
        f"[Attachment not kept: {name} ({attachment.content_type}, {attachment.size} bytes): {why}]"
    )


def described(attachment: EmailAttachment) -> Attachment:
    """A file the customer sent that was not kept: what it is, with nothing to open."""
    return Attachment(
        "",
        kind_of(attachment.content_type),
        content_type=media_type(attachment.content_type),
        size_bytes=attachment.size,
        file_name=attachment.file_name,
    )


def unread_mail(mail: ReadEmail, size_bytes: int) -> Attachment:
    """The attachment standing for a mail too large to download: the mail itself."""
    return Attachment(
        "",
        AttachmentKind.FILE,
        content_type=WHOLE_MAIL_TYPE,
        size_bytes=size_bytes,
        file_name=f"{mail.subject or 'email'}.eml",
    )


def oversized_note(size_bytes: int, limit_bytes: int) -> str:
    """What the agent reads instead of a mail too large to download."""
    size, limit = (f"{round(n / _MEGABYTE, 1):g}" for n in (size_bytes, limit_bytes))
    return (
        f"[The email was {size} MB, over the {limit} MB this mailbox takes; open it in the mailbox]"
    )


def attachment_store(settings: EmailSettings) -> UploadStore:
    """Where customers' files are kept, by the digest of their bytes, for ``/media``."""
    return UploadStore(
        settings.media_dir,
        prefix=ATTACHMENT_PREFIX,
        max_bytes=settings.max_attachment_bytes,
        content_types=settings.media_content_types,
    )


class EmailIntake:
    def __init__(
        self, store: EmailStore, publisher: RawPublisher, uploads: UploadStore, *, group: str
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._uploads = uploads
        self._group = group  # names this adapter in dead letters

    async def take(self, raw: bytes, place: MailPlace) -> Outcome:
        """Settle one mail; raises (DependencyUnavailableError...) when it must be read again."""
        outcome = await self._settle(raw, place, oversized=None)
        MAILS_TAKEN.labels(place.mailbox, outcome).inc()
        return outcome

    async def take_oversized(
        self, header: bytes, place: MailPlace, *, size_bytes: int, limit_bytes: int
    ) -> Outcome:
        """Settle a mail of ``size_bytes`` read as its ``header`` only, for being over
        ``limit_bytes``: published as the mail unread, with a note for the agent."""
        outcome = await self._settle(header, place, oversized=(size_bytes, limit_bytes))
        MAILS_TAKEN.labels(place.mailbox, outcome).inc()
        return outcome

    async def _settle(
        self, raw: bytes, place: MailPlace, *, oversized: tuple[int, int] | None
    ) -> Outcome:
        """``oversized`` (its size, the limit) says ``raw`` is only the headers of a mail
        too large to read."""
        try:
            mail = read_email(raw, max_attachment_bytes=self._uploads.max_bytes)
        except UnreadableEmailError as exc:
            await self._dead_letter(raw, place, exc.reason, str(exc))
            return Outcome.UNREADABLE
        except Exception as exc:  # one mail the parser trips on must not block the mailbox
            log.exception("%s: reading the mail failed", place)
            await self._dead_letter(raw, place, "parse_failed", f"{type(exc).__name__}: {exc}")
            return Outcome.UNREADABLE
        if await self._store.conversation_of([mail.message_id]) is not None:
            log.info("%s: %.80r was read before, or is our own; skipped", place, mail.message_id)
            return Outcome.DUPLICATE
        if mail.automatic:
            AUTOMATIC_MAILS.labels(place.mailbox, mail.automatic).inc()
            log.info(
                "%s: automatic mail from %s left unanswered (%s)",
                place,
                mail.sender,
                mail.automatic,
            )
            return Outcome.AUTOMATIC
        conversation_id = await self._store.conversation_of(
            thread_ids(mail)
        ) or thread_conversation_id(CHANNEL, f"{mail.sender}/{mail.message_id}")
        await self._publish(mail, conversation_id, oversized)
        # Remembered only once on Kafka: a crash in between re-reads and republishes the
        # same event id, where remembering first would lose the mail.
        await self._store.remember_inbound(
            message_id=mail.message_id,
            conversation_id=conversation_id,
            mailbox=place.mailbox,
            customer=mail.sender,
            subject=mail.subject,
            references=mail.references,
        )
        return Outcome.PUBLISHED

    async def _publish(
        self, mail: ReadEmail, conversation_id: str, oversized: tuple[int, int] | None
    ) -> None:
        if oversized is None:
            attachments, notes = await self._keep_attachments(mail.attachments)
            full_text = "\n\n".join([mail.full_text, *notes]) if notes else mail.full_text
        else:  # only the headers were read: no words of the customer, the mail unread
            size_bytes, limit_bytes = oversized
            attachments = (unread_mail(mail, size_bytes),)
            full_text = oversized_note(size_bytes, limit_bytes)
        message = InboundMessage(
            channel=CHANNEL,
            address=mail.sender,
            text=bounded(mail.text, MAX_TEXT_CHARS),
            provider_message_id=mail.message_id,
            display_name=mail.sender_name,
            attachments=attachments,
            locale=mail.language,
            sent_at=mail.sent_at,
        )
        event = received_event(
            message,
            conversation_id=conversation_id,
            event_id=inbound_event_id(CHANNEL, mail.message_id),
            full_text=bounded(full_text, MAX_FULL_TEXT_CHARS),
            subject=mail.subject,
        )
        await self._publisher.publish(INBOUND, event)

    async def _keep_attachments(
        self, attachments: tuple[EmailAttachment, ...]
    ) -> tuple[tuple[Attachment, ...], list[str]]:
        """Each file kept for ``/media``, or described when it is not; the notes saying
        why for those not kept."""
        kept: list[Attachment] = []
        notes: list[str] = []
        for attachment in attachments:
            if attachment.too_large:
                problem, why = "too_large", f"over the limit of {self._uploads.max_bytes} bytes"
            else:
                try:
                    stored = await self._uploads.put(attachment.data)
                except UploadRefusedError as exc:
                    problem, why = exc.problem, str(exc)
                else:
                    kept.append(stored.attachment(attachment.file_name))
                    continue
            ATTACHMENTS_NOT_KEPT.labels(problem).inc()
            notes.append(not_kept_note(attachment, why))
            kept.append(described(attachment))
        return tuple(kept), notes

    async def _dead_letter(self, raw: bytes, place: MailPlace, reason: str, why: str) -> None:
        """The mail's first bytes on the dead-letter topic, saying where the whole of it is.

        The headers are those the consumers write (``shared.kafka.consumer``), so the
        operator's tools list it; its "topic" is the mailbox, so it is never replayed.
        """
        log.warning("%s: unreadable mail dead-lettered (%s): %s", place, reason, why)
        detail = f"{reason}: {why} ({len(raw)} bytes; the mail stays at {place})"
        headers: Headers = [
            ("dead-letter-topic", f"imap:{place.mailbox}/{place.folder}".encode()),
            ("dead-letter-partition", str(place.uidvalidity).encode()),
            ("dead-letter-offset", str(place.uid).encode()),
            ("dead-letter-group", self._group.encode()),
            ("dead-letter-kind", b"unreadable_email"),
            ("dead-letter-error", detail.encode()[:MAX_ERROR_HEADER_BYTES]),
        ]
        await self._publisher.publish_raw(
            DEAD_LETTER, place.mailbox.encode(), raw[:MAX_DEAD_LETTER_BYTES], headers
        )
