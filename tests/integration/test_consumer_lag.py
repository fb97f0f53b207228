"""The consumer's lag gauge against a real broker: it grows while a handler is stuck, falls
back to zero once the records are handled, and disappears when the consumer stops."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.kafka.codec import new_envelope
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from tests.conftest import unique
from tests.kafka_helpers import create_private_topic, eventually

pytestmark = pytest.mark.integration

WAITING = 10


def lag(group: str, topic: str) -> float | None:
    labels = {"group": group, "topic": topic, "partition": "0"}
    return REGISTRY.get_sample_value("rapport_kafka_consumer_lag", labels)


async def test_lag_counts_records_not_yet_handled(kafka_bootstrap: str) -> None:
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    group = unique("lag")
    handled: list[str] = []
    release = asyncio.Event()

    async def handler(event: messages_pb2.MessageReceived) -> None:  # type: ignore[override]
        if event.text == "block":
            await release.wait()
        handled.append(event.text)

    async with EventPublisher(kafka_bootstrap, client_id="tests") as publisher:

        async def send(text: str) -> None:
            event = messages_pb2.MessageReceived(
                envelope=new_envelope(conversation_id="c", channel=envelope_pb2.CHANNEL_WEB),
                text=text,
            )
            await publisher.publish(topic, event)

        consumer = EventConsumer(
            bootstrap=kafka_bootstrap,
            group_id=group,
            topics={topic: messages_pb2.MessageReceived},
            dead_letters=publisher,
            client_id="tests",
            lag_report_seconds=0.1,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(handler, stop))  # type: ignore[arg-type]
        try:
            await send("first")
            await eventually(lambda: handled == ["first"])
            await eventually(lambda: lag(group, topic) == 0)
            await send("block")
            for _ in range(WAITING):
                await send("after")
            # The blocked record and the ones behind it: none handled, none committed.
            await eventually(lambda: (lag(group, topic) or 0) >= WAITING)
            assert handled == ["first"]
            release.set()
            await eventually(lambda: len(handled) == WAITING + 2)
            await eventually(lambda: lag(group, topic) == 0)
        finally:
            release.set()
            stop.set()
            await running
    assert lag(group, topic) is None  # a stopped member reports no partition
