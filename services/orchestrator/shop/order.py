"""An order as Rapport sees it, whatever shop it comes from, and the pure helpers that
compare what a customer says with what the shop holds.

Each platform names its statuses its own way; :data:`STATUSES` is the small closed
vocabulary the orchestrator plans replies on, so a reply never depends on the platform.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import phonenumbers

OrderStatus = Literal[
    "pending", "processing", "shipped", "delivered", "cancelled", "refunded", "on_hold"
]
STATUSES: tuple[OrderStatus, ...] = get_args(OrderStatus)

_PHONE_SEPARATORS = re.compile(r"[\s\-./()]")
_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class Order:
    """One order, with only what a status answer and the identity check need."""

    reference: str  # as the customer knows it: "#1001", "1001"
    status: OrderStatus
    email: str | None = None
    phone: str | None = None  # as the shop stores it
    billing_postal_code: str | None = None
    shipping_postal_code: str | None = None
    # ISO 3166 alpha-2 of the order's address: reads a phone stored without country code.
    country: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    updated_at: datetime | None = None


def clean_reference(reference: str) -> str | None:
    """The reference without blanks or a leading ``#``, or ``None`` when it cannot be an
    order reference (letters, digits, ``-`` and ``_``): what is sent to a shop is never
    free text, so it cannot reach into a URL path or a search query."""
    cleaned = reference.strip().lstrip("#").strip()
    return cleaned if _REFERENCE.fullmatch(cleaned) else None


def reference_key(reference: str) -> str:
    """A reference the way it is compared: "#1001 ", "1001" and "#1001" are one order."""
    return reference.strip().lstrip("#").strip().upper()


def email_key(email: str | None) -> str | None:
    """An address compared without case or surrounding blanks; ``None`` when empty."""
    cleaned = (email or "").strip().lower()
    return cleaned or None


def postal_code_key(postal_code: str | None) -> str | None:
    """A postal code compared without case or spaces ("sw1a 1aa" is "SW1A1AA")."""
    cleaned = re.sub(r"\s+", "", postal_code or "").upper()
    return cleaned or None


def phone_key(phone: str | None, country: str | None = None) -> str | None:
    """A number in E.164 (``+33612345678``), tolerating spaces, dashes, dots, brackets
    and a leading ``00``; a number without country code is read in ``country``.

    ``None`` when it cannot be read as a possible number: such a number never matches,
    since a wrong match would disclose someone else's order.
    """
    cleaned = _PHONE_SEPARATORS.sub("", phone or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    if not cleaned:
        return None
    try:
        region = None if cleaned.startswith("+") or not country else country.upper()
        number = phonenumbers.parse(cleaned, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time from a shop, in UTC when it names no zone (WooCommerce's
    ``*_gmt`` fields); ``None`` when absent or unreadable, since it is only shown."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
