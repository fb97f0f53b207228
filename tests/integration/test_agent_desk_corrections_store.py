"""The corrections' table on SQLite and on a real PostgreSQL server: one correction per
turn and agent (a later one replaces it, an empty one withdraws it), read back for the page
and the export, aged out with the customer's messages and emotion data, and found and
deleted with the customer's other rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.agent_desk.corrections import Detected, Labels
from services.agent_desk.corrections_store import Corrections
from services.agent_desk.customer_data import Customer, CustomerData
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Agent, AuditEntry, Role
from services.agent_desk.retention import DeskRetention, RetentionPolicy
from services.agent_desk.store import DeskStore
from tests.integration.test_agent_desk_store import NOW, database_url  # noqa: F401

pytestmark = pytest.mark.integration


@dataclass
class Table:
    engine: AsyncEngine
    corrections: Corrections
    maria: Agent
    bob: Agent


@pytest.fixture
async def table(database_url: str) -> AsyncIterator[Table]:  # noqa: F811
    engine = create_engine(database_url)
    await migrate(engine)
    store = DeskStore(engine)
    agents = [
        await store.create_agent(
            email=f"{name}@example.org",
            name=name.title(),
            password_hash="x",
            role=Role.AGENT,
            team="support",
            languages=["en"],
            skills=[],
            now=NOW,
        )
        for name in ("maria", "bob")
    ]
    try:
        yield Table(engine, Corrections(engine), *agents)
    finally:
        await engine.dispose()


def read(turn: str, *, days_ago: int = 0, conversation: str = "conv-1") -> Detected:
    return Detected(
        turn_event_id=turn,
        conversation_id=conversation,
        text=f"message {turn}",
        language="en",
        occurred_at=NOW - timedelta(days=days_ago),
        emotion="anger",
        intent="track_order",
        model_versions={"emotion": "encoder-2026.11.1"},
    )


async def test_a_later_correction_replaces_the_agents_own_and_an_empty_one_withdraws_it(
    table: Table,
) -> None:
    corrections, maria, bob = table.corrections, table.maria, table.bob
    await corrections.save(maria, "customer-1", read("t1"), Labels("joy", ""), NOW)
    await corrections.save(bob, "customer-1", read("t1"), Labels("sadness", ""), NOW)
    later = NOW + timedelta(minutes=1)
    await corrections.save(maria, "customer-1", read("t1"), Labels("frustration", "review"), later)

    assert await corrections.of_agent(maria, ["t1", "t2"]) == {
        "t1": Labels("frustration", "review")
    }
    assert await corrections.of_agent(bob, ["t1"]) == {"t1": Labels("sadness", "")}
    everything = await corrections.since(None)
    assert [(c.labels, c.created_at) for c in everything] == [
        (Labels("sadness", ""), NOW),
        (Labels("frustration", "review"), later),
    ]
    assert everything[1].detected == read("t1") and everything[1].customer_id == "customer-1"
    assert [c.labels for c in await corrections.since(later)] == [Labels("frustration", "review")]

    await corrections.save(maria, "customer-1", read("t1"), Labels("", ""), later)
    assert await corrections.of_agent(maria, ["t1"]) == {}
    assert len(await corrections.since(None)) == 1  # Bob's stays


async def test_a_double_submit_leaves_one_correction(table: Table) -> None:
    save = table.corrections.save
    await asyncio.gather(
        *(save(table.maria, "customer-1", read("t1"), Labels("joy", ""), NOW) for _ in range(4))
    )
    assert len(await table.corrections.since(None)) == 1


async def test_corrections_go_with_the_messages_and_lose_their_emotion_with_its_data(
    table: Table,
) -> None:
    corrections, maria = table.corrections, table.maria
    for turn, days_ago, labels in [
        ("fresh", 1, Labels("joy", "")),
        ("month-old-emotion", 40, Labels("joy", "")),
        ("month-old-both", 40, Labels("joy", "review")),
        ("year-old", 400, Labels("", "review")),
    ]:
        await corrections.save(maria, "customer-1", read(turn, days_ago=days_ago), labels, NOW)
    policy = RetentionPolicy(emotion=timedelta(days=30), messages=timedelta(days=365))

    report = await DeskRetention(table.engine, policy).apply(NOW)

    assert report.corrections_removed == 2
    kept = {c.detected.turn_event_id: c for c in await corrections.since(None)}
    assert kept.keys() == {"fresh", "month-old-both"}
    assert (kept["fresh"].labels, kept["fresh"].detected.emotion) == (Labels("joy", ""), "anger")
    stripped = kept["month-old-both"]
    assert (stripped.labels, stripped.detected.emotion) == (Labels("", "review"), "")


async def test_a_customers_corrections_are_found_and_erased_with_their_other_rows(
    table: Table,
) -> None:
    corrections, maria = table.corrections, table.maria
    await corrections.save(maria, "customer-1", read("t1"), Labels("joy", ""), NOW)
    merged = replace(read("t2"), conversation_id="conv-2")
    await corrections.save(maria, "customer-0", merged, Labels("", "review"), NOW)
    await corrections.save(
        maria, "customer-9", read("t3", conversation="conv-9"), Labels("joy", ""), NOW
    )
    data = CustomerData(table.engine)
    customer = Customer(frozenset({"customer-1", "customer-0"}), frozenset({"conv-1"}))

    found = await data.rows(customer)
    assert sorted(c.turn_event_id for c in found.corrections) == ["t1", "t2"]
    assert found.counts()["corrections"] == 2

    await data.erase(
        customer,
        lambda _rows: AuditEntry(
            at=NOW, actor_id=maria.id, agent_id=maria.id, action="customer erased", changes={}
        ),
    )
    assert [c.detected.turn_event_id for c in await corrections.since(None)] == ["t3"]
