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
    text's language), remembered for the most recent batch of each thread: batches
    analysed at once on several threads each keep theirs."""

    def __init__(self, read: Callable[..., list[T]]) -> None:
        self._read = read
        self._local = threading.local()
        self._generation = 0  # bumped by forget(), for every thread's memory at once

    def __call__(self, texts: Sequence[str], *per_text: Sequence[str]) -> list[T]:
        key = (self._generation, tuple(tuple(column) for column in (texts, *per_text)))
        last: tuple[object, list[T]] | None = getattr(self._local, "last", None)
        if last is not None and last[0] == key:
            return last[1]
        readings = self._read(texts, *per_text)
        self._local.last = (key, readings)
        return readings

    def forget(self) -> None:
        """Nothing remembered is used again (the heads changed)."""
        self._generation += 1
