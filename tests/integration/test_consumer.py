"""The consumer wrapper against a real broker: dead letters, retries, commits, graceful stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import Message
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.channels.outbound import OUTBOUND_EVENTS, OutboundDelivery
from shared.errors import DependencyUnavailableError, InvalidInputError
from shared.kafka.codec import EVENT_TYPE_HEADER, caused_by, new_envelope
from shared.kafka.consumer import EventConsumer, Handler
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER
from tests.conftest import unique
from tests.fakes.channel import FakeChannelAdapter
from tests.kafka_helpers import create_private_topic, eventually, read_until

pytestmark = pytest.mark.integration

PARTITIONS = 3
PAUSED = "rapport_kafka_paused_partitions"
OLDEST_WAIT = "rapport_kafka_dependency_wait_oldest_seconds"


def _message(conversation: str, text: str) -> messages_pb2.MessageReceived:
    return messages_pb2.MessageReceived(
        envelope=new_envelope(conversation_id=conversation, channel=envelope_pb2.CHANNEL_WEB),
        text=text,
    )


@pytest.fixture
async def publisher(kafka_bootstrap: str) -> AsyncIterator[EventPublisher]:
    async with EventPublisher(kafka_bootstrap, client_id="tests") as publisher:
        yield publisher


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    return await create_private_topic(kafka_bootstrap, PARTITIONS)


def _consumer(
    kafka_bootstrap: str,
    topic: str,
    publisher: EventPublisher,
    group: str,
    linger_seconds: float = 0.0,
    dependency_wait_ceiling_seconds: float = 900.0,
) -> EventConsumer:
    return EventConsumer(
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics={topic: messages_pb2.MessageReceived},
        dead_letters=publisher,
        client_id="tests",
        retry_wait_seconds=0.01,
        linger_seconds=linger_seconds,
        dependency_wait_ceiling_seconds=dependency_wait_ceiling_seconds,
    )


@asynccontextmanager
async def _consuming(
    consumer: EventConsumer, handler: Handler, release: asyncio.Event
) -> AsyncIterator[None]:
    """Run ``consumer`` beside the test; on the way out free blocked handlers and stop it."""
    stop = asyncio.Event()
    run = asyncio.create_task(consumer.run(handler, stop))
    try:
        yield
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(run, 10)


async def _committed(
    kafka_bootstrap: str, topic: str, group: str, partitions: int = PARTITIONS
) -> int:
    """Total committed offset of ``group`` over every partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
    await consumer.start()
    try:
        offsets = [await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        await consumer.stop()
    return sum(o or 0 for o in offsets)


async def test_an_undecodable_record_is_dead_lettered_and_the_consumer_keeps_going(
    kafka_bootstrap: str, topic: str, publisher: EventPublisher
) -> None:
    await publisher.publish_raw(
        topic,
        b"conv-1",
        b"\xff\x00 garbage",
        [(EVENT_TYPE_HEADER, b"rapport.events.v1.MessageReceived")],
    )
    good = _message("conv-1", "after the garbage")
    await publisher.publish(topic, good)

    handled: list[Message] = []

    async def handler(event: Message) -> None:
        handled.append(event)

    stop, group = asyncio.Event(), unique("group")
    run = asyncio.create_task(
        _consumer(kafka_bootstrap, topic, publisher, group).run(handler, stop)
    )
    await eventually(lambda: len(handled) == 1)
    stop.set()
    await run

    assert handled == [good]
    [dead] = await read_until(
        kafka_bootstrap,
        DEAD_LETTER,
        lambda r: dict(r.headers).get("dead-letter-topic") == topic.encode(),
    )
    headers = dict(dead.headers)
    assert dead.value == b"\xff\x00 garbage"
    assert headers["dead-letter-kind"] == b"contract"
    assert b"ContractError" in headers["dead-letter-error"]
    assert await _committed(kafka_bootstrap, topic, group) == 2


def _consumed(topic: str, outcome: str) -> float | None:
    return REGISTRY.get_sample_value(
        "rapport_kafka_records_consumed_total", {"topic": topic, "outcome": outcome}
    )


async def test_an_outbound_topic_carries_replies_and_the_signal_that_one_is_coming(
    kafka_bootstrap: str, topic: str, publisher: EventPublisher
) -> None:
    """Its consumers take both, told apart by their event type: a channel that shows no
    typing indicator lets the signal go and sends the reply; a record of a type the topic
    does not carry is still a dead letter."""
    customer = envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_TELEGRAM, address="u-1")
    inbound = new_envelope(conversation_id="conv-1", channel=envelope_pb2.CHANNEL_TELEGRAM)
    signal = messages_pb2.PreparingReply(
        envelope=caused_by(inbound, "preparing", customer),
        in_reply_to=inbound.event_id,
        sender_name="Robin",
    )
    reply = messages_pb2.SendMessage(
        envelope=caused_by(inbound, "reply", customer),
        text="It is on its way",
        in_reply_to=inbound.event_id,
    )
    for event in (signal, reply, _message("conv-1", "no outbound event")):
        await publisher.publish(topic, event)

    adapter, stop, group = FakeChannelAdapter(), asyncio.Event(), unique("group")
    consumer = EventConsumer(
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics={topic: OUTBOUND_EVENTS},
        dead_letters=publisher,
        client_id="tests",
    )
    assert not consumer.in_group.is_set()
    run = asyncio.create_task(consumer.run(OutboundDelivery(adapter, publisher), stop))
    await asyncio.wait_for(consumer.in_group.wait(), 30)  # what readiness waits for
    await eventually(lambda: _consumed(topic, "dead_lettered") == 1)
    stop.set()
    await run

    assert [sent.text for sent in adapter.sent] == ["It is on its way"]
    assert _consumed(topic, "handled") == 2
    # One conversation, one partition, handled in order: the first dead letter of the
    # topic is the record that is not an outbound event, not the signal before it.
    [dead] = await read_until(
        kafka_bootstrap,
        DEAD_LETTER,
        lambda r: dict(r.headers).get("dead-letter-topic") == topic.encode(),
    )
    assert dict(dead.headers)[EVENT_TYPE_HEADER] == b"rapport.events.v1.MessageReceived"
    assert await _committed(kafka_bootstrap, topic, group) == 3


