"""Pure parts of the context service: database URLs, addresses, trend and summary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rapport.common.v1 import envelope_pb2

from services.context.addresses import normalise_address
from services.context.database import async_url
from services.context.errors import InvalidAddressError
from services.context.insights import Reading, trend


def test_database_urls_get_their_async_driver() -> None:
    assert async_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://h/db")


def test_addresses_are_canonical_per_channel() -> None:
    sms, web = envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WEB
    assert normalise_address(sms, "(202) 555-0143", "US") == "+12025550143"
    assert normalise_address(envelope_pb2.CHANNEL_WHATSAPP, "12025550143", "GB") == "+12025550143"
    assert normalise_address(web, "  Token-ABC  ", "US") == "Token-ABC"
    for channel, address in ((sms, "12"), (sms, "call me"), (web, ""), (0, "x"), (web, "x" * 201)):
        with pytest.raises(InvalidAddressError):
            normalise_address(channel, address, "US")


def _readings(*sentiments: float) -> list[Reading]:
    moment = datetime.now(UTC)
    return [Reading(moment, "x", 0.5, s) for s in sentiments]


def test_the_trend_follows_the_sentiment_slope_not_one_outlier() -> None:
    assert trend(_readings(-0.8, -0.5, -0.1, 0.3)) == "improving"
    assert trend(_readings(0.2, -0.2, -0.6)) == "worsening"
    assert trend(_readings(-0.5, -0.5, 0.9, -0.5, -0.5)) == "stable"
    assert trend(_readings(-0.9)) == "stable"
