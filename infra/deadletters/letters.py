"""Dead letters as the consumer writes them, and the pure decisions about them: which ones
a command means, and what a replay publishes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.kafka.codec import EVENT_ID_HEADER, EVENT_TYPE_HEADER, Headers

DEAD_LETTER_HEADER_PREFIX = "dead-letter-"
"""The headers the consumer adds (``shared/kafka/consumer.py``); a replay drops them."""

_RANGE = re.compile(r"^(?P<first>\d+)(?:(?P<dash>-)(?P<last>\d+)?)?$")


@dataclass(frozen=True, slots=True)
class OffsetRange:
    """Offsets of the dead-letter topic, ``first`` to ``last`` inclusive (open when None)."""

    first: int
    last: int | None

    @classmethod
    def parse(cls, text: str) -> OffsetRange:
        """``7`` (one), ``7-12`` (both ends included) or ``7-`` (7 and everything after)."""
        match = _RANGE.match(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an offset range: write 7, 7-12 or 7-")
        first = int(match["first"])
        if not match["dash"]:
            return cls(first, first)
        last = int(match["last"]) if match["last"] is not None else None
        if last is not None and last < first:
            raise ValueError(f"offset range {text!r} ends before it starts")
        return cls(first, last)

    def __contains__(self, offset: object) -> bool:
        return (
            isinstance(offset, int)
            and offset >= self.first
            and (self.last is None or offset <= self.last)
        )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of the dead-letter topic: the original key, value and headers, plus the
    consumer's ``dead-letter-*`` headers."""

    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` as text, or None when it is absent."""
        values = [value for key, value in self.headers if key == name]
        return values[-1].decode(errors="replace") if values else None

    @property
    def original_topic(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}topic")

    @property
    def original_partition(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}partition")

    @property
    def original_offset(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}offset")

    @property
    def group(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}group")

    @property
    def kind(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}kind")

    @property
    def error(self) -> str | None:
        return self.header(f"{DEAD_LETTER_HEADER_PREFIX}error")

    @property
    def event_id(self) -> str | None:
        return self.header(EVENT_ID_HEADER)

    @property
    def event_type(self) -> str | None:
        return self.header(EVENT_TYPE_HEADER)

    @property
    def dead_lettered_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    @property
    def origin(self) -> str:
        """``topic[partition]@offset`` of the original record."""
        return f"{self.original_topic or '?'}[{self.original_partition or '?'}]@" + (
            self.original_offset or "?"
        )

    def replay_headers(self) -> Headers:
        """The original record's headers, in order: event type, event id, trace context..."""
        return [
            (name, value)
            for name, value in self.headers
            if not name.startswith(DEAD_LETTER_HEADER_PREFIX)
        ]


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command means; every criterion given must hold."""

    topic: str | None = None
    offsets: OffsetRange | None = None
    event_id: str | None = None

    @property
    def is_everything(self) -> bool:
        return self.topic is None and self.offsets is None and self.event_id is None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (self.topic is None or letter.original_topic == self.topic)
            and (self.offsets is None or letter.offset in self.offsets)
            and (self.event_id is None or letter.event_id == self.event_id)
        )


class NotReplayableError(ValueError):
    """A dead letter that cannot go back where it came from."""


def replay_targets(
    letters: list[DeadLetter], existing_topics: set[str]
) -> list[tuple[str, DeadLetter]]:
    """Each letter with the topic it goes back to; the whole replay is refused, before
    anything is published, if one of them cannot go back."""
    targets = []
    for letter in letters:
        topic = letter.original_topic
        if topic is None:
            raise NotReplayableError(
                f"dead letter {letter.offset} has no {DEAD_LETTER_HEADER_PREFIX}topic header, "
                "so where it came from is unknown"
            )
        if topic not in existing_topics:
            raise NotReplayableError(
                f"dead letter {letter.offset} came from {topic}, which the broker does not have"
            )
        targets.append((topic, letter))
    return targets
