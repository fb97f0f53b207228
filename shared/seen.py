"""A bounded memory of recently seen ids, to drop redeliveries and platform retries cheaply.

This is the fast path only: correctness never depends on it (events carry stable ids and
every consumer is idempotent), so forgetting old ids, or a restart, costs nothing but a
duplicate that the next stage drops.
"""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """The last ``capacity`` ids."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already there."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True
