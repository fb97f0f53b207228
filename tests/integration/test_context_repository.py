"""The context store on SQLite and on PostgreSQL: identities, idempotent appends, sequences."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.context.database import async_url, create_engine, migrate
from services.context.repository import (
    ContextRepository,
    EmotionReading,
    NewTurn,
    UnknownCustomerError,
)

pytestmark = pytest.mark.integration

WEB, SMS = 1, 2
CUSTOMER, BOT = 1, 2


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests run on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'context.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def repository(engine: AsyncEngine) -> ContextRepository:
    return ContextRepository(engine)


def _turn(conversation: str, text: str, role: int = CUSTOMER, **kwargs: object) -> NewTurn:
    return NewTurn(
        event_id=str(uuid.uuid4()),
        conversation_id=conversation,
        role=role,
        channel=WEB,
        text=text,
        occurred_at=kwargs.pop("occurred_at", datetime.now(UTC)),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_database_urls_get_their_async_driver() -> None:
    assert async_url("sqlite:///var/x.db") == "sqlite+aiosqlite:///var/x.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://h/db")


async def test_an_address_resolves_to_one_stable_customer(repository: ContextRepository) -> None:
    first, created = await repository.resolve_customer(SMS, "+15551234567", "Ana")
    again, created_again = await repository.resolve_customer(SMS, "+15551234567")
    other, _ = await repository.resolve_customer(WEB, "+15551234567")
    assert created and not created_again
    assert first.id == again.id != other.id
    assert again.display_name == "Ana"


async def test_concurrent_first_contacts_create_one_customer(repository: ContextRepository) -> None:
    results = await asyncio.gather(
        *(repository.resolve_customer(WEB, "visitor-x") for _ in range(10))
    )
    assert len({customer.id for customer, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_appending_is_idempotent_and_sequences_are_strict(
    repository: ContextRepository,
) -> None:
    customer, _ = await repository.resolve_customer(WEB, "visitor-1")
    turns = [_turn("conv-1", f"message {i}") for i in range(20)]
    results = await asyncio.gather(*(repository.append_turn(customer.id, t) for t in turns))
    assert all(created for _, created in results)
    again, created = await repository.append_turn(customer.id, turns[0])
    assert not created and again.sequence == results[0][0].sequence

    stored = await repository.list_turns("conv-1")
    assert [t.sequence for t in stored] == list(range(1, 21))
    assert {t.event_id for t in stored} == {t.event_id for t in turns}


async def test_context_spans_channels_and_counts_recent_contacts(
    repository: ContextRepository,
) -> None:
    customer, _ = await repository.resolve_customer(WEB, "visitor-2")
    old = datetime.now(UTC) - timedelta(days=30)
    await repository.append_turn(customer.id, _turn("conv-old", "last month", occurred_at=old))
    await repository.append_turn(
        customer.id,
        _turn("conv-a", "late order", emotion=EmotionReading("frustration", 0.6, -0.5)),
    )
    await repository.append_turn(customer.id, _turn("conv-b", "hello again", role=BOT))

    context = await repository.get_context(customer.id, max_turns=2)
    assert [t.text for t in context.recent_turns] == ["late order", "hello again"]
    assert context.recent_turns[0].emotion == EmotionReading("frustration", 0.6, -0.5)
    assert context.contacts_last_7_days == 2


async def test_unknown_customers_are_an_error(repository: ContextRepository) -> None:
    with pytest.raises(UnknownCustomerError):
        await repository.get_context(str(uuid.uuid4()), 5)
    with pytest.raises(UnknownCustomerError):
        await repository.append_turn(str(uuid.uuid4()), _turn("conv-z", "hi"))
