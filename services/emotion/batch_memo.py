"""The readings of the last batch, kept for the heads that ask about it next.

The analyzer asks each head in turn (emotions, sentiment, intent...) for the same batch;
an encoder answers all of them from one pass, so the first question encodes the batch and
the others reuse it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class LastBatch(Generic[T]):
    """``read(texts, *per_text)`` (``per_text``: more columns of the batch, such as each
    text's language), remembered for the most recent batch only. Thread-safe."""

    def __init__(self, read: Callable[..., list[T]]) -> None:
        self._read = read
        self._last: tuple[tuple[tuple[str, ...], ...], list[T]] | None = None
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str], *per_text: Sequence[str]) -> list[T]:
        key = tuple(tuple(column) for column in (texts, *per_text))
        with self._lock:
            last = self._last
        if last is not None and last[0] == key:
            return last[1]
        readings = self._read(texts, *per_text)
        with self._lock:
            self._last = (key, readings)
        return readings

    def forget(self) -> None:
        with self._lock:
            self._last = None
