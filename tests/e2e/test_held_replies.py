"""A reply for a visitor who is away survives a crash of the web adapter."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from rapport.events.v1 import messages_pb2

from shared.kafka.producer import EventPublisher
from shared.kafka.topics import WEB_HELD_REPLIES, outbound_topic
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.kafka_helpers import eventually, read_until

pytestmark = pytest.mark.e2e


async def test_a_held_reply_is_delivered_on_reconnect_after_the_adapter_was_killed(
    stack: Stack,
) -> None:
    chat = await ChatClient.connect(stack.web_url)
    await chat.say("Hi, where is my parcel?", client_message_id="m-1")
    await eventually(lambda: len(chat.replies) == 1, timeout=30)
    visitor = chat.visitor
    first_reply = chat.replies[0]
    await chat.close()

    [record] = await read_until(
        stack.kafka_bootstrap,
        outbound_topic("web"),
        lambda r: (
            messages_pb2.SendMessage.FromString(r.value).envelope.event_id
            == first_reply["event_id"]
        ),
    )
    while_away = messages_pb2.SendMessage.FromString(record.value)
    while_away.envelope.event_id = str(uuid.uuid4())
    while_away.text = "Your parcel left the depot this morning."
    async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
        await publisher.publish(outbound_topic("web"), while_away)
    await read_until(  # written where a restart finds it before the adapter commits
        stack.kafka_bootstrap,
        WEB_HELD_REPLIES,
        lambda r: r.key == f"{visitor}/{while_away.envelope.event_id}".encode(),
    )
    await asyncio.sleep(1)  # past a commit interval: the outbound record is done with

    stack.kill("web_adapter")
    stack.start("web_adapter")
    stack.wait_ready("web_adapter")

    back = await ChatClient.connect(stack.web_url, visitor)
    try:
        await eventually(lambda: len(back.replies) == 1, timeout=30)
        assert back.replies[0]["text"] == while_away.text
        assert back.replies[0]["event_id"] == while_away.envelope.event_id
        await asyncio.sleep(1)
    finally:
        await back.close()
    assert len(back.replies) == 1

    again = await ChatClient.connect(stack.web_url, visitor)  # handed over once
    await asyncio.sleep(1)
    await again.close()
    assert again.replies == []
