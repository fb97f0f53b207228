"""Shared test helpers: unique names so tests never see each other's data."""

from __future__ import annotations

import uuid

import pytest

pytest_plugins = ["tests.kafka_broker", "tests.postgres_server", "tests.dovecot"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def unique_id() -> str:
    return str(uuid.uuid4())
