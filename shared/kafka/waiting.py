"""Records held while a dependency is down: their partitions paused, their age exported.

A record whose handler fails because a service, store or broker it needs is unavailable
is not poison: it will succeed once that dependency answers. The consumer keeps it in
hand and tries again, and meanwhile stops fetching its partition (so no more of the
partition's records pile up behind it) until every record of that partition waiting for
a dependency has gone through. Order within a conversation is kept by the consumer's
per-key chaining; pausing only stops more records from arriving.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Collection

from aiokafka import TopicPartition

from shared.observability.metrics import (
    KAFKA_DEPENDENCY_WAIT_OLDEST_SECONDS,
    KAFKA_DEPENDENCY_WAITS,
    KAFKA_PAUSED_PARTITIONS,
)

PauseControl = Callable[[TopicPartition], None]


def backoff_with_jitter(attempt: int, first_seconds: float, longest_seconds: float) -> float:
    """Seconds to wait before try ``attempt`` + 1: exponential, capped, with full jitter.

    Full jitter (a uniform draw up to the exponential bound) spreads the retries of every
    consumer that lost the same dependency at the same moment, so its return is not met
    by all of them at once.
    """
    bound = min(longest_seconds, first_seconds * 2 ** min(attempt - 1, 30))
    return random.uniform(bound / 2, bound)


class DependencyWaits:
    """Which records of which partitions are waiting for a dependency, and since when.

    ``pause`` and ``resume`` act on the Kafka consumer; they are called when a partition
    gets its first waiting record and when its last one goes through or is given up
    (``resume`` must ignore a partition this member no longer owns).
    """

    def __init__(
        self,
        group: str,
        topics: Collection[str],
        *,
        pause: PauseControl,
        resume: PauseControl,
        clock: Callable[[], float],
    ) -> None:
        self._group = group
        self._pause = pause
        self._resume = resume
        self._clock = clock
        self._waiting: dict[TopicPartition, dict[int, tuple[float, asyncio.Task[None]]]] = {}
        for topic in topics:  # series from the start: "nothing waits" is a reading too
            KAFKA_PAUSED_PARTITIONS.labels(group, topic)
            KAFKA_DEPENDENCY_WAITS.labels(topic)
            # Read at each scrape, so the age grows while the record waits.
            KAFKA_DEPENDENCY_WAIT_OLDEST_SECONDS.labels(group, topic).set_function(
                functools.partial(self.oldest_wait, topic)
            )

    def started(self, tp: TopicPartition, offset: int, task: asyncio.Task[None]) -> None:
        """The record at ``offset`` found a dependency down; it stays in hand."""
        records = self._waiting.setdefault(tp, {})
        if not records:
            self._pause(tp)
            KAFKA_PAUSED_PARTITIONS.labels(self._group, tp.topic).inc()
        KAFKA_DEPENDENCY_WAITS.labels(tp.topic).inc()
        records.setdefault(offset, (self._clock(), task))

    def ended(self, tp: TopicPartition, offset: int) -> None:
        """The record went through, or was given up: resume once none is waiting."""
        records = self._waiting.get(tp)
        if records is None or records.pop(offset, None) is None:
            return
        if not records:
            del self._waiting[tp]
            KAFKA_PAUSED_PARTITIONS.labels(self._group, tp.topic).dec()
            self._resume(tp)

    def tasks_of(self, partitions: Collection[TopicPartition]) -> list[asyncio.Task[None]]:
        """The handling tasks of the records waiting on ``partitions``."""
        return [task for tp in partitions for _, task in self._waiting.get(tp, {}).values()]

    @property
    def partitions(self) -> set[TopicPartition]:
        return set(self._waiting)

    def oldest_wait(self, topic: str) -> float:
        """Seconds the oldest record of ``topic`` waiting for a dependency has waited; 0
        when none is waiting."""
        starts = [
            started
            for tp, records in self._waiting.items()
            if tp.topic == topic
            for started, _ in records.values()
        ]
        return self._clock() - min(starts) if starts else 0.0
