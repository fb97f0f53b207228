"""Consumes Rapport events at least once: handle then commit; retry, else dead-letter.

Ordering: records with the same key (one conversation) are handled one after another;
records with different keys are handled concurrently, up to ``max_in_flight`` at once,
even within one partition. Offsets are committed once per fetched batch, after every
handler of the batch returned, so a crash redelivers what was not finished and
handlers must be idempotent (dedupe on ``event_id``). A record that cannot be decoded, or whose
handler keeps failing, is copied to the dead-letter topic with the error in its
headers, and the consumer moves on.

Lag is exported per owned partition every few seconds: the partition's end offset (asked
of the broker: the high watermark of fetches goes stale while records wait in the
prefetch buffer) minus the offset this member last committed, i.e. the records not yet
handled, the batch in hand included, so a stuck handler shows as growing lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from google.protobuf.message import Message
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.errors import ContractError, RapportError
from shared.kafka.codec import Headers, decode, envelope_of
from shared.kafka.connect import start_client
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER
from shared.observability.logging import log_context
from shared.observability.metrics import (
    KAFKA_CONSUMER_LAG,
    KAFKA_DEAD_LETTERS,
    KAFKA_HANDLE_SECONDS,
    KAFKA_RECORDS,
)

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
        lag_report_seconds: float = 5.0,
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
        self._lag_report_seconds = lag_report_seconds
        self._lag_partitions: set[TopicPartition] = set()
        self._committed: dict[TopicPartition, int] = {}
        for topic in self._topics:  # zeros from the start, so a first failure is a rate
            KAFKA_DEAD_LETTERS.labels(topic)
            for outcome in ("handled", "dead_lettered"):
                KAFKA_RECORDS.labels(topic, outcome)

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
        reporter = asyncio.create_task(self._report_lag_until(consumer, stop))
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
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            self._forget_lag(self._lag_partitions)
            await consumer.stop()

    async def _report_lag_until(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Beside the handling loop, so lag keeps being reported while a handler is slow."""
        while not stop.is_set():
            try:
                await self._report_lag(consumer)
            except Exception:  # a metric must never stop consumption
                log.exception("could not report consumer lag")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._lag_report_seconds)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Set the lag gauge of each owned partition; drop those of partitions given away."""
        owned: set[TopicPartition] = set(consumer.assignment())
        self._forget_lag(self._lag_partitions - owned)
        self._lag_partitions = owned
        if not owned:
            return
        try:
            ends: dict[TopicPartition, int] = await consumer.end_offsets(list(owned))
        except KafkaError as exc:  # the next round tries again
            log.debug("no end offsets for the lag gauge: %s", exc)
            return
        for tp, end in ends.items():
            done = self._committed.get(tp)
            if done is None:
                done = await self._start_offset(consumer, tp)
            if done is not None and tp in self._lag_partitions:  # not given away while we asked
                KAFKA_CONSUMER_LAG.labels(self._group_id, tp.topic, str(tp.partition)).set(
                    max(end - done, 0)
                )

    async def _start_offset(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
        """Where this member starts on a newly owned partition: the group's commit, or where
        the offset reset put it if the group never committed there; None if unknown yet."""
        try:
            committed: int | None = await consumer.committed(tp)
            if committed is None:
                position: int = await consumer.position(tp)
                return position
        except (KafkaError, IllegalStateError):
            return None
        self._committed[tp] = committed
        return committed

    def _forget_lag(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:  # removing a series never reported is a no-op
            KAFKA_CONSUMER_LAG.remove(self._group_id, tp.topic, str(tp.partition))
            self._committed.pop(tp, None)  # another member may commit it meanwhile

    async def _handle_in_order(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], handler: Handler
    ) -> None:
        """One key's records (one conversation), oldest first."""
        for record in records:
            async with self._in_flight:
                await self._handle_record(record, handler)

    async def _commit(
        self,
        consumer: AIOKafkaConsumer,
        batch: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # A partition moved to another member during a rebalance; it will redeliver
            # from the last commit, and handlers are idempotent.
            log.warning("could not commit after a rebalance: %s", exc)

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes], handler: Handler) -> None:
        started = time.perf_counter()
        headers: Headers = list(record.headers)
        try:
            event = decode(record.value, headers, self._topics[record.topic])
            envelope = envelope_of(event)
            # Every log line of the handling names its conversation and trace.
            with log_context(
                conversation_id=envelope.conversation_id, traceparent=envelope.traceparent
            ):
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
