"""The agent desk's store on SQLite and on a real PostgreSQL server: accounts, sessions,
idempotent intake of handoffs, conditional ticket changes (the outbox of their events is
in ``test_agent_desk_outbox.py``), and account management (audited edits, deactivation,
password resets, the last admin)."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import handoff_pb2
from sqlalchemy import text

from services.agent_desk import cli
from services.agent_desk.accounts import AccountRefused, Profile
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Base, Role, Ticket, TicketStatus
from services.agent_desk.security import check_password
from services.agent_desk.store import DeskStore, HandoffOutcome, first_time
from shared.errors import RefusedError
from shared.kafka.codec import new_envelope
from shared.kafka.producer import Publisher

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


async def quiet(_ticket: Ticket, _outbox: Publisher) -> None:
    return None


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


async def test_the_migrations_build_exactly_the_schema_the_models_describe(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


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

    await store.transition(
        first.id,
        event_id=str(uuid.uuid4()),
        allowed={TicketStatus.WAITING},
        holder=None,
        changes={"status": TicketStatus.RESOLVED.value, "assignee_id": agent_id},
        now=NOW,
        announce=quiet,
    )
    second, outcome = await store.record_handoff(handoff(), "support", NOW)
    assert outcome is HandoffOutcome.QUEUED and second.id != first.id
    assert second.repeat_contacts == 1


async def test_only_one_of_two_simultaneous_claims_wins(store: DeskStore) -> None:
    ticket, _ = await store.record_handoff(handoff(), "support", NOW)
    agents = [await add_agent(store, f"agent{i}@example.org") for i in range(2)]
    announced: list[str | None] = []

    async def claim(agent_id: str) -> str:
        async def announce(changed: Ticket, _outbox: Publisher) -> None:
            announced.append(changed.assignee_id)

        try:
            await store.transition(
                ticket.id,
                event_id=str(uuid.uuid4()),
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


async def claimed_by(store: DeskStore, agent_id: str) -> Ticket:
    ticket, _ = await store.record_handoff(handoff(f"web:{uuid.uuid4()}"), "support", NOW)
    claimed = await store.transition(
        ticket.id,
        event_id=str(uuid.uuid4()),
        allowed={TicketStatus.WAITING},
        holder=None,
        changes={"status": TicketStatus.CLAIMED.value, "assignee_id": agent_id, "claimed_at": NOW},
        now=NOW,
        announce=quiet,
    )
    return claimed.ticket


def profile(role: Role = Role.AGENT, **fields: str | tuple[str, ...]) -> Profile:
    values: dict[str, object] = {
        "name": "ann",
        "role": role,
        "team": "support",
        "languages": ("en",),
        "skills": (),
    }
    values.update(fields)
    return Profile(**values)  # type: ignore[arg-type]


async def active_admins(store: DeskStore) -> list[str]:
    return [a.email for a in await store.agents() if a.role == Role.ADMIN and a.active]


async def test_an_edit_is_audited_field_by_field_and_a_move_requeues_the_old_teams_tickets(
    store: DeskStore,
) -> None:
    admin = await add_agent(store, "boss@example.org", Role.ADMIN)
    ann = await add_agent(store, "ann@example.org")
    ticket = await claimed_by(store, ann)
    later = NOW + timedelta(minutes=5)
    moved = profile(
        Role.SUPERVISOR,
        name="Ann B",
        team="billing",
        languages=("en", "fr"),
        skills=("topic:bereavement",),
    )

    change = await store.update_agent(ann, actor_id=admin, now=later, profile=moved)
    assert (change.agent.role, change.agent.team) == ("supervisor", "billing")
    assert [t.id for t in change.requeued] == [ticket.id]
    back = await store.ticket(ticket.id)
    assert (back.status, back.assignee_id, back.claimed_at) == (TicketStatus.WAITING, None, NOW)

    again = await store.update_agent(ann, actor_id=admin, now=later, profile=moved)
    assert again.requeued == []  # nothing changed: nothing recorded either
    edited, *created = await store.audit_trail()
    assert [(e.action, e.actor_id) for e in created] == [("created", None)] * 2
    assert (edited.action, edited.actor_id, edited.agent_id, edited.at) == (
        "edited",
        admin,
        ann,
        later,
    )
    assert edited.changes == {
        "name": ["ann", "Ann B"],
        "role": ["agent", "supervisor"],
        "team": ["support", "billing"],
        "languages": [["en"], ["en", "fr"]],
        "skills": [[], ["topic:bereavement"]],
    }
    assert [e.action for e in await store.audit_trail(admin)] == ["created"]


async def test_deactivation_ends_the_sessions_and_requeues_every_claimed_ticket(
    store: DeskStore,
) -> None:
    ann = await add_agent(store, "ann@example.org")
    tickets = [await claimed_by(store, ann) for _ in range(2)]
    await store.open_session(ann, "h" * 64, "csrf", NOW + timedelta(hours=1), NOW)

    change = await store.update_agent(ann, actor_id=None, now=NOW, active=False)
    assert not change.agent.active
    assert sorted(t.id for t in change.requeued) == sorted(t.id for t in tickets)
    assert {t.status for t in await store.open_tickets("support")} == {TicketStatus.WAITING}
    assert await store.signed_in("h" * 64, NOW) is None

    back = await store.update_agent(ann, actor_id=None, now=NOW, active=True)
    assert back.agent.active and back.requeued == []
    assert await store.signed_in("h" * 64, NOW) is None  # ended, not merely hidden
    trail = await store.audit_trail(ann)
    assert [(e.action, e.changes) for e in trail[:2]] == [
        ("reactivated", {"active": [False, True]}),
        ("deactivated", {"active": [True, False]}),
    ]


async def test_the_last_active_admin_cannot_be_demoted_or_deactivated(store: DeskStore) -> None:
    boss = await add_agent(store, "boss@example.org", Role.ADMIN)
    other = await add_agent(store, "other@example.org", Role.ADMIN)
    await store.update_agent(other, actor_id=boss, now=NOW, active=False)  # boss remains
    with pytest.raises(AccountRefused, match="last active admin"):
        await store.update_agent(boss, actor_id=None, now=NOW, profile=profile())
    with pytest.raises(AccountRefused, match="last active admin"):
        await store.update_agent(boss, actor_id=None, now=NOW, active=False)
    assert await active_admins(store) == ["boss@example.org"]
    assert [e.action for e in await store.audit_trail(boss)] == ["created"]

    await store.update_agent(other, actor_id=boss, now=NOW, active=True)
    await store.update_agent(boss, actor_id=other, now=NOW, profile=profile())
    assert await active_admins(store) == ["other@example.org"]


async def test_a_demotion_waits_for_another_in_flight_and_then_counts_what_it_left(
    store: DeskStore, database_url: str
) -> None:
    first = await add_agent(store, "first@example.org", Role.ADMIN)
    second = await add_agent(store, "second@example.org", Role.ADMIN)
    other = create_engine(database_url)
    try:
        async with other.connect() as elsewhere:
            # Another admin's demotion of ``first``, past its own check, not yet committed.
            await elsewhere.execute(
                text("UPDATE agents SET role = 'agent' WHERE id = :id"), {"id": first}
            )
            demotion = asyncio.create_task(
                store.update_agent(second, actor_id=first, now=NOW, profile=profile())
            )
            await asyncio.sleep(0.5)
            assert not demotion.done()  # it waits instead of counting a stale "first"
            await elsewhere.commit()
        with pytest.raises(AccountRefused, match="last active admin"):
            await demotion
    finally:
        await other.dispose()
    assert await active_admins(store) == ["second@example.org"]


async def test_a_password_reset_replaces_the_hash_and_ends_the_sessions(store: DeskStore) -> None:
    ann = await add_agent(store, "ann@example.org")
    await store.open_session(ann, "h" * 64, "csrf", NOW + timedelta(hours=1), NOW)
    await store.set_password(ann, "$argon2id$new", actor_id=ann, now=NOW)
    stored = await store.agent(ann)
    assert stored is not None and stored.password_hash == "$argon2id$new"
    assert await store.signed_in("h" * 64, NOW) is None
    reset, _created = await store.audit_trail(ann)
    assert (reset.action, reset.actor_id, reset.changes) == ("password reset", ann, {})


def test_the_command_line_sets_a_password_and_refuses_bad_ones(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAPPORT_AGENT_DESK_DATABASE_URL", database_url)

    def run(*argv: str, password: str) -> int:
        return cli.main(list(argv), io.StringIO(password + "\n"), io.StringIO())

    assert run("create-user", "--email", "not-an-email", password="first password!") == 1
    assert run("create-user", "--email", "ann@example.org", password="first password!") == 0
    assert run("create-user", "--email", "ANN@example.org", password="first password!") == 1
    assert run("set-password", "--email", "ann@example.org", password="short") == 1
    assert run("set-password", "--email", "nobody@example.org", password="second password!") == 1
    assert run("set-password", "--email", "ann@example.org", password="second password!") == 0

    async def stored() -> tuple[str, list[tuple[str, str | None]]]:
        engine = create_engine(database_url)
        try:
            store = DeskStore(engine)
            ann = await store.agent_by_email("ann@example.org")
            assert ann is not None
            trail = [(e.action, e.actor_id) for e in await store.audit_trail(ann.id)]
            return ann.password_hash, trail
        finally:
            await engine.dispose()

    password_hash, trail = asyncio.run(stored())
    assert check_password(password_hash, "second password!")
    assert trail == [("password reset", None), ("created", None)]
