"""Consumes Rapport events at least once: handle then commit; retry, else dead-letter.

Ordering: records with the same key (one conversation) are handled one after another;
records with different keys are handled concurrently, up to ``max_in_flight`` at once,
even within one partition. Fetching goes on while records are handled, so a slow record
holds back only its own conversation, never the records fetched after it.

Busy consumers may linger: after a fetch that brought records, while at least
``linger_in_hand`` records are being handled, wait ``linger_seconds`` before the next
fetch, so what arrives meanwhile comes in one fetch instead of several. Under load that
means fewer fetch round trips and bigger batches for the handlers' own batched calls,
for at most the linger per record; a quiet consumer fetches at once, and an idle one
still long-polls.

Commits: a partition's offset is committed up to its oldest record not yet finished (a
record is finished when its handler returned or it went to the dead-letter topic), every
``commit_interval_seconds`` while there is progress, once more on stopping, and before a
rebalance hands partitions to another member (their records in hand are finished
first, so the next owner does not handle them again). A crash therefore redelivers what
was not finished, and some of what was, so handlers must be idempotent (dedupe on
``event_id``). A record that cannot be decoded, or whose handler
keeps failing, is copied to the dead-letter topic with the error in its headers, and the
consumer moves on.

A dependency down is not a poison record. When a handler fails with
:class:`DependencyUnavailableError` (a service, the database or the broker did not
answer), the record stays in hand and is tried again with jittered exponential waits
until the dependency answers, and its partition is paused meanwhile
(:mod:`shared.kafka.waiting`); the records of its conversation wait behind it, so order
is kept. Only after ``dependency_wait_ceiling_seconds`` does such a record go to the
dead-letter topic (kind ``dependency``), from where it can be replayed. Stopping, or
losing the partition in a rebalance, gives waiting records up without finishing them
(nor anything of their conversations behind them), so they are handled again later.
Other errors are tried ``max_attempts`` times and then dead-lettered.

Lag is exported per owned partition every few seconds: the partition's end offset (asked
of the broker: the high watermark of fetches goes stale while records wait in the
prefetch buffer) minus the offset this member last committed, i.e. the records not yet
handled, those in hand included, so a stuck handler shows as growing lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from google.protobuf.message import Message

from shared.errors import ContractError, DependencyUnavailableError, RapportError
from shared.kafka.codec import Headers, decode_one_of, envelope_of
from shared.kafka.connect import start_client
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER
from shared.kafka.waiting import DependencyWaits, backoff_with_jitter
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
MAX_RETRY_WAIT = 5.0
"""Seconds: the longest wait between two attempts at a record."""
DEPENDENCY_WAIT_CEILING = 900.0
"""Seconds a record may wait for a dependency before it is dead-lettered: 15 minutes is
far past a restart or a failover, and by then the paused-partition alert has called
someone for ten minutes; what waited that long is replayed once the outage is fixed."""


def is_retriable(error: BaseException) -> bool:
    """Rapport's errors say whether to retry; anything unexpected gets another chance."""
    if isinstance(error, RapportError):
        return error.retriable
    return isinstance(error, Exception)


class PartitionProgress:
    """The records of one partition handed to handlers, and how far they are all finished.

    Records finish out of order (different conversations run concurrently); the offset
    that may be committed is the one of the oldest record still unfinished.
    """

    def __init__(self) -> None:
        self._started: deque[int] = deque()
        self._finished: set[int] = set()
        self._reported: int | None = None
        self._next: int | None = None

    def started(self, offset: int) -> None:
        self._started.append(offset)
        self._next = offset + 1

    def finished(self, offset: int) -> None:
        self._finished.add(offset)

    def committable(self) -> int | None:
        """The offset to commit now (next to read), or None when it has not moved."""
        while self._started and self._started[0] in self._finished:
            self._finished.remove(self._started.popleft())
        offset = self._started[0] if self._started else self._next
        if offset is None or offset == self._reported:
            return None
        self._reported = offset
        return offset


