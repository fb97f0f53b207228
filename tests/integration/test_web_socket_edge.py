"""The chat socket as it runs, publishing to a real Kafka: bad frames never close it.

A frame with half an emoji (a lone surrogate, as a JSON escape) once made the publish
fail and the socket drop (close 1006), losing the visitor's chat. Now its text arrives
on Kafka repaired; frames that are nothing but control characters, or whose id or
numbers cannot be read, get an ``error`` frame; and the same socket goes on working.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import ConsumerRecord
from rapport.events.v1 import messages_pb2

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.http_app import create_app
from services.web_adapter.sockets import VisitorSockets
from shared.errors import ContractError
from shared.kafka.codec import decode
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import INBOUND
from tests.kafka_helpers import read_until

pytestmark = pytest.mark.integration


@pytest.fixture
async def web_url(kafka_bootstrap: str) -> AsyncIterator[str]:
    async with EventPublisher(kafka_bootstrap, client_id="web-edge-tests") as publisher:
        app = create_app(WebAdapterSettings(metrics_port=0), publisher, VisitorSockets())
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


def _message(text: str, client_message_id: str) -> str:
    return json.dumps({"type": "message", "text": text, "client_message_id": client_message_id})


async def test_bad_frames_get_error_frames_and_the_socket_stays_open(
    web_url: str, kafka_bootstrap: str
) -> None:
    nonce = uuid.uuid4().hex
    frames: list[tuple[str, dict[str, Any]]] = [
        (_message("it came broken \ud83d", f"{nonce}-1"), {"type": "ack"}),
        (_message("\x00\x07 \x1b", f"{nonce}-2"), {"type": "error", "code": "empty_text"}),
        (_message("hello", "id-\ud800"), {"type": "error", "code": "invalid_frame"}),
        ('{"type": "message", "n": ' + "9" * 5000 + "}", {"type": "error", "code": "invalid_json"}),
        (_message("still\x00 here", f"{nonce}-3"), {"type": "ack"}),
    ]
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{web_url}/ws", params={"visitor": f"visitor-{nonce}"}) as socket,
    ):
        assert (await socket.receive_json(timeout=5))["type"] == "welcome"
        for data, expected in frames:
            await socket.send_str(data)
            answer = await socket.receive_json(timeout=10)
            assert {key: answer[key] for key in expected} == expected, answer
        assert not socket.closed
    ours = {f"{nonce}-1", f"{nonce}-3"}
    records = await read_until(
        kafka_bootstrap, INBOUND, lambda r: _received(r).provider_message_id in ours, count=2
    )
    assert sorted(_received(r).text for r in records) == ["it came broken \ufffd", "still here"]


def _received(record: ConsumerRecord[bytes, bytes]) -> messages_pb2.MessageReceived:
    """The record's message, or an empty one for a record of another kind."""
    try:
        return decode(record.value, list(record.headers), messages_pb2.MessageReceived)
    except ContractError:
        return messages_pb2.MessageReceived()
