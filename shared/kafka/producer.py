"""Publishes Rapport events to Kafka, keyed by conversation, and waits for the broker's ack."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from shared.errors import DependencyUnavailableError
from shared.kafka.codec import Headers, encode
from shared.kafka.connect import start_client
from shared.observability.metrics import KAFKA_RECORDS_PUBLISHED


class Publisher(Protocol):
    """What code that publishes events needs; :class:`EventPublisher` is the real one."""

    async def publish(self, topic: str, event: Message) -> None: ...


class EventPublisher:
    """An aiokafka producer with an explicit lifecycle.

    ``publish`` returns once the broker has acknowledged the record.

    Not idempotent at the producer level (that needs broker features some
    Kafka-compatible brokers lack); consumers dedupe on ``event_id`` instead.
    """

    def __init__(self, bootstrap: str, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = await start_client(
            self._bootstrap,
            lambda: AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                linger_ms=1,
            ),
        )

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def publish(self, topic: str, event: Message) -> None:
        """Publish one event; :class:`DependencyUnavailableError` if the broker does not ack."""
        key, value, headers = encode(event)
        await self.publish_raw(topic, key, value, headers)

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        """Publish bytes as they are (dead letters keep the original record)."""
        if self._producer is None:
            raise DependencyUnavailableError("the Kafka producer is not running")
        try:
            await self._producer.send_and_wait(topic, value=value, key=key, headers=headers)
        except KafkaError as exc:
            raise DependencyUnavailableError(
                f"Kafka did not accept a record for {topic}: {exc}"
            ) from exc
        KAFKA_RECORDS_PUBLISHED.labels(topic).inc()