def _current_task() -> asyncio.Task[None]:
    task = asyncio.current_task()
    assert task is not None, "records are handled in tasks"
    return task


def _resume_if_owned(consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
    """Resume fetching ``tp``, unless a rebalance took it away meanwhile."""
    with contextlib.suppress(IllegalStateError):
        consumer.resume(tp)


def _forget(
    last_of_key: dict[bytes | None, asyncio.Task[None]],
    key: bytes | None,
    task: asyncio.Task[None],
) -> None:
    """Drop a key's last task once it is done, unless a newer record of the key replaced it."""
    if last_of_key.get(key) is task:
        del last_of_key[key]


class _Failures:
    """Errors that escaped a record's handling (the dead-letter topic refused it too): they
    stop the consumer, and the record's offset is never committed."""

    def __init__(self) -> None:
        self._errors: list[BaseException] = []

    def collect(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self._errors.append(error)

    def raise_first(self) -> None:
        if self._errors:
            raise self._errors[0]


class _FinishBeforeHandingOver(ConsumerRebalanceListener):  # type: ignore[misc]
    """Lets the consumer finish and commit what it holds before partitions move away."""

    def __init__(self, owner: EventConsumer, consumer: AIOKafkaConsumer) -> None:
        self._owner = owner
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._owner.hand_over(self._consumer, set(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Nothing to prepare (a new partition starts from its last commit), but the
        member is now in its group: what is published from here on reaches it."""
        self._owner.in_group.set()


class EventConsumer:
    """A consumer group member that feeds decoded events to one handler.

    ``topics`` maps each topic to the protobuf type its records hold, or to the types
    when it carries several (told apart by their ``event-type`` header). ``run`` returns
    after ``stop`` is set and the records already fetched are handled and committed.
    """

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Mapping[str, type[Message] | tuple[type[Message], ...]],
        dead_letters: EventPublisher,
        client_id: str,
        max_attempts: int = 3,
        group_instance_id: str | None = None,
        retry_wait_seconds: float = 0.2,
        max_in_flight: int = 64,
        max_buffered: int = 1000,
        commit_interval_seconds: float = 0.2,
        lag_report_seconds: float = 5.0,
        linger_seconds: float = 0.0,
        linger_in_hand: int = 0,
        dependency_wait_ceiling_seconds: float = DEPENDENCY_WAIT_CEILING,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._topics = {
            topic: types if isinstance(types, tuple) else (types,)
            for topic, types in topics.items()
        }
        self._dead_letters = dead_letters
        self._client_id = client_id
        self._max_attempts = max_attempts
        self._group_instance_id = group_instance_id
        self._retry_wait_seconds = retry_wait_seconds
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._max_buffered = max_buffered
        self._handling: set[asyncio.Task[None]] = set()
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._in_hand: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._commit_interval_seconds = commit_interval_seconds
        self._lag_report_seconds = lag_report_seconds
        self._linger_seconds = linger_seconds
        self._linger_in_hand = linger_in_hand
        self._dependency_wait_ceiling = dependency_wait_ceiling_seconds
        self._waits: DependencyWaits | None = None
        self._stopping = False
        self._revoking: set[TopicPartition] = set()
        self._lag_partitions: set[TopicPartition] = set()
        self._committed: dict[TopicPartition, int] = {}
        # Set once the group has given this member its share of the partitions (perhaps
        # none): a service may say it is ready only then, or what is sent to it in the
        # seconds a join takes waits unread.
        self.in_group = asyncio.Event()
        for topic in self._topics:  # zeros from the start, so a first failure is a rate
            KAFKA_DEAD_LETTERS.labels(topic)
            for outcome in ("handled", "dead_lettered"):
                KAFKA_RECORDS.labels(topic, outcome)

    @property
    def topics(self) -> dict[str, tuple[type[Message], ...]]:
        """Each topic it reads, with the event types it takes from it."""
        return dict(self._topics)

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
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
        """Consume until ``stop`` is set; the records in hand are finished before returning."""
        consumer = await start_client(self._bootstrap, self._make_consumer)
        self._stopping = False
        consumer.subscribe(list(self._topics), listener=_FinishBeforeHandingOver(self, consumer))
        self._waits = DependencyWaits(
            self._group_id,
            self._topics,
            pause=consumer.pause,
            resume=functools.partial(_resume_if_owned, consumer),
            clock=time.monotonic,
        )
        reporter = asyncio.create_task(self._report_lag_until(consumer, stop))
        last_of_key: dict[bytes | None, asyncio.Task[None]] = {}
        failures = _Failures()
        committed_at = time.monotonic()
        try:
            while not stop.is_set():
                failures.raise_first()
                if len(self._handling) >= self._max_buffered:  # let handlers catch up first
                    await asyncio.wait(self._handling, return_when=asyncio.FIRST_COMPLETED)
                room = self._max_buffered - len(self._handling)
                batch = await consumer.getmany(timeout_ms=200, max_records=room)
                for tp, records in batch.items():
                    partition = self._progress.setdefault(tp, PartitionProgress())
                    in_hand = self._in_hand.setdefault(tp, set())
                    for record in records:
                        partition.started(record.offset)
                        task = asyncio.create_task(
                            self._handle_after(
                                last_of_key.get(record.key), record, handler, tp, partition
                            )
                        )
                        for tasks in (self._handling, in_hand):
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                        task.add_done_callback(failures.collect)
                        last_of_key[record.key] = task
                        task.add_done_callback(functools.partial(_forget, last_of_key, record.key))
                if batch and self._linger_seconds and len(self._handling) >= self._linger_in_hand:
                    await asyncio.sleep(self._linger_seconds)
                if time.monotonic() - committed_at >= self._commit_interval_seconds:
                    await self._commit(consumer, set(self._progress))
                    committed_at = time.monotonic()
            self._stopping = True
            self._give_up_waiting(set(self._progress))
            if self._handling:
                await asyncio.wait(self._handling)
            await self._commit(consumer, set(self._progress))
            failures.raise_first()
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            self._forget_lag(self._lag_partitions)
            await consumer.stop()

    async def hand_over(self, consumer: AIOKafkaConsumer, revoked: set[TopicPartition]) -> None:
        """Before a rebalance takes partitions away: finish their records in hand and commit
        them, so the next owner starts after them instead of handling them again. Records
        waiting for a dependency are given up instead: the next owner takes them from the
        commit."""
        self._revoking |= revoked
        try:
            self._give_up_waiting(revoked)
            in_hand = [task for tp in revoked for task in self._in_hand.get(tp, ())]
            if in_hand:
                await asyncio.wait(in_hand)
        finally:
            self._revoking -= revoked
        await self._commit(consumer, revoked)
        for tp in revoked:
            self._progress.pop(tp, None)
            self._in_hand.pop(tp, None)

    def _give_up_waiting(self, partitions: set[TopicPartition]) -> None:
        """Cancel the records of ``partitions`` waiting for a dependency; those behind them
        in their conversations give up too (see :meth:`_handle_after`)."""
        if self._waits is not None:
            for task in self._waits.tasks_of(partitions):
                task.cancel()

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

    async def _handle_after(
        self,
        previous: asyncio.Task[None] | None,
        record: ConsumerRecord[bytes, bytes],
        handler: Handler,
        tp: TopicPartition,
        partition: PartitionProgress,
    ) -> None:
        """Handle ``record`` once the record before it with the same key is finished.

        If that record was given up (cancelled while waiting for a dependency), this one
        is given up as well, unfinished: it must not overtake it.
        """
        if previous is not None:
            await asyncio.wait([previous])
            if previous.cancelled():
                raise asyncio.CancelledError
        await self._handle_record(record, handler, tp)
        partition.finished(record.offset)

    async def _commit(self, consumer: AIOKafkaConsumer, partitions: set[TopicPartition]) -> None:
        """Commit each of ``partitions`` up to its oldest unfinished record, where that moved."""
        offsets = {
            tp: offset
            for tp in partitions
            if (partition := self._progress.get(tp)) is not None
            and (offset := partition.committable()) is not None
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on without this member (it was too slow or cut off); the
            # partitions redeliver from the last commit, and handlers are idempotent.
            log.warning("could not commit: %s", exc)

    async def _handle_record(
        self, record: ConsumerRecord[bytes, bytes], handler: Handler, tp: TopicPartition
    ) -> None:
        started = time.perf_counter()
        headers: Headers = list(record.headers)
        try:
            event = decode_one_of(record.value, headers, self._topics[record.topic])
            envelope = envelope_of(event)
            # Every log line of the handling names its conversation and trace.
            with log_context(
                conversation_id=envelope.conversation_id, traceparent=envelope.traceparent
            ):
                await self._handle_with_retries(handler, event, tp, record.offset)
        except Exception as exc:  # every failure ends in the dead-letter topic, never silence
            await self._dead_letter(record, headers, exc)
            KAFKA_RECORDS.labels(record.topic, "dead_lettered").inc()
        else:
            KAFKA_RECORDS.labels(record.topic, "handled").inc()
        finally:
            KAFKA_HANDLE_SECONDS.labels(record.topic).observe(time.perf_counter() - started)

    async def _handle_with_retries(
        self, handler: Handler, event: Message, tp: TopicPartition, offset: int
    ) -> None:
        """``handler(event)``, tried again with jittered exponential waits: while a
        dependency is unavailable, up to the ceiling; after other retriable errors, up to
        ``max_attempts`` attempts in all. Waits hold no in-flight slot.

        A plain loop rather than tenacity: tenacity builds a retry state, a future and its
        locks for every attempt, reference cycles only the garbage collector frees, and
        on a busy consumer (every record passes here once) that was a twentieth of the
        process's time and the cause of its longest collector pauses.
        """
        assert self._waits is not None, "records are handled only while running"
        failed_attempts = 0
        outage_tries = 0
        waiting_since: float | None = None
        try:
            while True:
                try:
                    async with self._in_flight:
                        await handler(event)
                    if waiting_since is not None:
                        log.info(
                            "a dependency answered after %.1f s", time.monotonic() - waiting_since
                        )
                    return
                except DependencyUnavailableError as error:
                    if self._stopping or tp in self._revoking:
                        raise asyncio.CancelledError from error  # given up, see run
                    now = time.monotonic()
                    if waiting_since is None:
                        waiting_since = now
                        self._waits.started(tp, offset, _current_task())
                        log.warning("waiting for a dependency: %s", error)
                    if now - waiting_since >= self._dependency_wait_ceiling:
                        raise
                    outage_tries += 1
                    wait = backoff_with_jitter(
                        outage_tries, self._retry_wait_seconds, MAX_RETRY_WAIT
                    )
                except Exception as error:
                    failed_attempts += 1
                    if failed_attempts >= self._max_attempts or not is_retriable(error):
                        raise
                    wait = backoff_with_jitter(
                        failed_attempts, self._retry_wait_seconds, MAX_RETRY_WAIT
                    )
                await asyncio.sleep(wait)
        finally:
            if waiting_since is not None:
                self._waits.ended(tp, offset)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], headers: Headers, error: Exception
    ) -> None:
        """Copy the record, as it came, to the dead-letter topic with the error in its headers."""
        kind = (
            "contract"
            if isinstance(error, ContractError)
            else "dependency"
            if isinstance(error, DependencyUnavailableError)
            else "handler"
        )
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
        # If this fails too, the error stops the consumer; the offset is never committed.
        await self._dead_letters.publish_raw(
            DEAD_LETTER, record.key, record.value, dead_letter_headers
        )
        KAFKA_DEAD_LETTERS.labels(record.topic).inc()
