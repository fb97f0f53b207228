"""The body and the files of a parsed mail, whatever its MIME tree looks like.

Mixed, alternative and related multiparts nest freely; a forwarded mail
(message/rfc822) is a file of its own unless the mail has no words of its own. Charsets
are often wrong or unknown and transfer encodings broken: each part is decoded as far as
it goes rather than refused. Pure: no I/O.
"""

from __future__ import annotations

import email.policy
import mimetypes
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from services.email_adapter.html_text import html_to_text, tidy_text
from shared.channels.edge import label

_BODY_TYPES = ("text/plain", "text/html")
# Parts written for mail software, not people: report details (RFC 3464, RFC 8098, RFC 6522)
# and signatures (RFC 3156, RFC 8551).
_MACHINE_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/disposition-notification",
        "text/rfc822-headers",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)
_FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")
_PATH_SEPARATORS = re.compile(r"[/\\]")


@dataclass(frozen=True, slots=True)
class EmailAttachment:
    """A file sent with a mail; one too large to keep has empty ``data`` and says so."""

    file_name: str
    content_type: str
    data: bytes
    inline: bool
    too_large: bool = False
    original_size: int = 0  # the decoded size of a part too large to keep

    @property
    def size(self) -> int:
        return self.original_size if self.too_large else len(self.data)


def body_text(message: Message) -> str:
    """The whole body as text: text/plain preferred, HTML converted when it is all there is."""
    parts = _body_parts(message, into_forwarded=False) or _body_parts(message, into_forwarded=True)
    texts = (_part_text(part) for part in parts)
    return tidy_text("\n\n".join(text for text in texts if text))


def attachments(message: Message, max_bytes: int) -> Iterator[EmailAttachment]:
    """Every file of the mail: parts with a file name or marked attachment, and images.

    A part larger than ``max_bytes`` once decoded is recorded without its bytes; only the
    part being looked at is ever held decoded.
    """
    body = {id(part) for part in _body_parts(message, into_forwarded=False)}
    for part in _leaves(message):
        content_type = part.get_content_type()
        if id(part) in body or content_type in _MACHINE_PARTS:
            continue
        if content_type in _BODY_TYPES and not _is_attachment(part):
            continue
        yield _attachment(part, content_type, max_bytes)


def _leaves(part: Message) -> Iterator[Message]:
    """The parts holding content, a forwarded mail being one such part."""
    if part.is_multipart() and part.get_content_type() != "message/rfc822":
        for child in _children(part):
            yield from _leaves(child)
    else:
        yield part


def _body_parts(part: Message, *, into_forwarded: bool) -> list[Message]:
    content_type = part.get_content_type()
    if content_type == "message/rfc822" and not into_forwarded:
        return []
    if part.is_multipart():
        found = [_body_parts(child, into_forwarded=into_forwarded) for child in _children(part)]
        if content_type == "multipart/alternative":
            return _best_alternative(found)
        return [body_part for child_parts in found for body_part in child_parts]
    if content_type in _BODY_TYPES and not _is_attachment(part):
        return [part]
    return []


def _best_alternative(choices: list[list[Message]]) -> list[Message]:
    """The plain-text rendering when the sender gave one, else the last (richest) one."""
    filled = [choice for choice in choices if choice]
    for choice in filled:
        if all(part.get_content_type() == "text/plain" for part in choice):
            return choice
    return filled[-1] if filled else []


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return []
    return [child for child in payload if isinstance(child, Message)]


def _part_text(part: Message) -> str:
    text = decoded_text(_decoded_bytes(part), part.get_content_charset())
    return html_to_text(text) if part.get_content_type() == "text/html" else tidy_text(text)


def _decoded_bytes(part: Message) -> bytes:
    """The part's bytes with its transfer encoding undone (broken base64 as far as it goes)."""
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, UnicodeError):
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def decoded_text(data: bytes, declared: str | None) -> str:
    """``data`` as text: the declared charset, else UTF-8, else cp1252, else Latin-1."""
    for charset in (declared, *_FALLBACK_CHARSETS):
        if charset:
            try:
                return data.decode(charset)
            except (LookupError, UnicodeError, ValueError):
                continue
    return data.decode("latin-1")


def _is_attachment(part: Message) -> bool:
    return _disposition(part) == "attachment" or bool(_file_name(part))


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:  # the library's header parser has no narrower failure
        return None


def _file_name(part: Message) -> str:
    """The part's file name without any path a sender put in it, "" when it has none."""
    try:
        name = str(part.get_filename() or "")
    except Exception:  # the library's header parser has no narrower failure
        name = ""
    return label(_PATH_SEPARATORS.split(name)[-1])


def _attachment(part: Message, content_type: str, max_bytes: int) -> EmailAttachment:
    file_name = _file_name(part) or _default_name(content_type)
    inline = _disposition(part) != "attachment" and content_type.startswith("image/")
    data = _forwarded_bytes(part) if content_type == "message/rfc822" else _decoded_bytes(part)
    if len(data) > max_bytes:
        return EmailAttachment(file_name, content_type, b"", inline, True, len(data))
    return EmailAttachment(file_name, content_type, data, inline)


def _forwarded_bytes(part: Message) -> bytes:
    children = _children(part)
    try:
        return children[0].as_bytes(policy=email.policy.SMTP) if children else b""
    except Exception:  # re-serialising a broken forwarded mail can fail anywhere
        return b""


def _default_name(content_type: str) -> str:
    kind = content_type.partition("/")[0] or "attachment"
    return f"{kind}{mimetypes.guess_extension(content_type) or '.bin'}"
