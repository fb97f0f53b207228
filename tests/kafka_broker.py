"""Pytest plugin giving tests a real Kafka broker, so integration tests need no container.

Load it with ``pytest_plugins = ["tests.kafka_broker"]``. With ``KAFKA_BOOTSTRAP`` set, tests use
that broker instead of starting one. A broker that cannot start fails the tests: skipping them
would let a broken setup pass unnoticed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from infra.kafka.embedded import EmbeddedKafka, create_topics


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``bootstrap_servers`` of a broker holding all of Rapport's topics, shared by the session."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        asyncio.run(create_topics(external))
        yield external
        return
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka")) as broker:
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap


@pytest.fixture(scope="module")
def own_kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker for one test module alone: a second whole stack on the shared broker would
    also answer, and hand off, the customers of the stack the e2e tests run."""
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka-own")) as broker:
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap
