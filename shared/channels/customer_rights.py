"""The contract of an adapter's customers' rights endpoints, used by both ends.

An adapter that keeps customers' data of its own (the email adapter: threads, Message-IDs,
attachments) serves ``POST /rights/export`` and ``POST /rights/erase``; the agent desk
calls them when a supervisor exports or erases a customer. The body names the customer
as the stores know them: their addresses on the adapter's channel, their conversations,
and the references of the files they sent; requests are signed
(``shared.signed_requests``). Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidInputError

EXPORT_PATH = "/rights/export"
ERASE_PATH = "/rights/erase"
MAX_ITEMS = 10_000
"""The most addresses, conversations or files one request names."""
MAX_ITEM_CHARS = 4096
_FIELDS = ("addresses", "conversation_ids", "attachments")


@dataclass(frozen=True, slots=True)
class CustomerSubject:
    """Whom an export or an erasure is about."""

    addresses: tuple[str, ...] = ()
    conversation_ids: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()  # references of files the customer sent

    def __bool__(self) -> bool:
        return bool(self.addresses or self.conversation_ids or self.attachments)

    def body(self) -> bytes:
        document = {name: list(getattr(self, name)) for name in _FIELDS}
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_body(cls, body: bytes) -> CustomerSubject:
        """The subject a request names; :class:`InvalidInputError` saying what is wrong."""
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"the body is not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise InvalidInputError("the body is a JSON object")
        unknown = sorted(set(document) - set(_FIELDS))
        if unknown:
            raise InvalidInputError(f"unknown fields: {', '.join(unknown)}")
        return cls(*(_strings(document, name) for name in _FIELDS))


def _strings(document: dict[str, Any], name: str) -> tuple[str, ...]:
    values = document.get(name, [])
    if not isinstance(values, list) or len(values) > MAX_ITEMS:
        raise InvalidInputError(f"{name} is a list of at most {MAX_ITEMS} strings")
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_ITEM_CHARS for v in values):
        raise InvalidInputError(f"each of {name} is a string of 1 to {MAX_ITEM_CHARS} characters")
    return tuple(dict.fromkeys(values))
