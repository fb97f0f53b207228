"""The chat socket under fuzzed frames: every frame answered, the socket never dropped.

Frames carry lone surrogates (as JSON escapes, the only way a text frame can), control
characters and any code point around a known word, or are broken on purpose (blank
text, a ``client_message_id`` with a surrogate or a control character, not JSON, not a
message). A message is acknowledged and published once with its text cleaned; anything
else gets an ``error`` frame with a stable code; after all of it the socket is still
open and takes a plain message.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rapport.events.v1 import messages_pb2

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.http_app import create_app
from services.web_adapter.sockets import VisitorSockets
from shared.kafka.topics import INBOUND
from tests.edge_strategies import BLANK, HUGE_DIGITS, NOISE, SAID, SURROGATES, Said, assert_clean
from tests.fakes.ports import FakePublisher

ERROR_CODES = {"invalid_json", "invalid_frame", "unknown_type", "empty_text", "text_too_long"}
VISITOR = "fuzz-visitor-0123456789"


@dataclass(frozen=True, slots=True)
class Frame:
    data: str
    said: Said | None  # what the visitor wrote, when the frame must be accepted


GOOD = st.builds(
    lambda said, client_id: Frame(
        json.dumps({"type": "message", "text": said.text, "client_message_id": client_id}), said
    ),
    SAID,
    st.text(st.sampled_from("abc123-_"), max_size=12),
)
BAD = st.one_of(
    BLANK.map(lambda blank: Frame(json.dumps({"type": "message", "text": blank}), None)),
    st.builds(
        lambda said, broken: Frame(
            json.dumps({"type": "message", "text": said.text, "client_message_id": f"c{broken}"}),
            None,
        ),
        SAID,
        st.one_of(SURROGATES, st.sampled_from(["\x00", "\n", "\x7f"])),
    ),
    st.one_of(NOISE, HUGE_DIGITS)
    .filter(lambda kind: kind != "message")
    .map(lambda kind: Frame(json.dumps({"type": kind, "text": "hello"}), None)),
    st.text(max_size=30)
    .filter(lambda raw: not raw.strip().startswith(("{", "[", '"')))
    .map(lambda raw: Frame(raw + "}", None)),
    HUGE_DIGITS.map(lambda digits: Frame(digits, None)),
    st.sampled_from(["9" * 5000, "1" + "0" * 4400]).map(
        lambda digits: Frame(f'{{"type": "message", "text": "hi", "n": {digits}}}', None)
    ),
    st.integers(1, 8000).map(lambda depth: Frame("[" * depth + "]" * depth, None)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(st.one_of(GOOD, BAD), max_size=6))
@example(
    frames=[Frame(json.dumps({"type": "message", "text": "hi \ud800 there"}), Said("", "there"))]
)
def test_every_frame_is_answered_and_the_socket_stays_open(frames: list[Frame]) -> None:
    PUBLISHER.published.clear()
    answers = RUNNER.run(_converse([frame.data for frame in frames]))
    for frame, answer in zip(frames, answers, strict=True):
        if frame.said is None:
            assert answer["type"] == "error" and answer["code"] in ERROR_CODES, answer
        else:
            assert answer["type"] == "ack", answer
    published = [
        event
        for topic, event in PUBLISHER.published
        if topic == INBOUND and isinstance(event, messages_pb2.MessageReceived)
    ]
    accepted = [frame.said for frame in frames if frame.said is not None]
    assert len(published) == len(accepted) + 1  # and the plain message sent last
    for said, event in zip(accepted, published, strict=False):
        assert said.word in event.text
        assert_clean(event.text)


async def _converse(frames: list[str]) -> list[dict[str, Any]]:
    """Send each frame and read its answer; then a plain message must still be taken."""
    async with CLIENT.ws_connect("/ws", params={"visitor": VISITOR}) as socket:
        welcome = await socket.receive_json(timeout=5)
        assert welcome["type"] == "welcome"
        answers = []
        for data in frames:
            await socket.send_str(data)
            answers.append(await socket.receive_json(timeout=5))
        await socket.send_str(json.dumps({"type": "message", "text": "still there?"}))
        assert (await socket.receive_json(timeout=5))["type"] == "ack"
        assert not socket.closed
        await socket.close()
        assert (await socket.receive()).type in (WSMsgType.CLOSED, WSMsgType.CLOSE)
    return answers


PUBLISHER = FakePublisher()
RUNNER: asyncio.Runner
CLIENT: TestClient[Any, Any]


def setup_module() -> None:
    global RUNNER, CLIENT
    RUNNER = asyncio.Runner()
    CLIENT = RUNNER.run(_make())


async def _make() -> TestClient[Any, Any]:
    config = WebAdapterSettings(metrics_port=0, max_text_chars=200)
    client = TestClient(TestServer(create_app(config, PUBLISHER, VisitorSockets())))
    await client.start_server()
    return client


def teardown_module() -> None:
    RUNNER.run(CLIENT.close())
    RUNNER.close()
