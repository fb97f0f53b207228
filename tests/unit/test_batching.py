"""The coalescer behind Rapport's batched gRPC calls: what travels together, who hears what."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import ContractError, NotFoundError
from shared.grpc.batching import Coalescer


class Recorder:
    """A batch call that doubles numbers, refuses negative ones and records every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(items)
        await self.release.wait()
        return [NotFoundError(f"no {n}") if n < 0 else 2 * n for n in items]


async def test_items_asked_for_in_one_loop_turn_travel_as_one_call() -> None:
    recorder = Recorder()
    coalescer = Coalescer("Double", recorder, max_batch=3)
    together = await asyncio.gather(*(coalescer.submit(n) for n in range(7)))
    alone = await coalescer.submit(10)
    assert together == [0, 2, 4, 6, 8, 10, 12]
    assert alone == 20
    assert recorder.batches == [[0, 1, 2], [3, 4, 5], [6], [10]]


async def test_an_item_error_reaches_only_its_caller() -> None:
    coalescer = Coalescer("Double", Recorder(), max_batch=8)
    results = await asyncio.gather(
        coalescer.submit(1), coalescer.submit(-1), coalescer.submit(2), return_exceptions=True
    )
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], NotFoundError)


async def test_a_failed_call_reaches_every_caller_of_its_batch() -> None:
    async def unavailable(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("down")

    coalescer = Coalescer("Double", unavailable, max_batch=8)
    results = await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_short_answer_is_a_contract_error_for_everyone() -> None:
    async def short(items: list[int]) -> list[int | Exception]:
        return items[:-1]

    coalescer = Coalescer("Double", short, max_batch=8)
    results = await asyncio.gather(coalescer.submit(1), coalescer.submit(2), return_exceptions=True)
    assert all(isinstance(r, ContractError) for r in results)


async def test_a_caller_that_gave_up_is_not_told_and_the_others_are() -> None:
    recorder = Recorder()
    recorder.release.clear()
    coalescer = Coalescer("Double", recorder, max_batch=8)
    impatient = asyncio.create_task(coalescer.submit(1))
    patient = asyncio.create_task(coalescer.submit(2))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    recorder.release.set()
    assert await patient == 4
    assert recorder.batches == [[1, 2]]
