"""Topics bounded in time on a real broker: created with their retention, brought to it when
they exist from before, left alone when they have it; and a record is gone once the
retention, the segment and the broker's check have passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.kafka.embedded import EmbeddedKafka, create_topics
from shared.kafka.snapshot import read_to_end
from shared.kafka.topics import TopicSpec
from tests.conftest import unique

pytestmark = pytest.mark.integration

KEYS = ("cleanup.policy", "retention.ms", "segment.ms")


async def settings_of(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [answer] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(KEYS))]
        )
    finally:
        await admin.close()
    [(_code, _message, _kind, _name, entries)] = answer.resources
    return {entry[0]: entry[1] for entry in entries}


async def test_topics_get_their_retention_when_created_and_when_they_existed_before(
    kafka_bootstrap: str,
) -> None:
    fresh, old = unique("bounded"), unique("unbounded")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:  # as a deployment made before topics were bounded left it
        await admin.create_topics([NewTopic(old, 1, 1, topic_configs={"cleanup.policy": "delete"})])
    finally:
        await admin.close()
    specs = [
        TopicSpec(fresh, 2, config=(("retention.ms", "3600000"), ("segment.ms", "60000"))),
        TopicSpec(
            old,
            1,
            config=(
                ("cleanup.policy", "compact,delete"),
                ("retention.ms", "7200000"),
                ("segment.ms", "60000"),
            ),
        ),
    ]

    await create_topics(kafka_bootstrap, specs)

    assert await settings_of(kafka_bootstrap, fresh) == {
        "cleanup.policy": "delete",
        "retention.ms": "3600000",
        "segment.ms": "60000",
    }
    assert await settings_of(kafka_bootstrap, old) == dict(specs[1].config)

    await create_topics(kafka_bootstrap, specs)  # again: nothing to change, nothing fails
    assert await settings_of(kafka_bootstrap, old) == dict(specs[1].config)


@pytest.fixture(scope="module")
def quick_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    """A broker that looks for expired segments every second, from its start."""
    settings = {"log.retention.check.interval.ms": 1000, "log.initial.task.delay.ms": 0}
    with EmbeddedKafka(Path(tmp_path_factory.mktemp("kafka-quick")), settings=settings) as kafka:
        kafka.wait_ready(120)
        yield kafka


async def test_a_record_is_gone_once_its_segment_rolled_and_aged_out(
    quick_broker: EmbeddedKafka,
) -> None:
    bootstrap = quick_broker.bootstrap
    retention, segment, check = timedelta(seconds=3), timedelta(seconds=1), timedelta(seconds=1)
    topic = unique("short-lived")
    spec = TopicSpec(
        topic,
        2,
        config=(
            ("retention.ms", str(int(retention.total_seconds() * 1000))),
            ("segment.ms", str(int(segment.total_seconds() * 1000))),
        ),
    )
    await create_topics(bootstrap, [spec])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"what the customer wrote", key=b"conversation")
    finally:
        await producer.stop()
    sent = time.monotonic()
    assert [r.value async for r in read_to_end(bootstrap, topic, "test")] == [
        b"what the customer wrote"
    ]

    while [r async for r in read_to_end(bootstrap, topic, "test")]:
        # The documented worst case, and a few seconds for reading.
        assert time.monotonic() - sent < (retention + segment + check).total_seconds() + 5
        await asyncio.sleep(0.5)
