"""Channel addresses in one canonical form, so one person is one identity per channel.

Phone channels (SMS, WhatsApp) use E.164 via Google's libphonenumber port; WhatsApp
sends numbers without the leading ``+``. Other channels' ids are opaque: trimmed and
bounded, never rewritten.
"""

from __future__ import annotations

import phonenumbers
from rapport.common.v1 import envelope_pb2

from services.context.errors import InvalidAddressError
from shared.channel_names import PHONE_CHANNELS

MAX_ADDRESS_CHARS = 200


def normalise_address(channel: int, address: str, default_region: str) -> str:
    """The canonical address, or :class:`InvalidAddressError` saying what is wrong."""
    if channel == envelope_pb2.CHANNEL_UNSPECIFIED:
        raise InvalidAddressError("channel is required")
    cleaned = address.strip()
    if not cleaned:
        raise InvalidAddressError("address is empty")
    if len(cleaned) > MAX_ADDRESS_CHARS:
        raise InvalidAddressError(f"address is longer than {MAX_ADDRESS_CHARS} characters")
    if channel not in PHONE_CHANNELS:
        return cleaned
    if channel == envelope_pb2.CHANNEL_WHATSAPP and cleaned.isdigit():
        cleaned = "+" + cleaned
    try:
        number = phonenumbers.parse(cleaned, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddressError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidAddressError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
