"""Pure parts of the context service: database URLs, addresses, trend and summary, slots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from services.context.addresses import normalise_address
from services.context.database import async_url
from services.context.errors import InvalidAddressError, InvalidSlotError
from services.context.insights import Reading, SummaryFacts, summary, trend
from services.context.repository import Identity, sms_opted_out_numbers
from services.context.slots import Slot, checked, checked_all, newest_per_name
from tests.fakes.ports import InMemoryContext


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


T0 = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def _slot(name: str, value: str, minutes: int = 0, conversation_id: str = "c-1") -> Slot:
    return Slot(
        name, value, conversation_id, envelope_pb2.CHANNEL_WEB, T0 + timedelta(minutes=minutes)
    )


def test_a_slot_is_a_short_name_and_a_bounded_value() -> None:
    assert checked(_slot("postal_code", "  SW1A 1AA ")).value == "SW1A 1AA"
    assert checked(_slot("a" * 40, "9" * 200)) == _slot("a" * 40, "9" * 200)
    for bad in (
        _slot("Email", "x"),
        _slot("e-mail", "x"),
        _slot("_email", "x"),
        _slot("email2", "x"),
        _slot("", "x"),
        _slot("a" * 41, "x"),
        _slot("email", " \n "),
        _slot("email", "9" * 201),
        _slot("email", "x", conversation_id="c" * 65),
    ):
        with pytest.raises(InvalidSlotError):
            checked(bad)
    with pytest.raises(InvalidSlotError, match="empty"):
        checked_all([])
    with pytest.raises(InvalidSlotError, match="limit is 32"):
        checked_all([_slot("product", "kettle")] * 33)


def test_a_value_is_never_quoted_in_a_refusal() -> None:
    with pytest.raises(InvalidSlotError) as refused:
        checked(_slot("email", "ana@example.com" * 20))
    assert "ana@example.com" not in str(refused.value)


def test_the_newest_value_of_each_name_is_kept_the_later_on_a_tie() -> None:
    kept = newest_per_name(
        [
            _slot("email", "new@example.com", 10),
            _slot("postal_code", "SW1A 1AA", 0),
            _slot("email", "old@example.com", 5),
            _slot("postal_code", "EC1A 1BB", 0),
        ]
    )
    assert [(s.name, s.value) for s in kept] == [
        ("email", "new@example.com"),
        ("postal_code", "EC1A 1BB"),
    ]
    same = _slot("product", "kettle")
    assert newest_per_name([same, replace(same)]) == [same]
    assert newest_per_name([]) == []


def _wire_slot(name: str, value: str, minutes: int) -> context_pb.Slot:
    given_at = Timestamp()
    given_at.FromDatetime(T0 + timedelta(minutes=minutes))
    return context_pb.Slot(name=name, value=value, given_at=given_at)


async def test_the_in_memory_context_remembers_slots_as_the_service_does() -> None:
    context = InMemoryContext()
    await context.remember_slots("c-1", [_wire_slot("email", "new@example.com", 10)])
    await context.remember_slots(
        "c-1", [_wire_slot("email", "old@example.com", 5), _wire_slot("product", "kettle", 0)]
    )
    found = await context.get_context("c-1", "conv-1", 20)
    assert [(s.name, s.value) for s in found.slots] == [
        ("email", "new@example.com"),
        ("product", "kettle"),
    ]
    assert not (await context.get_context("c-2", "conv-2", 20)).slots


def test_sms_consent_is_each_numbers_and_the_customer_view_is_the_protective_one() -> None:
    sms, whatsapp = envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WHATSAPP
    moment = datetime.now(UTC)
    stopped = Identity(sms, "+14155550123", True, moment, opted_out=True)
    texted = Identity(sms, "+14155550124", True, moment)
    other_channel = Identity(whatsapp, "+14155550125", True, moment, opted_out=True)

    assert sms_opted_out_numbers([stopped, texted, other_channel]) == ["+14155550123"]
    assert sms_opted_out_numbers([texted, other_channel]) == []
    facts = SummaryFacts(
        display_name="",
        customer_since=moment,
        channels=["sms"],
        contacts_last_7_days=1,
        open_topics=[],
        last_emotion="",
        trend="stable",
        preferred_language="",
        sms_opted_out_numbers=sms_opted_out_numbers([stopped, texted]),
        emotion_analysis_allowed=True,
        marketing_allowed=True,
    )
    assert "Opted out of SMS at +14155550123: do not text there." in summary(facts)
    assert "Opted out" not in summary(replace(facts, sms_opted_out_numbers=[]))
