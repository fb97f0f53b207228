"""Writing a reply mail: the same words as plain text and HTML, threaded under the customer's.

The text arrives in the voice's Markdown subset (``**bold**``, ``_italic_``); the plain
alternative drops the marks, the HTML one renders them, escaped, in a minimal inline-styled
document (mail clients ignore style sheets). Threading follows RFC 5322 section 3.6.4, and
the bot's replies say they are automatic (RFC 3834) so that other robots do not answer.
Pure: no I/O.
"""

from __future__ import annotations

import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from services.email_adapter.parts import EmailAttachment
from shared.channels.edge import label

MAX_REFERENCES = 20
"""Ids kept in References: the thread's root and its latest ones, so headers stay short."""
DEFAULT_SUBJECT = "Your message"
_MAX_SUBJECT_CHARS = 500

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|rif|res|r)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)
_ITALIC = re.compile(r"(?<![\w*])_(?=\S)(.+?)(?<=\S)_(?!\w)", re.DOTALL)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
_CONTENT_TYPE = re.compile(r"^([a-z0-9][a-z0-9.+-]*)/([a-z0-9][a-z0-9.+-]*)$")
_ID_NAMESPACE = uuid.UUID("9d0b5a5e-2f7c-4d1e-8a43-5f1c2f0e7a11")
_HTML_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
    '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 15px; '
    'line-height: 1.5; color: #1f2328;">\n{paragraphs}\n</body></html>\n'
)
_PARAGRAPH = '<p style="margin: 0 0 1em 0;">{}</p>'


@dataclass(frozen=True, slots=True)
class ThreadHeaders:
    """What a reply needs of the thread it answers; ids are without angle brackets."""

    subject: str  # the thread's subject (without "Re:" prefixes)
    in_reply_to: str  # id (no brackets) of the customer's last message, or ""
    references: tuple[str, ...]  # ids, oldest first


def outbound_message_id(event_id: str, domain: str) -> str:
    """The Message-ID (no brackets) of the reply to event ``event_id``: a retry reuses it."""
    return f"rapport.{uuid.uuid5(_ID_NAMESPACE, event_id)}@{domain.lower()}"


def compose_email(
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    text: str,
    thread: ThreadHeaders | None,
    message_id: str,
    automatic: bool,
    attachment: EmailAttachment | None = None,
) -> EmailMessage:
    """The reply mail, ready for SMTP: plain and HTML alternatives, threaded, dated."""
    mail = EmailMessage()
    mail["From"] = Address(display_name=label(sender_name), addr_spec=sender)
    mail["To"] = recipient
    mail["Subject"] = reply_subject(thread.subject if thread else "")
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = f"<{message_id}>"
    if thread is not None:
        references = thread_references(thread)
        if thread.in_reply_to:
            mail["In-Reply-To"] = f"<{thread.in_reply_to}>"
        if references:
            mail["References"] = " ".join(f"<{reference}>" for reference in references)
    if automatic:
        mail["Auto-Submitted"] = "auto-replied"
    mail.set_content(plain_text(text))
    mail.add_alternative(html_document(text), subtype="html")
    if attachment is not None:
        maintype, subtype = _attachment_type(attachment.content_type)
        mail.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.file_name
        )
    return mail


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, never ``Re: Re:``; a default when the thread has none."""
    line = label(subject, max_chars=_MAX_SUBJECT_CHARS)
    bare = label(_REPLY_PREFIX.sub("", line), max_chars=_MAX_SUBJECT_CHARS)
    return f"Re: {bare or DEFAULT_SUBJECT}" if line else DEFAULT_SUBJECT


def thread_references(thread: ThreadHeaders) -> tuple[str, ...]:
    """References oldest first, ending with In-Reply-To, without repeats, bounded.

    When there are too many, the first (the thread's root) and the latest are kept, as
    RFC 5322 section 3.6.4 suggests.
    """
    ordered = [reference for reference in thread.references if reference != thread.in_reply_to]
    ordered.append(thread.in_reply_to)
    unique = [reference for reference in dict.fromkeys(ordered) if reference]
    if len(unique) <= MAX_REFERENCES:
        return tuple(unique)
    return (unique[0], *unique[-(MAX_REFERENCES - 1) :])


def plain_text(text: str) -> str:
    """``text`` without its Markdown marks."""
    return _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text)).strip() + "\n"


def html_document(text: str) -> str:
    """``text`` as an HTML page: escaped, bold and italic rendered, paragraphs and breaks."""
    paragraphs = [chunk for chunk in _PARAGRAPH_BREAK.split(text.strip()) if chunk.strip()]
    rendered = "\n".join(_PARAGRAPH.format(_inline_html(chunk)) for chunk in paragraphs)
    return _HTML_PAGE.format(paragraphs=rendered)


def _attachment_type(content_type: str) -> tuple[str, str]:
    """The attachment's type, or application/octet-stream when it is not a single part's."""
    match = _CONTENT_TYPE.match(content_type.strip().lower())
    if match is None or match.group(1) == "multipart":
        return "application", "octet-stream"
    return match.group(1), match.group(2)


def _inline_html(chunk: str) -> str:
    escaped = html.escape(chunk.strip(), quote=True)
    marked = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", escaped))
    return "<br>\n".join(line.rstrip() for line in marked.split("\n"))
