"""Calls asked for in the same turn of the event loop travel together as one batch call.

A gRPC call costs more than the work behind most of Rapport's calls: measured under load,
gRPC's own per-call work is about 40 % of the orchestrator's Python time and a third of
the context service's. So callers ask for one item each, and a :class:`Coalescer` sends
the items asked for in the same loop turn as one batch call. Nothing waits for a batch to
fill: a lone item goes out at once, and under load one call carries many items.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from shared.errors import ContractError
from shared.observability.metrics import GRPC_CLIENT_BATCH_ITEMS

Item = TypeVar("Item")
Result = TypeVar("Result")

SendBatch = Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]]
"""One batch call: a result, or the exception its caller gets, per item in item order."""


class Coalescer(Generic[Item, Result]):
    """Gathers the items asked for in one loop turn into batch calls of at most ``max_batch``.

    Each caller hears only of its own item: a result, the item's own error, or the error
    that failed the whole call. A caller that gave up (a deadline, a cancellation) is not
    told, and its item still travels with its batch.
    """

    def __init__(self, method: str, send_batch: SendBatch[Item, Result], max_batch: int) -> None:
        self._method = method
        self._send_batch = send_batch
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._calls: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Result] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._send_pending)
        self._pending.append((item, outcome))
        return await outcome

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self._max_batch):
            task = asyncio.create_task(self._send(pending[start : start + self._max_batch]))
            self._calls.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._calls.discard)

    async def _send(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        GRPC_CLIENT_BATCH_ITEMS.labels(self._method).observe(len(batch))
        try:
            results = await self._send_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise ContractError(f"{self._method} answered {len(results)} of {len(batch)} items")
        except Exception as exc:  # every waiting caller hears of it, none hangs
            for _, outcome in batch:
                if not outcome.done():
                    outcome.set_exception(exc)
            return
        for (_, outcome), result in zip(batch, results, strict=True):
            if outcome.done():
                continue
            if isinstance(result, Exception):
                outcome.set_exception(result)
            else:
                outcome.set_result(result)
