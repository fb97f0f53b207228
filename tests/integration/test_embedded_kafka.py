"""The embedded broker behaves like the Kafka Rapport runs on: topics, keyed records, groups."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka.embedded import EmbeddedKafka, KafkaStartError, create_topics
from shared.kafka.topics import ALL_TOPICS, INBOUND

pytestmark = pytest.mark.integration


async def partition_counts(bootstrap: str) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([spec.name for spec in ALL_TOPICS])
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def test_every_topic_exists_with_its_partition_count(kafka_bootstrap: str) -> None:
    assert await partition_counts(kafka_bootstrap) == {
        spec.name: spec.partitions for spec in ALL_TOPICS
    }


async def test_create_topics_twice_is_harmless(kafka_bootstrap: str) -> None:
    await create_topics(kafka_bootstrap)
    await create_topics(kafka_bootstrap)

    assert await partition_counts(kafka_bootstrap) == {
        spec.name: spec.partitions for spec in ALL_TOPICS
    }


async def test_keyed_record_is_consumed_by_a_group_that_commits_by_hand(
    kafka_bootstrap: str,
) -> None:
    key = f"conversation-{uuid.uuid4()}".encode()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        first = await producer.send_and_wait(INBOUND, b"hello", key=key)
        second = await producer.send_and_wait(INBOUND, b"are you there?", key=key)
    finally:
        await producer.stop()
    assert second.partition == first.partition, "one conversation must stay in one partition"

    consumer = AIOKafkaConsumer(
        INBOUND,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"test-{uuid.uuid4()}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(60):
            while len(received) < 2:
                batches = await consumer.getmany(timeout_ms=500)
                received += [r for records in batches.values() for r in records if r.key == key]
        assert [record.value for record in received] == [b"hello", b"are you there?"]

        partition = TopicPartition(INBOUND, first.partition)
        assert await consumer.committed(partition) is None
        await consumer.commit({partition: received[-1].offset + 1})
        assert await consumer.committed(partition) == second.offset + 1
    finally:
        await consumer.stop()


def test_a_broker_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        broker = EmbeddedKafka(tmp_path, port=taken.getsockname()[1])
        with broker, pytest.raises(KafkaStartError, match="exited with code") as failure:
            broker.wait_ready(60)

    assert str(broker.log_path) in str(failure.value)
    assert "Address already in use" in str(failure.value)
    broker.stop()  # a second stop is a no-op
