"""Free loopback ports for the servers the launcher, the tests and the benchmarks start."""

from __future__ import annotations

import contextlib
import socket


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now, all different (each socket stays bound until the
    end, so none is handed out twice)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def free_port() -> int:
    """One port free on 127.0.0.1 right now."""
    [port] = free_ports(1)
    return port
