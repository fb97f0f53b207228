"""Small Kafka helpers for tests: private topics and reading a topic back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.conftest import unique

T = TypeVar("T")


async def create_private_topic(bootstrap: str, partitions: int = 3) -> str:
    """A topic no other test uses."""
    name = unique("test-topic")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def read_until(
    bootstrap: str,
    topic: str,
    wanted: Callable[[ConsumerRecord[bytes, bytes]], bool],
    count: int = 1,
    timeout: float = 20.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """The first ``count`` records of ``topic`` (from its start) that ``wanted`` accepts."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=unique("reader"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            found.extend(r for records in batch.values() for r in records if wanted(r))
    finally:
        await consumer.stop()
    if len(found) < count:
        raise AssertionError(f"found {len(found)} of {count} records on {topic} in {timeout}s")
    return found[:count]


async def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait until ``predicate()`` holds, polling; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def eventually_async(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 20.0
) -> T:
    """Call ``probe`` until ``accept`` likes its answer; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = await probe()
        if accept(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time; last answer: {answer}")
        await asyncio.sleep(0.05)


async def read_all(
    bootstrap: str, topic: str, wanted: Callable[[ConsumerRecord[bytes, bytes]], bool]
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record ``topic`` holds now (up to its end offsets when called) that ``wanted``
    accepts: for showing that nothing was published."""
    # Without a group, the consumer takes every partition of the topic it subscribes to.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        await eventually(lambda: bool(consumer.assignment()))
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            batch = await consumer.getmany(timeout_ms=200)
            found.extend(
                r
                for partition, records in batch.items()
                for r in records
                if r.offset < ends[partition] and wanted(r)
            )
    finally:
        await consumer.stop()
    return found
