"""Starting a Kafka client while the broker may still be coming up (as under ``make run``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaConnectionError
from tenacity import (
    AsyncRetrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)

BROKER_WAIT_SECONDS = 120.0


class KafkaClient(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Client = TypeVar("Client", bound=KafkaClient)


async def wait_for_broker(bootstrap: str) -> None:
    """Wait, quietly, until one bootstrap address accepts TCP connections."""
    addresses = [entry.strip().rsplit(":", 1) for entry in bootstrap.split(",") if entry.strip()]
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(OSError),
        wait=wait_exponential(multiplier=0.1, max=2),
        stop=stop_after_delay(BROKER_WAIT_SECONDS),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number == 2:
                log.info("waiting for Kafka at %s", bootstrap)
            for host, port in addresses:
                try:
                    _, writer = await asyncio.open_connection(host, int(port))
                except OSError:
                    continue
                writer.close()
                await writer.wait_closed()
                return
            raise OSError(f"no Kafka broker answers at {bootstrap}")


async def start_client(bootstrap: str, make: Callable[[], Client]) -> Client:
    """Build and start a client once the broker answers, waiting at most two minutes.

    A client whose start failed is stopped and thrown away: aiokafka clients are not
    meant to be started twice.
    """
    await wait_for_broker(bootstrap)
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(KafkaConnectionError),
        wait=wait_exponential(multiplier=0.2, max=3),
        stop=stop_after_delay(BROKER_WAIT_SECONDS),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    ):
        with attempt:
            client = make()
            try:
                await client.start()
            except KafkaConnectionError:
                await client.stop()
                raise
            return client
    raise AssertionError("unreachable: tenacity re-raises the last error")
