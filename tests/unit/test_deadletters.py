"""The dead-letter tool's decisions: which dead letters a command means, what a replay sends."""

from __future__ import annotations

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from infra.deadletters.letters import (
    DeadLetter,
    NotReplayableError,
    OffsetRange,
    Selection,
    replay_targets,
)
from infra.deadletters.render import LIST_ERROR_WIDTH, full, table
from shared.kafka.codec import encode, new_envelope

EVENT = messages_pb2.MessageReceived(
    envelope=new_envelope(conversation_id="conv-1", channel=envelope_pb2.CHANNEL_WEB),
    text="hello",
)
KEY, VALUE, ORIGINAL_HEADERS = encode(EVENT)


def letter(offset: int = 4, topic: str | None = "rapport.inbound.v1", **extra: str) -> DeadLetter:
    dead_letter_headers = {
        "dead-letter-partition": "2",
        "dead-letter-offset": "17",
        "dead-letter-group": "rapport-orchestrator",
        "dead-letter-kind": "handler",
        "dead-letter-error": "InvalidInputError: no",
        **({"dead-letter-topic": topic} if topic else {}),
        **extra,
    }
    return DeadLetter(
        offset=offset,
        timestamp_ms=1_700_000_000_000,
        key=KEY,
        value=VALUE,
        headers=(
            *ORIGINAL_HEADERS,
            *((name, value.encode()) for name, value in dead_letter_headers.items()),
        ),
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("7", OffsetRange(7, 7)),
        ("7-12", OffsetRange(7, 12)),
        ("7-", OffsetRange(7, None)),
        (" 0-0 ", OffsetRange(0, 0)),
    ],
)
def test_offset_ranges_are_one_offset_both_ends_or_open(text: str, expected: OffsetRange) -> None:
    assert OffsetRange.parse(text) == expected


@pytest.mark.parametrize("text", ["", "-3", "a-b", "7-3", "1,2", "7--9"])
def test_anything_else_is_refused_with_the_forms_it_takes(text: str) -> None:
    with pytest.raises(ValueError, match="offset range"):
        OffsetRange.parse(text)


def test_a_range_holds_its_ends_and_what_is_between() -> None:
    assert [n for n in range(10) if n in OffsetRange(3, 5)] == [3, 4, 5]
    assert [n for n in range(10) if n in OffsetRange(8, None)] == [8, 9]


def test_a_selection_needs_every_criterion_it_has() -> None:
    event_id = EVENT.envelope.event_id
    assert Selection().matches(letter())
    assert Selection(topic="rapport.inbound.v1", event_id=event_id).matches(letter())
    assert not Selection(topic="rapport.handoff.v1", event_id=event_id).matches(letter())
    assert not Selection(event_id="another").matches(letter())
    assert Selection(offsets=OffsetRange(4, 4)).matches(letter(offset=4))
    assert not Selection(offsets=OffsetRange(5, None)).matches(letter(offset=4))


def test_a_replay_sends_the_original_headers_without_the_dead_letter_ones() -> None:
    assert letter().replay_headers() == ORIGINAL_HEADERS


def test_a_replay_is_refused_whole_when_one_letter_cannot_go_back() -> None:
    good, unknown_origin = letter(offset=1), letter(offset=2, topic=None)
    topics = {"rapport.inbound.v1"}

    assert replay_targets([good], topics) == [("rapport.inbound.v1", good)]
    with pytest.raises(NotReplayableError, match="dead letter 2 has no dead-letter-topic"):
        replay_targets([good, unknown_origin], topics)
    with pytest.raises(NotReplayableError, match="came from rapport.gone.v1, which the broker"):
        replay_targets([good, letter(offset=3, topic="rapport.gone.v1")], topics)


def test_the_list_shows_a_dash_for_what_is_missing_and_one_line_of_error() -> None:
    long_error = "Boom:\n" + "x" * 200
    rows = table([letter(**{"dead-letter-error": long_error}), letter(offset=5, topic=None)])
    header, first, second = rows.splitlines()

    assert header.split()[:3] == ["OFFSET", "WHEN", "ORIGINAL"]
    assert "rapport.inbound.v1[2]@17" in first
    assert first.endswith("Boom: " + "x" * (LIST_ERROR_WIDTH - 7) + "…")
    assert "?[2]@17" in second


def test_show_names_an_event_type_it_does_not_know_and_keeps_the_bytes() -> None:
    unknown = DeadLetter(
        offset=9,
        timestamp_ms=0,
        key=None,
        value=b"\x01\x02",
        headers=(("event-type", b"rapport.events.v9.Unheard"),),
    )

    shown = full(unknown, "rapport.dead-letter.v1")

    assert "  key       (none)" in shown
    assert "not decoded: rapport.events.v9.Unheard is not a message of Rapport's contracts" in shown
    assert "base64: AQI=" in shown
