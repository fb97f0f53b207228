"""Which visitor is connected on which sockets."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Protocol


class Socket(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send_json(self, data: Any) -> None: ...


class Arrival(Protocol):
    """What to do when a visitor's socket opens (hand over what was held for them)."""

    async def __call__(self, visitor: str, socket: Socket) -> None: ...


class VisitorSockets:
    """Sockets by visitor token. A visitor may have the chat open in several tabs."""

    def __init__(self, on_arrival: Arrival | None = None) -> None:
        self._sockets: defaultdict[str, set[Socket]] = defaultdict(set)
        self._on_arrival = on_arrival

    @property
    def connected(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def attach(self, visitor: str, socket: Socket) -> None:
        """Register a socket and hand it the replies that arrived while the visitor was away."""
        self._sockets[visitor].add(socket)
        if self._on_arrival is not None:
            await self._on_arrival(visitor, socket)

    def detach(self, visitor: str, socket: Socket) -> None:
        sockets = self._sockets.get(visitor)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self._sockets[visitor]

    async def deliver(self, visitor: str, frame: dict[str, Any]) -> bool:
        """Send ``frame`` to every open socket of ``visitor``; False when none took it."""
        delivered = False
        for socket in list(self._sockets.get(visitor, ())):
            if socket.closed:
                self.detach(visitor, socket)
                continue
            try:
                await socket.send_json(frame)
            except ConnectionError:
                self.detach(visitor, socket)
                continue
            delivered = True
        return delivered
