"""Nothing lost under faults: 30 web visitors, 600 messages, and every dependency failing.

Every service runs as its own process on a broker of this module's own (it is stopped
for half a minute, which the other end-to-end tests must not see). While the visitors
write, the context service and the emotion service are each SIGKILLed and restarted 10 s
later, the orchestrator is SIGKILLed and restarted at once, and the broker is stopped
for 30 s. The visitors behave as the chat page does: one message at a time, each sent
again after a reconnect or a "pending" answer, with the same client message id.

Every message must get exactly one reply, in order for each visitor, and nothing may
reach the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from infra.kafka.embedded import EmbeddedKafka, create_topics
from shared.channels.webhooks import inbound_event_id
from shared.kafka.snapshot import read_to_end
from shared.kafka.topics import DEAD_LETTER
from tests.e2e.stack import Stack
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.e2e

log = logging.getLogger(__name__)

VISITORS = 30
MESSAGES_EACH = 20
SECONDS_BETWEEN_MESSAGES = 4.0  # 30 visitors: 7.5 messages a second, for 80 s and more
ANSWER_TIMEOUT = 15.0
SENDING_TIMEOUT = 240.0
REPLIES_TIMEOUT = 180.0
QUESTIONS = (
    "Hello! What time do you open on Saturday?",
    "Do you deliver to Lyon?",
    "Can I pay by card when it arrives?",
    "Which sizes does the blue jacket come in?",
    "Thanks, that is helpful.",
)


@dataclass
class Visitor:
    """One chat visitor, speaking the page's protocol over a real WebSocket."""

    name: str
    web_url: str
    token: str = ""
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by event id, as the page
    sent: list[str] = field(default_factory=list)  # client message ids, in order
    acked_at: dict[str, float] = field(default_factory=dict)  # by inbound event id
    replied_at: dict[str, float] = field(default_factory=dict)  # by inbound event id
    _socket: aiohttp.ClientWebSocketResponse | None = None
    _answers: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _connecting: asyncio.Lock = field(default_factory=asyncio.Lock)
    _readers: set[asyncio.Task[None]] = field(default_factory=set)

    async def chat(self, session: aiohttp.ClientSession) -> None:
        for number in range(MESSAGES_EACH):
            client_message_id = f"{self.name}-{number:02d}"
            text = f"{QUESTIONS[number % len(QUESTIONS)]} ({client_message_id})"
            await self._send_until_taken(session, text, client_message_id)
            self.sent.append(client_message_id)
            await asyncio.sleep(SECONDS_BETWEEN_MESSAGES)

    async def stay_until(self, session: aiohttp.ClientSession, done: asyncio.Event) -> None:
        """Keep a socket open (reconnecting) so held replies arrive, until ``done``."""
        while not done.is_set():
            await self._connected(session)
            await asyncio.sleep(0.5)

    async def _send_until_taken(
        self, session: aiohttp.ClientSession, text: str, client_message_id: str
    ) -> None:
        frame = {"type": "message", "text": text, "client_message_id": client_message_id}
        while True:
            socket = await self._connected(session)
            try:
                await socket.send_json(frame)
                answer = await asyncio.wait_for(self._answers.get(), ANSWER_TIMEOUT * 4)
            except (ConnectionError, TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.5)
                continue
            if answer.get("type") == "ack" and answer["client_message_id"] == client_message_id:
                self.acked_at[answer["event_id"]] = time.monotonic()
                return
            if answer.get("type") == "pending":
                await asyncio.sleep(answer["retry_after_ms"] / 1000)
                continue
            if answer.get("type") == "closed":  # the adapter went away: send it again
                continue
            raise AssertionError(f"{self.name}: unexpected answer {answer}")

    async def _connected(self, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        async with self._connecting:
            return await self._connect(session)

    async def _connect(self, session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        while self._socket is None or self._socket.closed:
            try:
                url = f"{self.web_url.replace('http', 'ws', 1)}/ws?visitor={self.token}"
                socket = await session.ws_connect(url, heartbeat=5)
                welcome = await socket.receive_json(timeout=ANSWER_TIMEOUT)
            except (ConnectionError, TimeoutError, aiohttp.ClientError, TypeError):
                await asyncio.sleep(0.5)
                continue
            self.token = welcome["visitor"]
            self._socket = socket
            self._answers = asyncio.Queue()
            reader = asyncio.create_task(self._read(socket, self._answers))
            self._readers.add(reader)
            reader.add_done_callback(self._readers.discard)
        return self._socket

    async def _read(
        self, socket: aiohttp.ClientWebSocketResponse, answers: asyncio.Queue[dict[str, Any]]
    ) -> None:
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame["type"] == "reply":
                self.replies.setdefault(frame["event_id"], frame)
                self.replied_at.setdefault(frame["in_reply_to"], time.monotonic())
            elif frame["type"] != "typing":  # a reply being prepared answers nothing sent
                answers.put_nowait(frame)
        answers.put_nowait({"type": "closed"})

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._readers:
            await asyncio.wait(self._readers)

    def replies_in_order(self) -> list[str]:
        """The inbound event ids the replies answer, in the order the replies came."""
        return [reply["in_reply_to"] for reply in self.replies.values()]

    def expected(self) -> list[str]:
        return [inbound_event_id("web", f"{self.token}:{sent}") for sent in self.sent]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka-faults")) as kafka:
        kafka.wait_ready(120)
        asyncio.run(create_topics(kafka.bootstrap))
        yield kafka


@pytest.fixture(scope="module")
def faulty_stack(
    broker: EmbeddedKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(broker.bootstrap, tmp_path_factory.mktemp("faults"))
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


@dataclass
class Timeline:
    """When each fault began and ended, for the report."""

    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    def at(self, what: str) -> float:
        return next(when for when, said in self.events if said == what)

    def __str__(self) -> str:
        return "; ".join(f"{when - self.started:.1f}s {what}" for when, what in self.events)


def _waits(visitors: list[Visitor], since: float, until: float) -> list[float]:
    """Seconds from ack to reply of the messages acknowledged between ``since`` and ``until``."""
    return sorted(
        v.replied_at[event_id] - acked
        for v in visitors
        for event_id, acked in v.acked_at.items()
        if since <= acked <= until and event_id in v.replied_at
    )


async def _faults(stack: Stack, broker: EmbeddedKafka, timeline: Timeline) -> None:
    """The outages, one after another, while the visitors write."""
    note = timeline.note

    for service in ("context", "emotion"):
        await asyncio.sleep(3)
        stack.kill(service)
        note(f"{service} killed")
        await asyncio.sleep(10)
        stack.start(service)
        await asyncio.to_thread(stack.wait_ready, service)
        note(f"{service} back")
    await asyncio.sleep(3)
    stack.kill("orchestrator")
    stack.start("orchestrator")
    note("orchestrator killed and restarted")
    await asyncio.sleep(5)
    await asyncio.to_thread(broker.stop)
    note("broker stopped")
    await asyncio.sleep(30)
    await asyncio.to_thread(broker.start)
    await asyncio.to_thread(broker.wait_ready, 120)
    note("broker back")


def _last_lines(stack: Stack) -> str:
    """What the services said last, for a failure's report (CI keeps nothing else)."""
    return "\n".join(
        f"--- {service}\n{stack.log_tail(service, 12)}"
        for service in ("web_adapter", "orchestrator", "context")
    )


async def _dead_letters(bootstrap: str) -> list[str]:
    return [
        dict(record.headers).get("dead-letter-error", b"").decode()
        async for record in read_to_end(bootstrap, DEAD_LETTER, "tests")
    ]


@pytest.mark.timeout(600)  # up to 240 s of sending through the faults, 180 s for replies
async def test_every_message_gets_one_reply_in_order_through_every_outage(
    faulty_stack: Stack, broker: EmbeddedKafka
) -> None:
    visitors = [Visitor(f"v{n:02d}", faulty_stack.web_url) for n in range(VISITORS)]
    timeline = Timeline()
    done = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        listening = [asyncio.create_task(v.stay_until(session, done)) for v in visitors]
        faults = asyncio.create_task(_faults(faulty_stack, broker, timeline))
        with contextlib.suppress(TimeoutError):  # the counts below say who got stuck
            await asyncio.wait_for(
                asyncio.gather(*(visitor.chat(session) for visitor in visitors)), SENDING_TIMEOUT
            )
        await faults
        with contextlib.suppress(AssertionError):  # the counts below say what is missing
            await eventually(
                lambda: all(len(v.replies) >= len(v.sent) for v in visitors), REPLIES_TIMEOUT
            )
        await asyncio.sleep(3)  # room for a duplicate or a late extra reply to show up
        done.set()
        await asyncio.gather(*listening)
        for visitor in visitors:
            await visitor.close()

    sent = sum(len(v.sent) for v in visitors)
    replied = sum(len(v.replies) for v in visitors)
    context_waits = _waits(visitors, timeline.at("context killed"), timeline.at("context back"))
    all_waits = _waits(visitors, 0, time.monotonic())
    log.info(
        "faults: %s. %d messages, %d replies; during the context outage %d messages waited "
        "up to %.1f s for their reply (median %.1f s); over the whole run the longest wait "
        "was %.1f s",
        timeline,
        sent,
        replied,
        len(context_waits),
        context_waits[-1] if context_waits else 0.0,
        context_waits[len(context_waits) // 2] if context_waits else 0.0,
        all_waits[-1] if all_waits else 0.0,
    )
    sent_each = {v.name: len(v.sent) for v in visitors}
    assert sent == VISITORS * MESSAGES_EACH, f"{sent_each}\n{_last_lines(faulty_stack)}"
    unanswered = {
        v.name: [
            sent_id
            for sent_id, event_id in zip(v.sent, v.expected(), strict=True)
            if event_id not in {r["in_reply_to"] for r in v.replies.values()}
        ]
        for v in visitors
    }
    assert replied == sent, (
        f"{replied} replies to {sent} messages; faults: {timeline}; unanswered: "
        f"{ {name: ids for name, ids in unanswered.items() if ids} }\n{_last_lines(faulty_stack)}"
    )
    for visitor in visitors:
        assert visitor.replies_in_order() == visitor.expected(), visitor.name
    assert await _dead_letters(broker.bootstrap) == []
