"""The agent desk's store on SQLite and on a real PostgreSQL server: accounts, sessions,
idempotent intake of handoffs, and conditional ticket changes that publish atomically."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import handoff_pb2

from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Role, Ticket, TicketStatus
from services.agent_desk.store import DeskStore, HandoffOutcome, first_time
from shared.errors import DependencyUnavailableError, RefusedError
from shared.kafka.codec import new_envelope

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test runs on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[DeskStore]:
    engine = create_engine(database_url)
    await migrate(engine)
    await migrate(engine)  # a second run is a no-op
    try:
        yield DeskStore(engine)
    finally:
        await engine.dispose()


def handoff(
    conversation_id: str = "web:c1", customer_id: str = "cust-1", priority: float = 0.5
) -> handoff_pb2.HandoffRequested:
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer_id,
                channel=envelope_pb2.CHANNEL_WEB,
                address="v1",
                display_name="Ann",
            ),
        ),
        reasons=[handoff_pb2.DecisionReason(code="human_requested", confidence=1.0)],
        priority=priority,
        language="en",
        required_skills=["language:en"],
    )
    packet.envelope.occurred_at.FromDatetime(NOW)
    return packet


async def add_agent(store: DeskStore, email: str, role: Role = Role.AGENT) -> str:
    agent = await store.create_agent(
        email=email,
        name=email.split("@")[0],
        password_hash="$argon2id$placeholder",
        role=role,
        team="support",
        languages=["en"],
        skills=[],
        now=NOW,
    )
    return agent.id


async def test_accounts_are_unique_by_email_and_sessions_expire(store: DeskStore) -> None:
    agent_id = await add_agent(store, "Ann@Example.org")
    with pytest.raises(RefusedError):
        await add_agent(store, "ann@example.org")
    found = await store.agent_by_email(" ANN@example.org ")
    assert found is not None and found.id == agent_id and found.languages == ["en"]

    await store.open_session(agent_id, "h" * 64, "csrf", NOW + timedelta(hours=1), NOW)
    signed = await store.signed_in("h" * 64, NOW)
    assert signed is not None and signed.agent.id == agent_id and signed.csrf_token == "csrf"
    assert await store.signed_in("h" * 64, NOW + timedelta(hours=2)) is None  # expired
    assert await store.signed_in("x" * 64, NOW) is None
    await store.close_session("h" * 64)
    assert await store.signed_in("h" * 64, NOW) is None


async def test_a_handoff_is_queued_once_and_a_new_one_refreshes_the_open_ticket(
    store: DeskStore,
) -> None:
    first = handoff(priority=0.4)
    ticket, outcome = await store.record_handoff(first, "support", NOW)
    assert outcome is HandoffOutcome.QUEUED
    assert (ticket.id, ticket.status, ticket.customer_name) == (
        first.envelope.event_id,
        TicketStatus.WAITING,
        "Ann",
    )
    assert ticket.handed_off_at == NOW and ticket.repeat_contacts == 0

    again, outcome = await store.record_handoff(first, "support", NOW + timedelta(seconds=5))
    assert outcome is HandoffOutcome.DUPLICATE and again.id == ticket.id

    later, outcome = await store.record_handoff(handoff(priority=0.9), "support", NOW)
    assert outcome is HandoffOutcome.REFRESHED and later.id == ticket.id
    [open_ticket] = await store.open_tickets("support")
    assert open_ticket.priority == pytest.approx(0.9)
    assert await store.open_tickets("billing") == []


async def test_repeat_contacts_count_earlier_tickets_of_the_customer(store: DeskStore) -> None:
    first, _ = await store.record_handoff(handoff(), "support", NOW)
    agent_id = await add_agent(store, "ann@example.org")

    async def announce(_ticket: Ticket) -> None:
        return None

    await store.transition(
        first.id,
        allowed={TicketStatus.WAITING},
        holder=None,
        changes={"status": TicketStatus.RESOLVED.value, "assignee_id": agent_id},
        now=NOW,
        announce=announce,
    )
    second, outcome = await store.record_handoff(handoff(), "support", NOW)
    assert outcome is HandoffOutcome.QUEUED and second.id != first.id
    assert second.repeat_contacts == 1


async def test_only_one_of_two_simultaneous_claims_wins(store: DeskStore) -> None:
    ticket, _ = await store.record_handoff(handoff(), "support", NOW)
    agents = [await add_agent(store, f"agent{i}@example.org") for i in range(2)]
    announced: list[str | None] = []

    async def claim(agent_id: str) -> str:
        async def announce(changed: Ticket) -> None:
            announced.append(changed.assignee_id)

        try:
            await store.transition(
                ticket.id,
                allowed={TicketStatus.WAITING},
                holder=None,
                changes={
                    "status": TicketStatus.CLAIMED.value,
                    "assignee_id": agent_id,
                    "claimed_at": first_time(Ticket.claimed_at, NOW),
                },
                now=NOW,
                announce=announce,
            )
        except RefusedError:
            return "refused"
        return "won"

    outcomes = await asyncio.gather(*(claim(a) for a in agents))
    assert sorted(outcomes) == ["refused", "won"]
    stored = await store.ticket(ticket.id)
    assert announced == [stored.assignee_id]
    assert stored.status == TicketStatus.CLAIMED and stored.claimed_at == NOW


async def test_a_change_whose_event_cannot_be_published_is_not_kept(store: DeskStore) -> None:
    ticket, _ = await store.record_handoff(handoff(str(uuid.uuid4())), "support", NOW)
    agent_id = await add_agent(store, "ann@example.org")

    async def broker_down(_ticket: Ticket) -> None:
        raise DependencyUnavailableError("Kafka did not answer")

    with pytest.raises(DependencyUnavailableError):
        await store.transition(
            ticket.id,
            allowed={TicketStatus.WAITING},
            holder=None,
            changes={"status": TicketStatus.CLAIMED.value, "assignee_id": agent_id},
            now=NOW,
            announce=broker_down,
        )
    unchanged = await store.ticket(ticket.id)
    assert unchanged.status == TicketStatus.WAITING and unchanged.assignee_id is None
