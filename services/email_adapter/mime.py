"""Reading a raw mail into what Rapport needs of it, whatever shape the mail is in.

Real mail is often broken: wrong or unknown charsets, bad base64, headers no parser
likes, missing dates and ids. Each field is therefore read on its own and falls back to
the best it can; only a mail with no sender to answer is refused
(:class:`UnreadableEmailError`). Pure: no I/O.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from services.email_adapter.parts import EmailAttachment, attachments, body_text
from services.email_adapter.quotes import new_words
from shared.channels.edge import MAX_ID_CHARS, RejectedInput, identifier, label
from shared.errors import InvalidInputError

__all__ = [
    "EmailAttachment",
    "ReadEmail",
    "UnreadableEmailError",
    "read_email",
    "thread_ids",
]

_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")
_ADDRESS_WORD = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_BRACKETED_ID = re.compile(r"<([^<>\s]+)>")
_BARE_ID = re.compile(r"[^<>\s@]+@[^<>\s@]+")  # ids some clients write without brackets
_LANGUAGE_TAG = re.compile(r"^\s*([A-Za-z]{2,3})\b")
_MAX_THREAD_IDS = 100
_MAX_SUBJECT_CHARS = 500


class UnreadableEmailError(InvalidInputError):
    """A mail that cannot be used at all; ``reason`` is a stable code for the dead letter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReadEmail:
    """What Rapport keeps of one mail; ids are without angle brackets."""

    message_id: str  # derived from the raw bytes' hash when the mail has none
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]  # in header order
    sender: str  # the From address, domain lower-cased
    sender_name: str
    recipients: tuple[str, ...]  # To and Cc
    subject: str  # decoded, on one line
    sent_at: datetime | None  # aware, UTC
    text: str  # the new words only, for analysis
    full_text: str  # the whole body as text, quotes kept, for a person
    attachments: tuple[EmailAttachment, ...]
    automatic: str  # "" when a person wrote it, else why it must never be answered
    language: str  # Content-Language's primary subtag, or ""


def read_email(raw: bytes, *, max_attachment_bytes: int = 25 * 1024 * 1024) -> ReadEmail:
    """``raw`` read as best it can be; :class:`UnreadableEmailError` when it has no sender."""
    if not raw.strip():
        raise UnreadableEmailError("empty", "the mail is empty")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not message.keys():
        raise UnreadableEmailError("not_an_email", "the bytes hold no mail headers")
    sender, sender_name = _sender(message)
    full_text = body_text(message)
    return ReadEmail(
        message_id=next(iter(_ids(message, "Message-ID")), "") or _derived_id(raw),
        in_reply_to=_ids(message, "In-Reply-To"),
        references=_ids(message, "References"),
        sender=sender,
        sender_name=sender_name,
        recipients=_addresses(message, "To", "Cc"),
        subject=label(_header(message, "Subject"), max_chars=_MAX_SUBJECT_CHARS),
        sent_at=_sent_at(_header(message, "Date")),
        text=new_words(full_text) or full_text,
        full_text=full_text,
        attachments=tuple(attachments(message, max_attachment_bytes)),
        automatic=_automatic_reason(message, sender),
        language=_language(_header(message, "Content-Language")),
    )


def thread_ids(email: ReadEmail) -> tuple[str, ...]:
    """The ids ``email`` answers, most specific first: In-Reply-To, then References reversed."""
    ordered = (*email.in_reply_to, *reversed(email.references))
    return tuple(dict.fromkeys(ordered))


# --- headers ---------------------------------------------------------------------------


def _header(message: Message, name: str) -> str:
    """The decoded value of header ``name``, "" when absent.

    The standard parser raises on some malformed headers; the raw value, with its
    encoded words decoded as far as they go, is the fallback.
    """
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except Exception:  # the library's header parser has no narrower failure
        return _raw_header(message, name)