async def test_retriable_failures_are_retried_and_refusals_are_dead_lettered(
    kafka_bootstrap: str, topic: str, publisher: EventPublisher
) -> None:
    flaky, refused = _message("conv-a", "flaky"), _message("conv-b", "refused")
    await publisher.publish(topic, flaky)
    await publisher.publish(topic, refused)
    attempts: dict[str, int] = {"flaky": 0, "refused": 0}
    done: list[str] = []

    async def handler(event: Message) -> None:
        assert isinstance(event, messages_pb2.MessageReceived)
        attempts[event.text] += 1
        if event.text == "refused":
            raise InvalidInputError("not for us")
        if attempts["flaky"] < 3:
            raise DependencyUnavailableError("try later")
        done.append(event.text)

    stop = asyncio.Event()
    run = asyncio.create_task(
        _consumer(kafka_bootstrap, topic, publisher, unique("group")).run(handler, stop)
    )
    [dead] = await read_until(
        kafka_bootstrap,
        DEAD_LETTER,
        lambda r: dict(r.headers).get("dead-letter-topic") == topic.encode(),
    )
    await eventually(lambda: done == ["flaky"])
    stop.set()
    await run

    assert attempts == {"flaky": 3, "refused": 1}
    assert dict(dead.headers)["dead-letter-kind"] == b"handler"
    assert dict(dead.headers)["event-id"] == refused.envelope.event_id.encode()


async def test_stopping_finishes_the_record_in_hand_and_commits_it(
    kafka_bootstrap: str, topic: str, publisher: EventPublisher
) -> None:
    await publisher.publish(topic, _message("conv-1", "slow"))
    entered, release, finished = asyncio.Event(), asyncio.Event(), []

    async def slow_handler(event: Message) -> None:
        entered.set()
        await release.wait()
        finished.append(event)

    stop, group = asyncio.Event(), unique("group")
    run = asyncio.create_task(
        _consumer(kafka_bootstrap, topic, publisher, group).run(slow_handler, stop)
    )
    await asyncio.wait_for(entered.wait(), 20)
    stop.set()
    await asyncio.sleep(0.3)
    assert not run.done(), "the consumer must not stop while a record is in hand"
    release.set()
    await asyncio.wait_for(run, 10)

    assert len(finished) == 1
    assert await _committed(kafka_bootstrap, topic, group) == 1


