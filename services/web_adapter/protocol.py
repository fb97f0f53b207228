"""The chat widget's WebSocket protocol: JSON frames, validated before anything is published.

Client → server::

    {"type": "message", "text": "...", "client_message_id": "optional, echoed back",
     "attachments": [{"reference": "web:upload/<sha256>", "file_name": "optional"}]}

``attachments`` is optional: up to four images the page uploaded first (``POST
/upload`` answers their reference); ``text`` is then their caption and may be empty.

Server → client::

    {"type": "welcome", "visitor": "...", "conversation_id": "..."}
    {"type": "ack", "event_id": "...", "client_message_id": "..."}
    {"type": "typing", "event_id": "...", "in_reply_to": "...", "sender_name": "..."}
    {"type": "reply", "event_id": "...", "in_reply_to": "...", "text": "...", "sender": "bot", ...}
    {"type": "error", "code": "invalid_json", "message": "..."}

``typing`` says the bot is preparing the reply to the message whose event id (its
``ack``) is ``in_reply_to``: the page shows its typing indicator until a reply with that
``in_reply_to`` comes, or a while has passed. Rapport sends it only when the bot is going
to answer, never while a person is in charge; a visitor who was away gets the reply alone.

Text is cleaned by the shared edge rules (``shared/channels/edge.py``), as on every other
channel: a lone surrogate becomes U+FFFD and control characters are dropped, so a
message with a broken emoji or a pasted control character is still the customer's
message; one that is nothing else, and carries no attachment, is ``empty_text``. Ids are
refused, not repaired: a ``client_message_id`` with such characters is an
``invalid_frame``, an attachment that is not an upload's reference an
``invalid_attachment``.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from shared.channels.edge import RejectedInput, identifier, label, message_text
from shared.errors import InvalidInputError

UPLOAD_PREFIX = "web:upload/"
"""References of visitors' uploads: ``web:upload/<SHA-256 of the bytes, hex>``."""
MAX_ATTACHMENTS = 4
_VISITOR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_UPLOAD_REFERENCE = re.compile(f"^{re.escape(UPLOAD_PREFIX)}[0-9a-f]{{64}}$")
_MAX_CLIENT_MESSAGE_ID = 128


class FrameError(InvalidInputError):
    """A client frame Rapport refuses; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ChatAttachment:
    """An upload the visitor sends, by reference, with the name of the file they chose."""

    reference: str
    file_name: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    text: str
    client_message_id: str
    attachments: tuple[ChatAttachment, ...] = ()


def visitor_token(proposed: str | None) -> str:
    """The visitor's own token when it is well formed, otherwise a new one."""
    if proposed and _VISITOR_TOKEN.match(proposed):
        return proposed
    return secrets.token_urlsafe(16)


def parse_frame(data: str, *, max_frame_bytes: int, max_text_chars: int) -> ChatMessage:
    """A client's text frame as a chat message, or :class:`FrameError` saying what is wrong."""
    size = len(data.encode("utf-8", "surrogatepass"))
    if size > max_frame_bytes:
        raise FrameError(
            "frame_too_large", f"frame is {size} bytes; the limit is {max_frame_bytes}"
        )
    try:
        frame: Any = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FrameError("invalid_json", f"frame is not JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits, deep nesting
        raise FrameError("invalid_json", "frame is JSON too large to read") from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "frame must be a JSON object")
    if frame.get("type") != "message":
        raise FrameError("unknown_type", f"unknown frame type {frame.get('type')!r}")
    attachments = _attachments(frame.get("attachments", []))
    text = frame.get("text", "" if attachments else None)
    if not isinstance(text, str):
        raise FrameError("empty_text", "text must be a non-empty string")
    try:
        cleaned = message_text(text, max_chars=max_text_chars)
    except RejectedInput as exc:
        raise FrameError("text_too_long", str(exc)) from exc
    if not cleaned and not attachments:
        raise FrameError("empty_text", "text must be a non-empty string")
    client_message_id = _client_message_id(frame.get("client_message_id", ""))
    return ChatMessage(cleaned, client_message_id, attachments)


def _attachments(value: object) -> tuple[ChatAttachment, ...]:
    """The uploads a frame names: references in their own form, names cleaned."""
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise FrameError(
            "invalid_attachment", f"attachments must be a list of at most {MAX_ATTACHMENTS}"
        )
    found = []
    for item in value:
        reference = item.get("reference") if isinstance(item, dict) else None
        file_name = item.get("file_name", "") if isinstance(item, dict) else None
        if not isinstance(reference, str) or not _UPLOAD_REFERENCE.match(reference):
            raise FrameError("invalid_attachment", "an attachment's reference is not an upload's")
        if not isinstance(file_name, str):
            raise FrameError("invalid_attachment", "an attachment's file_name must be a string")
        found.append(ChatAttachment(reference, label(file_name)))
    return tuple(found)


def _client_message_id(value: object) -> str:
    """The widget's own id for a message (optional), refused when it is not an id."""
    if not isinstance(value, str):
        raise FrameError("invalid_frame", "client_message_id must be a string")
    if not value:
        return ""
    try:
        return identifier(value, field="client_message_id", max_chars=_MAX_CLIENT_MESSAGE_ID)
    except RejectedInput as exc:
        raise FrameError("invalid_frame", str(exc)) from exc


def error_frame(code: str, message: str) -> dict[str, str]:
    return {"type": "error", "code": code, "message": message}


PENDING_TEXT = "reconnecting — your message will be sent"
PENDING_RETRY_MS = 2000


def pending_frame(client_message_id: str) -> dict[str, str | int]:
    """Rapport could not take the message yet (its broker is away): the page keeps it and
    sends it again after ``retry_after_ms``. Not an error: nothing is lost, only late."""
    return {
        "type": "pending",
        "client_message_id": client_message_id,
        "retry_after_ms": PENDING_RETRY_MS,
        "message": PENDING_TEXT,
    }