def _raw_header(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return _decoded_words(str(value))
    return ""


def _decoded_words(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (LookupError, ValueError, UnicodeError, email.errors.HeaderParseError):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _ids(message: Message, name: str) -> tuple[str, ...]:
    """Message ids of header ``name`` without brackets, in order, repeats and junk dropped."""
    value = " ".join(str(raw) for key, raw in message.raw_items() if key.lower() == name.lower())
    found = _BRACKETED_ID.findall(value) or _BARE_ID.findall(value)
    usable = [found_id for found_id in dict.fromkeys(found) if _usable_id(found_id)]
    return tuple(usable[-_MAX_THREAD_IDS:])


def _usable_id(value: str) -> bool:
    try:
        identifier(value, field="message id", max_chars=MAX_ID_CHARS)
    except RejectedInput:
        return False
    return value.isprintable()


def _derived_id(raw: bytes) -> str:
    """A stable id for a mail without one, so a second fetch of it is known as the same."""
    return f"{hashlib.sha256(raw).hexdigest()[:40]}@message-id.invalid"


def _sender(message: Message) -> tuple[str, str]:
    for name in ("From", "Sender"):
        for address, display_name in _parsed_addresses(message, name):
            return address, display_name
    raise UnreadableEmailError("no_sender", "the mail has no From address that can be read")


def _addresses(message: Message, *names: str) -> tuple[str, ...]:
    found = (address for name in names for address, _ in _parsed_addresses(message, name))
    return tuple(dict.fromkeys(found))


def _parsed_addresses(message: Message, name: str) -> Iterator[tuple[str, str]]:
    """Each ``local@domain`` address of header ``name`` (domain lower-cased) and its name.

    When the header does not parse (an unclosed quote, say), the address-shaped words in
    it are taken, without names.
    """
    value = _header(message, name)
    parsed = [
        (usable, label(display_name))
        for display_name, address in getaddresses([value])
        if (usable := _usable_address(address))
    ]
    yield from parsed or (
        (usable, "") for word in _ADDRESS_WORD.findall(value) if (usable := _usable_address(word))
    )


def _usable_address(value: str) -> str:
    """``value`` with its domain lower-cased when it is a ``local@domain`` address, else ""."""
    local, _, domain = value.strip().rpartition("@")
    candidate = f"{local}@{domain.lower()}"
    usable = _ADDRESS.match(candidate) and candidate.isprintable() and len(candidate) <= 254
    return candidate if usable else ""


def _sent_at(value: str) -> datetime | None:
    try:
        sent = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return sent.replace(tzinfo=UTC) if sent.tzinfo is None else sent.astimezone(UTC)


def _language(value: str) -> str:
    match = _LANGUAGE_TAG.match(value)
    return match.group(1).lower() if match else ""


# --- automatic mail --------------------------------------------------------------------

_AUTO_REPLY = "auto_reply_header"
_AUTOMATIC_HEADERS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # RFC 3834 section 5: any Auto-Submitted value but "no" is a machine's.
    ("Auto-Submitted", re.compile(r"^\s*(?!no(?![\w-]))\S", re.IGNORECASE), "auto_submitted"),
    # The de facto header of lists, bulk senders and old vacation programs (RFC 3834 s. 2).
    ("Precedence", re.compile(r"^\s*(?:bulk|junk|list|auto_reply)\b", re.I), "precedence"),
    ("X-Autoreply", re.compile(r"\S"), _AUTO_REPLY),
    ("X-Autorespond", re.compile(r"\S"), _AUTO_REPLY),
    ("X-Autogenerated", re.compile(r"\S"), _AUTO_REPLY),
    ("X-AutoReply-From", re.compile(r"\S"), _AUTO_REPLY),
    # Exchange's out-of-office replies, which ask for no automatic answer themselves.
    (
        "X-Auto-Response-Suppress",
        re.compile(r"\b(?:all|oof|autoreply)\b", re.I),
        _AUTO_REPLY,
    ),
    ("X-MS-Exchange-Generated-Message-Source", re.compile(r"\S"), _AUTO_REPLY),
)
_DAEMON_SENDERS = ("mailer-daemon@", "postmaster@")


def _automatic_reason(message: Message, sender: str) -> str:
    """Why ``message`` was sent by a machine and must never be answered; "" for a person.

    Sources: RFC 3834 (Auto-Submitted, and the Precedence header it describes), RFC 3464
    and RFC 6522 (delivery status reports), RFC 5321 section 4.5.5 (bounces have an empty
    reverse path), and the headers common mail systems put on their auto-replies.
    """
    for name, pattern, reason in _AUTOMATIC_HEADERS:
        if pattern.search(_header(message, name)):
            return reason
    if _is_report(message):
        return "delivery_status"
    if (
        sender.lower().startswith(_DAEMON_SENDERS)
        or _header(message, "Return-Path").strip() == "<>"
    ):
        return "mailer_daemon"
    return ""


def _is_report(message: Message) -> bool:
    """A delivery status notification (RFC 3464) or any other multipart/report (RFC 6522)."""
    return message.get_content_type() == "multipart/report" or any(
        part.get_content_type() == "message/delivery-status" for part in message.walk()
    )
