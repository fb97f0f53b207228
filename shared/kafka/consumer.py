"""Consumes Rapport events at least once: handle then commit; retry, else dead-letter.

Ordering: records with the same key (one conversation) are handled one after another;
records with different keys are handled concurrently, up to ``max_in_flight`` at once,
even within one partition. Offsets are committed once per fetched batch, after every
handler of the batch returned, so a crash redelivers what was not finished and
handlers must be idempotent (dedupe on ``event_id``). A record that cannot be decoded, or whose
handler keeps failing, is copied to the dead-letter topic with the error in its
headers, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from google.protobuf.message import Message
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.errors import ContractError, RapportError
from shared.kafka.codec import Headers, decode
from shared.kafka.connect import start_client
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER
from shared.observability.metrics import KAFKA_DEAD_LETTERS, KAFKA_HANDLE_SECONDS, KAFKA_RECORDS

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]

MAX_ERROR_HEADER_BYTES = 1024


def is_retriable(error: BaseException) -> bool:
    """Rapport's errors say whether to retry; anything unexpected gets another chance."""
    if isinstance(error, RapportError):
        return error.retriable
    return isinstance(error, Exception)


class EventConsumer:
    """A consumer group member that feeds decoded events to one handler.

    ``topics`` maps each topic to the protobuf type its records hold. ``run`` returns
    after ``stop`` is set and the records already fetched are handled and committed.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Mapping[str, type[Message]],
        dead_letters: EventPublisher,
        client_id: str,
        max_attempts: int = 3,
        group_instance_id: str | None = None,
        retry_wait_seconds: float = 0.2,
        max_in_flight: int = 64,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = dict(topics)
        self._dead_letters = dead_letters
        self._client_id = client_id
        self._max_attempts = max_attempts
        self._group_instance_id = group_instance_id
        self._retry_wait_seconds = retry_wait_seconds
        self._in_flight = asyncio.Semaphore(max_in_flight)

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            group_instance_id=self._group_instance_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )

    async def run(self, handler: Handler, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished before returning."""
        consumer = await start_client(self._bootstrap, self._make_consumer)
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if not batch:
                    continue
                by_key: defaultdict[bytes | None, list[ConsumerRecord[bytes, bytes]]]
                by_key = defaultdict(list)
                for records in batch.values():
                    for record in records:
                        by_key[record.key].append(record)
                await asyncio.gather(
                    *(self._handle_in_order(rs, handler) for rs in by_key.values())
                )
                await self._commit(consumer, batch)
        finally:
            await consumer.stop()

    async def _handle_in_order(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], handler: Handler
    ) -> None:
        """One key's records (one conversation), oldest first."""
        for record in records:
            async with self._in_flight:
                await self._handle_record(record, handler)

    @staticmethod
    async def _commit(
        consumer: AIOKafkaConsumer,
        batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        try:
            await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            # A partition moved to another member during a rebalance; it will redeliver
            # from the last commit, and handlers are idempotent.
            log.warning("could not commit after a rebalance: %s", exc)

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes], handler: Handler) -> None:
        started = time.perf_counter()
        headers: Headers = list(record.headers)
        try:
            event = decode(record.value, headers, self._topics[record.topic])
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_retriable),
                stop=stop_after_attempt(self._max_attempts),
                wait=wait_exponential(multiplier=self._retry_wait_seconds, max=5),
                reraise=True,
            ):
                with attempt:
                    await handler(event)
        except Exception as exc:  # every failure ends in the dead-letter topic, never silence
            await self._dead_letter(record, headers, exc)
            KAFKA_RECORDS.labels(record.topic, "dead_lettered").inc()
        else:
            KAFKA_RECORDS.labels(record.topic, "handled").inc()
        finally:
            KAFKA_HANDLE_SECONDS.labels(record.topic).observe(time.perf_counter() - started)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], headers: Headers, error: Exception
    ) -> None:
        """Copy the record, as it came, to the dead-letter topic with the error in its headers."""
        kind = "contract" if isinstance(error, ContractError) else "handler"
        description = f"{type(error).__name__}: {error}".encode()[:MAX_ERROR_HEADER_BYTES]
        log.error(
            "dead-lettering %s[%d]@%d (%s): %s",
            record.topic,
            record.partition,
            record.offset,
            kind,
            description.decode(errors="replace"),
        )
        dead_letter_headers: Headers = [
            *headers,
            ("dead-letter-topic", record.topic.encode()),
            ("dead-letter-partition", str(record.partition).encode()),
            ("dead-letter-offset", str(record.offset).encode()),
            ("dead-letter-group", self._group_id.encode()),
            ("dead-letter-kind", kind.encode()),
            ("dead-letter-error", description),
        ]
        # If this fails too, the error stops the consumer before the offset is committed.
        await self._dead_letters.publish_raw(
            DEAD_LETTER, record.key, record.value, dead_letter_headers
        )
        KAFKA_DEAD_LETTERS.labels(record.topic).inc()
