"""The chat widget's WebSocket protocol: JSON frames, validated before anything is published.

Client → server::

    {"type": "message", "text": "...", "client_message_id": "optional, echoed back"}

Server → client::

    {"type": "welcome", "visitor": "...", "conversation_id": "..."}
    {"type": "ack", "event_id": "...", "client_message_id": "..."}
    {"type": "reply", "event_id": "...", "text": "...", "sender": "bot", ...}
    {"type": "error", "code": "invalid_json", "message": "..."}

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInputError

_VISITOR_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class FrameError(InvalidInputError):
    """A client frame Rapport refuses; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ChatMessage:
    text: str
    client_message_id: str


def visitor_token(proposed: str | None) -> str:
    """The visitor's own token when it is well formed, otherwise a new one."""
    if proposed and _VISITOR_TOKEN.match(proposed):
        return proposed
    return secrets.token_urlsafe(16)


def parse_frame(data: str, *, max_frame_bytes: int, max_text_chars: int) -> ChatMessage:
    """A client's text frame as a chat message, or :class:`FrameError` saying what is wrong."""
    size = len(data.encode())
    if size > max_frame_bytes:
        raise FrameError(
            "frame_too_large", f"frame is {size} bytes; the limit is {max_frame_bytes}"
        )
    try:
        frame: Any = json.loads(data)
    except json.JSONDecodeError as exc:
        raise FrameError("invalid_json", f"frame is not JSON: {exc.msg}") from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "frame must be a JSON object")
    if frame.get("type") != "message":
        raise FrameError("unknown_type", f"unknown frame type {frame.get('type')!r}")
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FrameError("empty_text", "text must be a non-empty string")
    if len(text) > max_text_chars:
        raise FrameError(
            "text_too_long", f"text has {len(text)} characters; the limit is {max_text_chars}"
        )
    client_message_id = frame.get("client_message_id", "")
    if not isinstance(client_message_id, str) or len(client_message_id) > 128:
        raise FrameError(
            "invalid_frame", "client_message_id must be a string of at most 128 characters"
        )
    return ChatMessage(text.strip(), client_message_id)


def error_frame(code: str, message: str) -> dict[str, str]:
    return {"type": "error", "code": code, "message": message}
