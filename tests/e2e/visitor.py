"""A chat visitor as the widget's page behaves, for tests that send many messages.

One message at a time, each sent again after a reconnect or a "pending" answer with the
same client message id; replies are kept by event id (as the page does), so a duplicate
reply shows as a reply to a message already answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from shared.channels.webhooks import inbound_event_id
from tests.kafka_helpers import eventually

ANSWER_TIMEOUT = 15.0
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
    messages: int
    seconds_between_messages: float
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
        for number in range(self.messages):
            client_message_id = f"{self.name}-{number:02d}"
            text = f"{QUESTIONS[number % len(QUESTIONS)]} ({client_message_id})"
            await self._send_until_taken(session, text, client_message_id)
            self.sent.append(client_message_id)
            await asyncio.sleep(self.seconds_between_messages)

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


async def converse(
    visitors: Sequence[Visitor],
    meanwhile: Awaitable[None],
    sending_timeout: float,
    replies_timeout: float,
) -> None:
    """Every visitor chats while ``meanwhile`` runs (faults, say), keeping a socket open
    for held replies; then waits until each has a reply per message it sent, and 3 s more
    for a duplicate to show up. Never fails itself: the caller's counts say what is missing.
    """
    done = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        listening = [asyncio.create_task(v.stay_until(session, done)) for v in visitors]
        alongside = asyncio.ensure_future(meanwhile)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(visitor.chat(session) for visitor in visitors)), sending_timeout
            )
        await alongside
        with contextlib.suppress(AssertionError):
            await eventually(
                lambda: all(len(v.replies) >= len(v.sent) for v in visitors), replies_timeout
            )
        await asyncio.sleep(3)
        done.set()
        await asyncio.gather(*listening)
        for visitor in visitors:
            await visitor.close()
