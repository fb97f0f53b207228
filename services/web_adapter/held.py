"""Replies for visitors with no open socket, kept on Kafka so a restart loses none.

A reply that finds no socket of its visitor is written to a compacted topic, keyed by
visitor and reply, before its outbound record is committed; handing it over on the
visitor's return writes a tombstone for it. On start the adapter reads the topic back,
so what was held before a restart (or a crash) is still delivered. A reply held twice
(a redelivered outbound record) is one reply: same key, same event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from rapport.events.v1 import messages_pb2

from shared.errors import ContractError, DependencyUnavailableError
from shared.kafka.codec import Headers, decode, encode
from shared.kafka.snapshot import read_to_end
from shared.kafka.topics import WEB_HELD_REPLIES

log = logging.getLogger(__name__)


class RawPublisher(Protocol):
    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None: ...


class Socket(Protocol):
    async def send_json(self, data: Any) -> None: ...


Frame = Callable[[messages_pb2.SendMessage], dict[str, Any]]
Delivered = Callable[[messages_pb2.SendMessage], Awaitable[None]]


def _key(event: messages_pb2.SendMessage) -> bytes:
    return f"{event.envelope.customer.address}/{event.envelope.event_id}".encode()


class HeldReplies:
    """The held replies of every visitor, oldest first, at most ``per_visitor`` each."""

    def __init__(self, publisher: RawPublisher, per_visitor: int) -> None:
        self._publisher = publisher
        self._per_visitor = per_visitor
        self._by_visitor: dict[str, OrderedDict[str, messages_pb2.SendMessage]] = {}
        self._settling: set[asyncio.Task[None]] = set()

    @property
    def count(self) -> int:
        return sum(len(replies) for replies in self._by_visitor.values())

    async def load(self, bootstrap: str, client_id: str) -> int:
        """Rebuild what is held from the topic; returns how many replies are held."""
        async for record in read_to_end(bootstrap, WEB_HELD_REPLIES, client_id):
            visitor, _, event_id = (record.key or b"").decode(errors="replace").partition("/")
            if record.value is None:
                self._forget(visitor, event_id)
                continue
            try:
                event = decode(record.value, list(record.headers), messages_pb2.SendMessage)
            except ContractError as error:  # written by us, so never expected: say so, go on
                log.error("skipping a held reply that does not decode: %s", error)
                continue
            self._remember(event)
        return self.count

    async def hold(self, event: messages_pb2.SendMessage) -> None:
        """Keep ``event`` for its visitor, durably: returns once the broker has it.

        It is remembered before the write, so a visitor who comes back while the broker
        is still taking it gets it at once (else it would wait for their next visit).
        """
        dropped = self._remember(event)
        _, value, headers = encode(event)
        await self._publisher.publish_raw(WEB_HELD_REPLIES, _key(event), value, headers)
        for reply in dropped:
            await self._release(reply)

    async def hand_to(
        self, visitor: str, socket: Socket, frame: Frame, delivered: Delivered
    ) -> None:
        """Send ``visitor``'s held replies to ``socket``, oldest first, and let them go.

        A reply the socket did not take stays held (for the next connection). Reporting
        the deliveries and releasing the records happen beside the socket, so a slow
        broker never holds up a visitor's return.
        """
        held = self._by_visitor.get(visitor)
        handed: list[messages_pb2.SendMessage] = []
        while held:
            event_id, event = next(iter(held.items()))
            await socket.send_json(frame(event))
            self._forget(visitor, event_id)
            handed.append(event)
        if handed:
            task = asyncio.create_task(self._settle(handed, delivered))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _settle(self, handed: list[messages_pb2.SendMessage], delivered: Delivered) -> None:
        for event in handed:
            await delivered(event)
            await self._release(event)

    def _remember(self, event: messages_pb2.SendMessage) -> list[messages_pb2.SendMessage]:
        """Add ``event``; returns the oldest replies dropped to keep within the bound."""
        held = self._by_visitor.setdefault(event.envelope.customer.address, OrderedDict())
        held[event.envelope.event_id] = event
        dropped = []
        while len(held) > self._per_visitor:
            dropped.append(held.popitem(last=False)[1])
            log.warning(
                "a visitor has over %d replies held: dropping the oldest", self._per_visitor
            )
        return dropped

    def _forget(self, visitor: str, event_id: str) -> None:
        held = self._by_visitor.get(visitor)
        if held is not None:
            held.pop(event_id, None)
            if not held:
                del self._by_visitor[visitor]

    async def _release(self, event: messages_pb2.SendMessage) -> None:
        """Tombstone the held record; if that fails, a later load delivers it again and
        the chat page drops the repeat by its event id."""
        try:
            await self._publisher.publish_raw(WEB_HELD_REPLIES, _key(event), None, [])
        except DependencyUnavailableError as error:
            log.warning("could not release a held reply: %s", error)
