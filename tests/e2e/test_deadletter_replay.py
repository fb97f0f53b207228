"""A customer's message the orchestrator dead-lettered, replayed once the fault is fixed, gets
exactly one reply; replaying it again republishes that same reply, which the web adapter
drops, so the customer still sees one."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rapport.events.v1 import messages_pb2

from shared.kafka.topics import ALL_TOPICS, DEAD_LETTER, INBOUND, outbound_topic
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import REPO_ROOT, Stack
from tests.e2e.test_journey import metric_total
from tests.kafka_helpers import eventually, read_until

pytestmark = pytest.mark.e2e

WEB_OUTBOUND = outbound_topic("web")
WEB_OUTBOUND_PARTITIONS = next(spec.partitions for spec in ALL_TOPICS if spec.name == WEB_OUTBOUND)


async def restart_orchestrator(stack: Stack, **settings: str) -> None:
    """Stop the orchestrator cleanly and start it again with ``settings`` over the stack's."""
    assert await asyncio.to_thread(stack.stop, "orchestrator") == 0
    saved = dict(stack.env)
    stack.env.update(settings)
    try:
        stack.start("orchestrator")
    finally:
        stack.env.clear()
        stack.env.update(saved)
    await asyncio.to_thread(stack.wait_ready, "orchestrator")


@asynccontextmanager
async def orchestrator_with_context_at(stack: Stack, address: str) -> AsyncIterator[None]:
    """A misdeployed orchestrator, its CONTEXT_ADDRESS naming the wrong service."""
    await restart_orchestrator(stack, CONTEXT_ADDRESS=address)
    try:
        yield
    finally:
        await restart_orchestrator(stack)


async def replay(stack: Stack, event_id: str) -> list[str]:
    """``python -m infra.deadletters replay --event-id``; its output lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "infra.deadletters", "replay", "--event-id", event_id),
        cwd=REPO_ROOT,
        env=stack.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().splitlines()


async def replies_to(bootstrap: str, inbound_event_id: str) -> list[messages_pb2.SendMessage]:
    """Every ``SendMessage`` on the web outbound topic answering ``inbound_event_id``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(WEB_OUTBOUND, p) for p in range(WEB_OUTBOUND_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    send = messages_pb2.SendMessage.FromString(record.value)
                    if send.in_reply_to == inbound_event_id:
                        found.append(send)
    finally:
        await consumer.stop()
    return found


async def test_a_replayed_dead_letter_gets_one_reply_and_a_second_replay_none(
    stack: Stack,
) -> None:
    chat = await ChatClient.connect(stack.web_url)
    try:
        async with orchestrator_with_context_at(stack, stack.emotion_address):
            await chat.say("Hi, my order hasn't arrived")
            await eventually(lambda: len(chat.acks) == 1)
            event_id = chat.acks[0]["event_id"]
            [dead] = await read_until(
                stack.kafka_bootstrap,
                DEAD_LETTER,
                lambda r: (
                    dict(r.headers).get("event-id") == event_id.encode()
                    and dict(r.headers)["dead-letter-group"] == stack.orchestrator_group.encode()
                ),
            )
        assert chat.replies == []

        first = await replay(stack, event_id)

        assert first[0].startswith(
            f"replayed dead letter {dead.offset} (rapport.events.v1.MessageReceived {event_id})"
            f" to {INBOUND}["
        )
        assert first[1:] == ["replayed 1 dead letter"]
        await eventually(lambda: len(chat.replies) == 1, timeout=20)
        assert chat.replies[0]["in_reply_to"] == event_id
        [reply] = await replies_to(stack.kafka_bootstrap, event_id)
        assert reply.envelope.event_id == chat.replies[0]["event_id"]

        duplicates = metric_total(
            stack.metrics_url("web_adapter"), "rapport_web_replies_total", outcome="duplicate"
        )
        await replay(stack, event_id)

        # The orchestrator finds the turn already stored and republishes the same reply...
        await eventually(
            lambda: (
                metric_total(
                    stack.metrics_url("web_adapter"),
                    "rapport_web_replies_total",
                    outcome="duplicate",
                )
                > duplicates
            ),
            timeout=20,
        )
        again = await replies_to(stack.kafka_bootstrap, event_id)
        assert [send.envelope.event_id for send in again] == [reply.envelope.event_id] * 2
        assert again[1].text == reply.text
        # ...which the web adapter drops: the customer saw one reply.
        assert len(chat.replies) == 1
    finally:
        await chat.close()
