"""Channel names as they appear in topic names, settings and metric labels."""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2

_PREFIX = "CHANNEL_"

CHANNEL_NAMES: tuple[str, ...] = tuple(
    name.removeprefix(_PREFIX).lower()
    for name, number in envelope_pb2.Channel.items()
    if number != envelope_pb2.CHANNEL_UNSPECIFIED
)


def channel_name(channel: envelope_pb2.Channel) -> str:
    """``CHANNEL_SMS`` → ``"sms"``."""
    return envelope_pb2.Channel.Name(channel).removeprefix(_PREFIX).lower()


def channel_number(name: str) -> envelope_pb2.Channel:
    """``"sms"`` → ``CHANNEL_SMS``; ValueError for a channel Rapport does not know."""
    return envelope_pb2.Channel.Value(_PREFIX + name.upper())  # type: ignore[return-value]


PHONE_CHANNELS: frozenset[envelope_pb2.Channel] = frozenset(
    {envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WHATSAPP}
)
"""The channels whose address is a phone number (E.164), proven by the message itself."""
