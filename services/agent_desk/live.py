"""In-process fan-out of ticket changes, customers' new messages, the delivery of the
desk's own messages and agents' availability to the browsers' Server-Sent Events streams.

Only the desk process that changed a ticket (or consumed its handoff) tells its own
browsers; running several desk replicas needs a shared fan-out (a known limit).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from rapport.common.v1 import envelope_pb2


@dataclass(frozen=True)
class CustomerMessage:
    """What a customer just wrote or sent, for the open conversation page (before the
    context service may have stored it, under ``event_id``)."""

    event_id: str
    text: str
    channel: str
    sent_at: datetime
    attachments: tuple[envelope_pb2.Attachment, ...] = ()
    # An email's subject, and the whole of it when ``text`` is only the new words.
    subject: str = ""
    whole_email: str = ""


@dataclass(frozen=True)
class TicketChanged:
    """A ticket changed, or (with ``message``) its customer wrote, or (``delivery``) a
    message sent in its conversation got further or did not get through."""

    ticket_id: str
    team: str
    message: CustomerMessage | None = None
    delivery: bool = False


@dataclass(frozen=True)
class TeamChanged:
    """An agent of the team changed their availability: the team's queues show it."""

    team: str


Change = TicketChanged | TeamChanged


class LiveUpdates:
    def __init__(self, backlog: int = 100) -> None:
        self._backlog = backlog
        self._subscribers: set[asyncio.Queue[Change | None]] = set()

    def notify(self, change: Change) -> None:
        for queue in self._subscribers:
            if queue.qsize() >= self._backlog:  # a stalled browser misses changes;
                continue  # its next one refreshes everything anyway
            queue.put_nowait(change)

    def close(self) -> None:
        """Ends every stream (at shutdown)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        # One slot beyond the backlog is kept for the end-of-stream marker.
        queue: asyncio.Queue[Change | None] = asyncio.Queue(self._backlog + 1)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
