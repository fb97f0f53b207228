"""``python -m infra.deadletters`` on a real broker, on dead letters the real consumer wrote."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from infra.ports import free_port
from shared.errors import InvalidInputError
from shared.kafka.codec import EVENT_TYPE_HEADER, encode, new_envelope
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER
from tests.conftest import unique
from tests.e2e.stack import REPO_ROOT
from tests.kafka_helpers import create_private_topic, read_until

pytestmark = pytest.mark.integration

GARBAGE = b"\xff\x00 not a protobuf"
PARTITIONS = 3


@dataclass
class DeadLetters:
    """Three dead letters of one private topic: an undecodable record and two refused ones."""

    bootstrap: str
    topic: str
    group: str
    refused: list[messages_pb2.MessageReceived]
    offsets: dict[str, int]
    """Dead-letter offset by event id ("garbage" for the undecodable record)."""
    origins: dict[str, tuple[int, int]]
    """(partition, offset) in ``topic`` by the same names."""


async def _dead_letter_three(bootstrap: str) -> DeadLetters:
    topic, group = await create_private_topic(bootstrap, PARTITIONS), unique("group")
    refused = [
        messages_pb2.MessageReceived(
            envelope=new_envelope(conversation_id=f"conv-{n}", channel=envelope_pb2.CHANNEL_WEB),
            text=f"refuse {n}",
        )
        for n in ("one", "two")
    ]
    origins: dict[str, tuple[int, int]] = {}
    async with EventPublisher(bootstrap, client_id="tests") as publisher:
        await publisher.publish_raw(
            topic,
            b"conv-garbage",
            GARBAGE,
            [(EVENT_TYPE_HEADER, messages_pb2.MessageReceived.DESCRIPTOR.full_name.encode())],
        )
        for event in refused:
            await publisher.publish(topic, event)

        async def refuse(event: Message) -> None:
            raise InvalidInputError("refused for the test")

        consumer = EventConsumer(
            bootstrap=bootstrap,
            group_id=group,
            topics={topic: messages_pb2.MessageReceived},
            dead_letters=publisher,
            client_id="tests",
        )
        stop = asyncio.Event()
        run = asyncio.create_task(consumer.run(refuse, stop))
        letters = await read_until(
            bootstrap,
            DEAD_LETTER,
            lambda r: dict(r.headers).get("dead-letter-topic") == topic.encode(),
            count=3,
        )
        stop.set()
        await run
    offsets: dict[str, int] = {}
    for letter in letters:
        headers = dict(letter.headers)
        name = headers["event-id"].decode() if "event-id" in headers else "garbage"
        offsets[name] = letter.offset
        origins[name] = (
            int(headers["dead-letter-partition"]),
            int(headers["dead-letter-offset"]),
        )
    return DeadLetters(bootstrap, topic, group, refused, offsets, origins)


@pytest.fixture(scope="module")
def dead_letters(kafka_bootstrap: str) -> Iterator[DeadLetters]:
    yield asyncio.run(_dead_letter_three(kafka_bootstrap))


def tool(*args: str, bootstrap: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.deadletters", *args, "--bootstrap", bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def listed(dead_letters: DeadLetters, *args: str) -> list[list[str]]:
    """The rows ``list`` prints, split on runs of two or more spaces."""
    result = tool("list", *args, bootstrap=dead_letters.bootstrap)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:2] == ["OFFSET", "WHEN"]
    return [[cell.strip() for cell in row.split("  ") if cell.strip()] for row in rows]


def test_list_shows_where_each_dead_letter_came_from_and_why(dead_letters: DeadLetters) -> None:
    rows = listed(dead_letters, "--topic", dead_letters.topic)

    by_offset = {int(row[0]): row for row in rows}
    assert set(by_offset) == set(dead_letters.offsets.values())
    for name, offset in dead_letters.offsets.items():
        _, when, origin, group, kind, event_type, event_id, error = by_offset[offset]
        partition, original_offset = dead_letters.origins[name]
        assert origin == f"{dead_letters.topic}[{partition}]@{original_offset}"
        assert group == dead_letters.group
        assert event_type == "rapport.events.v1.MessageReceived"
        assert when.endswith("Z")
        if name == "garbage":
            assert (kind, event_id) == ("contract", "-")
            assert error.startswith("ContractError")
        else:
            assert (kind, event_id) == ("handler", name)
            assert error == "InvalidInputError: refused for the test"


def test_list_filters_by_event_id_and_by_offsets(dead_letters: DeadLetters) -> None:
    first, second = (event.envelope.event_id for event in dead_letters.refused)
    offsets = dead_letters.offsets

    [row] = listed(dead_letters, "--event-id", second)
    assert int(row[0]) == offsets[second]

    low, high = sorted((offsets[first], offsets[second]))
    ranged = listed(dead_letters, "--topic", dead_letters.topic, "--offsets", f"{low}-{high}")
    assert sorted(int(row[0]) for row in ranged) == sorted(
        offset for offset in offsets.values() if low <= offset <= high
    )
    onwards = listed(dead_letters, "--topic", dead_letters.topic, "--offsets", f"{high}-")
    assert [int(row[0]) for row in onwards] == [o for o in sorted(offsets.values()) if o >= high]

    nothing = tool("list", "--event-id", unique("no-such-event"), bootstrap=dead_letters.bootstrap)
    assert (nothing.returncode, nothing.stdout.strip()) == (0, "no dead letters match")


def test_show_prints_every_header_and_the_event_as_json(dead_letters: DeadLetters) -> None:
    event = dead_letters.refused[0]
    event_id = event.envelope.event_id

    result = tool("show", str(dead_letters.offsets[event_id]), bootstrap=dead_letters.bootstrap)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    partition, offset = dead_letters.origins[event_id]
    for header in (
        f"event-type: {event.DESCRIPTOR.full_name}",
        f"event-id: {event_id}",
        f"traceparent: {event.envelope.traceparent}",
        f"dead-letter-topic: {dead_letters.topic}",
        f"dead-letter-partition: {partition}",
        f"dead-letter-offset: {offset}",
        f"dead-letter-group: {dead_letters.group}",
        "dead-letter-kind: handler",
        "dead-letter-error: InvalidInputError: refused for the test",
    ):
        assert f"  {header}" in lines
    assert f"  key       {event.envelope.conversation_id}" in lines
    start = lines.index(next(line for line in lines if line.startswith("value (")))
    assert lines[start].endswith(f"as {event.DESCRIPTOR.full_name}:")
    decoded = json.loads("\n".join(lines[start + 1 :]))
    assert decoded["text"] == event.text
    assert decoded["envelope"]["event_id"] == event_id
    assert decoded["envelope"]["conversation_id"] == event.envelope.conversation_id


def test_show_of_an_undecodable_record_says_why_and_keeps_its_bytes(
    dead_letters: DeadLetters,
) -> None:
    result = tool("show", str(dead_letters.offsets["garbage"]), bootstrap=dead_letters.bootstrap)

    assert result.returncode == 0, result.stderr
    assert f"value ({len(GARBAGE)} bytes) not decoded: the value does not parse" in result.stdout
    assert f"base64: {base64.b64encode(GARBAGE).decode()}" in result.stdout


async def _end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(PARTITIONS)])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


async def _record_at(
    bootstrap: str, topic: str, partition: int, offset: int
) -> ConsumerRecord[bytes, bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        return await asyncio.wait_for(consumer.getone(tp), 20)
    finally:
        await consumer.stop()


def test_replay_puts_the_original_record_back_and_says_where(dead_letters: DeadLetters) -> None:
    event = dead_letters.refused[1]
    event_id = event.envelope.event_id
    letter_offset = dead_letters.offsets[event_id]
    before = asyncio.run(_end_offsets(dead_letters.bootstrap, dead_letters.topic))

    dry = tool("replay", "--event-id", event_id, "--dry-run", bootstrap=dead_letters.bootstrap)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"would replay dead letter {letter_offset} ({event.DESCRIPTOR.full_name} {event_id}) "
        f"to {dead_letters.topic}",
        "would replay 1 dead letter",
    ]
    assert asyncio.run(_end_offsets(dead_letters.bootstrap, dead_letters.topic)) == before

    done = tool("replay", "--event-id", event_id, bootstrap=dead_letters.bootstrap)
    assert done.returncode == 0, done.stderr
    first, summary = done.stdout.splitlines()
    assert summary == "replayed 1 dead letter"
    prefix = f"replayed dead letter {letter_offset} ({event.DESCRIPTOR.full_name} {event_id}) to "
    assert first.startswith(prefix)
    topic, _, rest = first.removeprefix(prefix).partition("[")
    partition, _, offset = rest.partition("]@")
    assert topic == dead_letters.topic

    record = asyncio.run(_record_at(dead_letters.bootstrap, topic, int(partition), int(offset)))
    key, value, headers = encode(event)
    assert (record.key, record.value, list(record.headers)) == (key, value, headers)


def test_bad_arguments_and_an_unreachable_broker_fail_clearly(dead_letters: DeadLetters) -> None:
    backwards = tool("list", "--offsets", "9-2", bootstrap=dead_letters.bootstrap)
    assert backwards.returncode == 2
    assert "offset range '9-2' ends before it starts" in backwards.stderr

    unchosen = tool("replay", bootstrap=dead_letters.bootstrap)
    assert unchosen.returncode == 2
    assert "replay needs --topic, --offsets or --event-id" in unchosen.stderr

    not_an_offset = tool("show", "latest", bootstrap=dead_letters.bootstrap)
    assert not_an_offset.returncode == 2
    assert "'latest' is not an offset" in not_an_offset.stderr

    missing = tool("show", str(10**12), bootstrap=dead_letters.bootstrap)
    assert missing.returncode == 1
    assert f"no dead letter at offset {10**12} of {DEAD_LETTER}" in missing.stderr

    nothing_to_replay = tool(
        "replay", "--event-id", unique("no-such-event"), bootstrap=dead_letters.bootstrap
    )
    assert nothing_to_replay.returncode == 1
    assert "no dead letter matches; nothing replayed" in nothing_to_replay.stderr

    closed = f"127.0.0.1:{free_port()}"
    unreachable = tool("list", bootstrap=closed)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith(f"error: cannot use Kafka at {closed}:")
