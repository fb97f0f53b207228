"""The dead-letter tool's Kafka side: read the dead-letter topic without a consumer group,
and publish replayed records.

Reading assigns the partitions and seeks, so no group is joined, no offset is committed and
no consumer group of Rapport's is ever disturbed. A read stops at the end offsets seen when
it began, so it always finishes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.deadletters.letters import DeadLetter, OffsetRange
from shared.kafka.topics import DEAD_LETTER

CLIENT_ID = "rapport-deadletters"
REQUEST_TIMEOUT_MS = 15_000
STALL_SECONDS = 30.0
"""A read that gets nothing for this long, with records still to come, gives up."""


class BrokerError(RuntimeError):
    """The broker, or the dead-letter topic on it, is not as the tool needs it."""


@dataclass(frozen=True, slots=True)
class Published:
    """Where a replayed record landed."""

    topic: str
    partition: int
    offset: int


class DeadLetterBroker:
    """A group-less consumer of the dead-letter topic, an admin client for metadata, and a
    producer started on first use."""

    def __init__(
        self, bootstrap: str, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer
    ) -> None:
        self._bootstrap = bootstrap
        self._admin = admin
        self._consumer = consumer
        self._producer: AIOKafkaProducer | None = None

    async def topics(self) -> set[str]:
        """The topics the broker has now."""
        return set(await self._admin.list_topics())

    async def read(self, offsets: OffsetRange | None = None) -> list[DeadLetter]:
        """The dead letters at ``offsets`` (all when None), in offset order."""
        partition = await self._partition()
        begin = (await self._consumer.beginning_offsets([partition]))[partition]
        end = (await self._consumer.end_offsets([partition]))[partition]
        start = max(begin, offsets.first if offsets else 0)
        stop = end if offsets is None or offsets.last is None else min(end, offsets.last + 1)
        if start >= stop:
            return []
        self._consumer.seek(partition, start)
        letters: list[DeadLetter] = []
        progress_at = time.monotonic()
        while await self._consumer.position(partition) < stop:
            batch = await self._consumer.getmany(partition, timeout_ms=500)
            records = [r for r in batch.get(partition, []) if r.offset < stop]
            letters.extend(_letter(record) for record in records)
            if records:
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                raise BrokerError(
                    f"{self._bootstrap} sent nothing for {STALL_SECONDS:g}s while reading "
                    f"{DEAD_LETTER} (at offset {await self._consumer.position(partition)})"
                )
        return letters

    async def publish(self, topic: str, letter: DeadLetter) -> Published:
        """The original record back into ``topic``: same key, value and original headers; the
        producer picks the partition from the key, as Rapport's own producers do."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=CLIENT_ID,
                acks="all",
                request_timeout_ms=REQUEST_TIMEOUT_MS,
            )
            await self._producer.start()
        metadata = await self._producer.send_and_wait(
            topic, value=letter.value, key=letter.key, headers=letter.replay_headers()
        )
        return Published(metadata.topic, metadata.partition, metadata.offset)

    async def close(self) -> None:
        await self._consumer.stop()
        await self._admin.close()
        if self._producer is not None:
            await self._producer.stop()

    async def _partition(self) -> TopicPartition:
        """The dead-letter topic's one partition: dead letters are named by offset alone."""
        [described] = await self._admin.describe_topics([DEAD_LETTER])
        partitions = described["partitions"] if described["error_code"] == 0 else []
        if not partitions:
            raise BrokerError(f"{self._bootstrap} has no topic {DEAD_LETTER}")
        if len(partitions) != 1:
            raise BrokerError(
                f"{DEAD_LETTER} on {self._bootstrap} has {len(partitions)} partitions; Rapport "
                "creates it with one, and this tool names dead letters by offset"
            )
        partition = TopicPartition(DEAD_LETTER, partitions[0]["partition"])
        self._consumer.assign([partition])
        return partition


def _letter(record: Any) -> DeadLetter:
    return DeadLetter(
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers),
    )


@asynccontextmanager
async def connect(bootstrap: str) -> AsyncIterator[DeadLetterBroker]:
    """A :class:`DeadLetterBroker` on ``bootstrap``; fails at once when nothing answers there."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=CLIENT_ID, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id=CLIENT_ID,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        await admin.start()
        await consumer.start()
    except BaseException:
        await consumer.stop()
        await admin.close()
        raise
    broker = DeadLetterBroker(bootstrap, admin, consumer)
    try:
        yield broker
    finally:
        await broker.close()