async def test_one_conversation_stays_in_order_while_others_go_ahead(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    """Same key: one after another; another key in the same partition does not wait."""
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    for i in range(3):
        await publisher.publish(topic, _message("conv-slow", f"slow {i}"))
    await publisher.publish(topic, _message("conv-quick", "quick"))
    release, handled = asyncio.Event(), []

    async def handler(event: Message) -> None:
        assert isinstance(event, messages_pb2.MessageReceived)
        if event.text.startswith("slow"):
            await release.wait()
        handled.append(event.text)

    consumer = _consumer(kafka_bootstrap, topic, publisher, unique("group"))
    async with _consuming(consumer, handler, release):
        await eventually(lambda: handled == ["quick"], timeout=20)
        release.set()
        await eventually(lambda: len(handled) == 4, timeout=10)
    assert handled == ["quick", "slow 0", "slow 1", "slow 2"]


async def test_a_lingering_consumer_handles_what_arrived_meanwhile_each_conversation_in_order(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    handled: list[str] = []

    async def handler(event: Message) -> None:
        assert isinstance(event, messages_pb2.MessageReceived)
        handled.append(event.text)

    consumer = _consumer(kafka_bootstrap, topic, publisher, unique("group"), linger_seconds=0.3)
    async with _consuming(consumer, handler, asyncio.Event()):
        await publisher.publish(topic, _message("conv-a", "a 0"))
        await eventually(lambda: handled == ["a 0"], timeout=20)  # idle: no linger first
        for i in range(1, 4):  # while it lingers after that fetch
            await publisher.publish(topic, _message("conv-a", f"a {i}"))
            await publisher.publish(topic, _message("conv-b", f"b {i}"))
        await eventually(lambda: len(handled) == 7, timeout=10)
    assert [text for text in handled if text.startswith("a")] == ["a 0", "a 1", "a 2", "a 3"]
    assert [text for text in handled if text.startswith("b")] == ["b 1", "b 2", "b 3"]


async def test_a_slow_record_holds_back_neither_later_records_nor_more_than_its_commit(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    """Records fetched after a slow one go ahead; the commit waits for the slow one."""
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    group = unique("group")
    entered, release, handled = asyncio.Event(), asyncio.Event(), []

    async def handler(event: Message) -> None:
        assert isinstance(event, messages_pb2.MessageReceived)
        if event.text == "slow":
            entered.set()
            await release.wait()
        handled.append(event.text)

    async with _consuming(_consumer(kafka_bootstrap, topic, publisher, group), handler, release):
        await publisher.publish(topic, _message("conv-slow", "slow"))
        await asyncio.wait_for(entered.wait(), 20)
        for i in range(3):  # fetched while the slow record is in hand
            await publisher.publish(topic, _message(f"conv-{i}", f"later {i}"))
        await eventually(lambda: len(handled) == 3, timeout=10)
        await asyncio.sleep(0.5)  # several commit intervals
        assert await _committed(kafka_bootstrap, topic, group, partitions=1) == 0
        release.set()
        await eventually(lambda: len(handled) == 4, timeout=10)
    assert handled == ["later 0", "later 1", "later 2", "slow"]
    assert await _committed(kafka_bootstrap, topic, group, partitions=1) == 4


async def test_a_rebalance_finishes_and_commits_the_records_in_hand_before_handing_over(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    """A second member joins while the first holds records: none is handled twice."""
    topic = await create_private_topic(kafka_bootstrap, partitions=4)
    group = unique("group")
    release = asyncio.Event()
    entered: list[str] = []
    handled: list[tuple[str, str]] = []

    def member(name: str) -> Handler:
        async def handler(event: Message) -> None:
            assert isinstance(event, messages_pb2.MessageReceived)
            entered.append(name)
            await release.wait()
            handled.append((name, event.envelope.event_id))

        return handler

    first_stop, second_stop = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(
        _consumer(kafka_bootstrap, topic, publisher, group).run(member("first"), first_stop)
    )
    second: asyncio.Task[None] | None = None
    try:
        held = [_message(f"conv-{i}", "held") for i in range(12)]
        for event in held:
            await publisher.publish(topic, event)
        await eventually(lambda: len(entered) == len(held), timeout=20)
        second = asyncio.create_task(
            _consumer(kafka_bootstrap, topic, publisher, group).run(member("second"), second_stop)
        )
        await asyncio.sleep(2)  # the join is under way; the first member is holding records
        release.set()
        after = [_message(f"conv-{i}", "after") for i in range(12)]
        for event in after:
            await publisher.publish(topic, event)
        await eventually(lambda: len(handled) >= len(held) + len(after), timeout=30)
        await asyncio.sleep(1)  # room for a duplicate to show up
    finally:
        release.set()
        first_stop.set()
        second_stop.set()
        await asyncio.wait_for(first, 20)
        if second is not None:
            await asyncio.wait_for(second, 20)
    ids = [event_id for _, event_id in handled]
    assert sorted(ids) == sorted(e.envelope.event_id for e in [*held, *after])
    assert {name for name, _ in handled} == {"first", "second"}  # the partitions were shared


class _Dependency:
    """A service the handler needs, which the test takes down and brings back."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.refused = 0

        self.handled: list[str] = []

    async def handle(self, event: Message) -> None:
        """A handler that needs this dependency, and notes the texts it handled."""
        assert isinstance(event, messages_pb2.MessageReceived)
        if not self.up.is_set():
            self.refused += 1
            raise DependencyUnavailableError("UNAVAILABLE: the service is restarting")
        self.handled.append(event.text)


def _gauge(name: str, group: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"group": group, "topic": topic})


async def test_a_record_waits_for_its_dependency_with_its_partition_paused_and_order_kept(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    """Far more failed tries than max_attempts, and still nothing is dead-lettered."""
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    group = unique("group")
    context = _Dependency()
    handled, handler = context.handled, context.handle

    async with _consuming(_consumer(kafka_bootstrap, topic, publisher, group), handler, context.up):
        await publisher.publish(topic, _message("conv-a", "a 1"))
        await publisher.publish(topic, _message("conv-a", "a 2"))
        await eventually(lambda: context.refused >= 10, timeout=20)
        assert _gauge(PAUSED, group, topic) == 1
        await publisher.publish(topic, _message("conv-b", "b 1"))  # not fetched while paused
        await asyncio.sleep(1)
        assert (_gauge(OLDEST_WAIT, group, topic) or 0) >= 1
        assert handled == []
        assert await _committed(kafka_bootstrap, topic, group, partitions=1) == 0

        context.up.set()
        await eventually(lambda: len(handled) == 3, timeout=20)
        await eventually(lambda: _gauge(PAUSED, group, topic) == 0, timeout=5)
        assert _gauge(OLDEST_WAIT, group, topic) == 0
    assert handled == ["a 1", "a 2", "b 1"]
    assert await _committed(kafka_bootstrap, topic, group, partitions=1) == 3
    dead_lettered = {"topic": topic, "outcome": "dead_lettered"}
    assert REGISTRY.get_sample_value("rapport_kafka_records_consumed_total", dead_lettered) == 0


async def test_a_record_still_waiting_at_the_ceiling_is_dead_lettered_as_dependency(
    kafka_bootstrap: str, topic: str, publisher: EventPublisher
) -> None:
    waiting = _message("conv-a", "never answered")
    await publisher.publish(topic, waiting)

    async def handler(event: Message) -> None:
        raise DependencyUnavailableError("UNAVAILABLE: the service is gone")

    consumer = _consumer(
        kafka_bootstrap, topic, publisher, unique("group"), dependency_wait_ceiling_seconds=0.5
    )
    async with _consuming(consumer, handler, asyncio.Event()):
        [dead] = await read_until(
            kafka_bootstrap,
            DEAD_LETTER,
            lambda r: dict(r.headers).get("dead-letter-topic") == topic.encode(),
        )
    assert dict(dead.headers)["dead-letter-kind"] == b"dependency"
    assert dict(dead.headers)["event-id"] == waiting.envelope.event_id.encode()


async def test_stopping_gives_up_a_waiting_record_and_what_follows_it_uncommitted(
    kafka_bootstrap: str, publisher: EventPublisher
) -> None:
    """A stop is not held up by an outage; the next run handles the records, in order."""
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    group = unique("group")
    context = _Dependency()
    handled, handler = context.handled, context.handle

    await publisher.publish(topic, _message("conv-a", "a 1"))
    await publisher.publish(topic, _message("conv-a", "a 2"))
    stop = asyncio.Event()
    run = asyncio.create_task(
        _consumer(kafka_bootstrap, topic, publisher, group).run(handler, stop)
    )
    await eventually(lambda: context.refused >= 3, timeout=20)
    stop.set()
    await asyncio.wait_for(run, 5)
    assert handled == []
    assert await _committed(kafka_bootstrap, topic, group, partitions=1) == 0

    context.up.set()
    async with _consuming(_consumer(kafka_bootstrap, topic, publisher, group), handler, context.up):
        await eventually(lambda: len(handled) == 2, timeout=20)
    assert handled == ["a 1", "a 2"]
