"""What every benchmark needs: a free loopback port and percentiles of measured times."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(ordered: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of an already sorted list (nearest rank)."""
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
