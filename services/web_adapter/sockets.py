"""Which visitor is connected on which sockets, and replies held for visitors who are away."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Protocol


class Socket(Protocol):
    @property
    def closed(self) -> bool: ...

    async def send_json(self, data: Any) -> None: ...


class VisitorSockets:
    """Sockets by visitor token. A visitor may have the chat open in several tabs."""

    def __init__(self, held_per_visitor: int) -> None:
        self._sockets: defaultdict[str, set[Socket]] = defaultdict(set)
        self._held: defaultdict[str, deque[dict[str, Any]]] = defaultdict(
            lambda: deque(maxlen=held_per_visitor)
        )

    @property
    def connected(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    async def attach(self, visitor: str, socket: Socket) -> None:
        """Register a socket and hand it the replies that arrived while the visitor was away."""
        self._sockets[visitor].add(socket)
        held = self._held.pop(visitor, deque())
        while held:
            await socket.send_json(held.popleft())

    def detach(self, visitor: str, socket: Socket) -> None:
        sockets = self._sockets.get(visitor)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self._sockets[visitor]

    async def deliver(self, visitor: str, frame: dict[str, Any]) -> bool:
        """Send ``frame`` to every open socket of ``visitor``; hold it when there is none."""
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
        if not delivered:
            self._held[visitor].append(frame)
        return delivered
