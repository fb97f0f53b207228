"""Routing in the agent desk: the store on SQLite and on a real PostgreSQL server
(capacity, availability, load, tiers, each ticket's history, the database's own check
before the desk gives a ticket away), the command line, and the desk as it runs on a
real context service: handoffs join the team their rule names, round-robin skips an
agent at capacity, a waiting ticket goes to an agent who comes online or frees up, and a
ticket nobody in its team can take overflows after the team's wait, in its history.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rapport.events.v1 import agent_pb2, handoff_pb2
from sqlalchemy import delete

from services.agent_desk import cli
from services.agent_desk.accounts import profile_of
from services.agent_desk.database import create_engine
from services.agent_desk.desk import utc_now
from services.agent_desk.live import TeamChanged, TicketChanged
from services.agent_desk.models import (
    Agent,
    Availability,
    HandoffEvent,
    Role,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from services.agent_desk.security import hash_password
from services.agent_desk.store import DeskStore, Note, free_agent
from shared.errors import RefusedError
from tests.integration.test_agent_desk_http import (
    PASSWORD,
    Desk,
    new_action,
    page_token,
    read_until,
    running_desk,
    sample,
    seeded_handoff,
    sign_in,
)
from tests.integration.test_agent_desk_store import (  # noqa: F401
    NOW,
    add_agent,
    database_url,
    handoff,
    store,
)
from tests.integration.test_agent_desk_waiting import FakeClock

pytestmark = pytest.mark.integration

FRENCH: dict[str, Any] = {"language": "fr", "skills": ("language:fr",)}
BEREAVEMENT: dict[str, Any] = {"skills": ("language:en", "topic:bereavement")}
ROUTING = {
    "default_team": "support",
    "teams": {
        "support": {},
        "french": {"assignment": "round_robin"},
        "care": {"assignment": "balanced", "overflow": {"after_seconds": 60, "to": "support"}},
        "vip": {},
    },
    "rules": [
        {"team": "care", "when": {"topic": ["bereavement"]}},
        {"team": "vip", "when": {"tier": ["gold"]}},
        {"team": "french", "when": {"language": ["fr"]}},
    ],
}


# The store, on SQLite and PostgreSQL


async def claim_for(
    db: DeskStore, ticket: Ticket, agent_id: str, where: Sequence[Any] = (), **note: Any
) -> Ticket:
    done = await db.transition(
        ticket.id,
        event_id=str(uuid.uuid4()),
        allowed={TicketStatus.WAITING},
        holder=None,
        changes={"status": TicketStatus.CLAIMED.value, "assignee_id": agent_id},
        now=NOW,
        where=where,
        note=Note(TicketEventKind.ASSIGNED, agent_id=agent_id, **note),
    )
    return done.ticket


async def waiting(db: DeskStore, team: str = "support") -> Ticket:
    ticket, _ = await db.record_handoff(handoff(f"web:{uuid.uuid4()}"), team, NOW, "a rule")
    return ticket


async def test_accounts_start_offline_with_a_capacity_and_load_counts_what_they_hold(
    store: DeskStore,  # noqa: F811
) -> None:
    ann_id = await add_agent(store, "ann@example.org")
    ann = await store.agent(ann_id)
    assert ann is not None
    assert (ann.availability, ann.capacity, ann.availability_since) == ("offline", 3, None)

    online = await store.set_availability(ann_id, Availability.ONLINE, NOW)
    again = await store.set_availability(ann_id, Availability.ONLINE, NOW + timedelta(hours=1))
    assert (online.availability, online.availability_since) == ("online", NOW)
    assert again.availability_since == NOW  # since it became online, not since it was said

    bob = await store.create_agent(
        email="bob@example.org",
        name="Bob",
        password_hash="$argon2id$placeholder",
        role=Role.AGENT,
        team="support",
        languages=["en"],
        skills=[],
        now=NOW,
        capacity=1,
    )
    for holder in (ann_id, ann_id, bob.id):
        await claim_for(store, await waiting(store), holder)
    await waiting(store)  # nobody holds a waiting one
    assert await store.loads() == {ann_id: 2, bob.id: 1}

    changed = await store.update_agent(
        bob.id, actor_id=ann_id, now=NOW, profile=replace(profile_of(bob), capacity=4)
    )
    assert changed.agent.capacity == 4
    edited, created = await store.audit_trail(bob.id)
    assert edited.changes == {"capacity": [1, 4]}
    assert created.changes["capacity"] == [None, 1]


async def test_a_handoff_joins_its_team_with_the_reason_and_each_change_is_in_its_history(
    store: DeskStore,  # noqa: F811
) -> None:
    ann_id = await add_agent(store, "ann@example.org")
    packet = handoff()
    ticket, _ = await store.record_handoff(packet, "french", NOW, "rule 3: language fr")
    assert (ticket.team, ticket.team_since) == ("french", NOW)
    await store.record_handoff(handoff(), "support", NOW, "ignored")  # refreshes: stays put
    assert (await store.ticket(ticket.id)).team == "french"

    await claim_for(store, ticket, ann_id, actor_id=ann_id)
    queued, assigned = await store.history(ticket.id)
    assert (queued.kind, queued.team, queued.detail, queued.actor_id) == (
        "queued",
        "french",
        "rule 3: language fr",
        None,
    )
    assert (assigned.kind, assigned.actor_id, assigned.agent_id, assigned.team) == (
        "assigned",
        ann_id,
        ann_id,
        "french",
    )
    # A person's assignment is not the desk's: round-robin goes on from the desk's own.
    assert await store.last_assigned("french") is None
    other = await waiting(store, "french")
    await claim_for(store, other, ann_id, detail="round robin")
    assert await store.last_assigned("french") == ann_id
    assert await store.last_assigned("support") is None


async def test_the_database_refuses_a_ticket_to_an_agent_offline_full_or_gone(
    store: DeskStore,  # noqa: F811
) -> None:
    ann_id = await add_agent(store, "ann@example.org")
    ann = await store.agent(ann_id)
    assert ann is not None
    first, second = await waiting(store), await waiting(store)
    with pytest.raises(RefusedError):  # offline
        await claim_for(store, first, ann_id, where=[free_agent(ann_id)])
    await store.set_availability(ann_id, Availability.ONLINE, NOW)
    await store.update_agent(
        ann_id, actor_id=None, now=NOW, profile=replace(profile_of(ann), capacity=1)
    )
    claimed = await claim_for(store, first, ann_id, where=[free_agent(ann_id)])
    assert claimed.assignee_id == ann_id
    with pytest.raises(RefusedError):  # at capacity
        await claim_for(store, second, ann_id, where=[free_agent(ann_id)])
    await store.update_agent(ann_id, actor_id=None, now=NOW, active=False)  # requeues first
    with pytest.raises(RefusedError):  # gone
        await claim_for(store, second, ann_id, where=[free_agent(ann_id)])
    assert [t.status for t in await store.open_tickets("support")] == ["waiting", "waiting"]
    *_, requeued = await store.history(first.id)
    assert (requeued.kind, requeued.actor_id, requeued.agent_id, requeued.detail) == (
        "requeued",
        None,
        ann_id,
        "ann was deactivated",
    )


async def test_a_customers_tier_is_set_changed_and_cleared(
    store: DeskStore,  # noqa: F811
) -> None:
    assert await store.tier_of("cust-1") == ""
    await store.set_tier("cust-1", "gold", NOW)
    await store.set_tier("cust-2", "silver", NOW)
    assert await store.tier_of("cust-1") == "gold"
    await store.set_tier("cust-1", "platinum", NOW)
    assert await store.tier_of("cust-1") == "platinum"
    await store.set_tier("cust-1", "", NOW)
    await store.set_tier("cust-3", "", NOW)  # nothing to clear
    assert (await store.tier_of("cust-1"), await store.tier_of("cust-2")) == ("", "silver")


async def test_a_tickets_history_goes_with_it_when_the_ticket_is_removed(
    store: DeskStore,  # noqa: F811
    database_url: str,  # noqa: F811
) -> None:
    """Retention and erasure delete tickets: their history must not hold them back."""
    ticket = await waiting(store)
    kept = await waiting(store)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                delete(HandoffEvent).where(HandoffEvent.ticket_id == ticket.id)
            )
            await connection.execute(delete(Ticket).where(Ticket.id == ticket.id))
    finally:
        await engine.dispose()
    assert await store.history(ticket.id) == []
    assert [e.kind for e in await store.history(kept.id)] == ["queued"]


def test_the_command_line_sets_capacity_availability_and_tiers(
    database_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(yaml.safe_dump(ROUTING))
    monkeypatch.setenv("RAPPORT_AGENT_DESK_DATABASE_URL", database_url)
    monkeypatch.setenv("RAPPORT_AGENT_DESK_ROUTING_FILE", str(routing))

    def run(*argv: str) -> tuple[int, str]:
        code = cli.main(list(argv), io.StringIO(PASSWORD + "\n"), out := io.StringIO())
        return code, out.getvalue() + capsys.readouterr().err

    ann = ("--email", "ann@example.org")
    assert run("create-user", *ann, "--capacity", "0")[1].startswith(
        "error: a capacity is a whole number from 1 to 50"
    )
    assert run("create-user", *ann, "--capacity", "2")[0] == 0
    assert run("set-agent", *ann) == (1, "error: give --capacity, --availability or both\n")
    assert run("set-agent", "--email", "bob@example.org", "--capacity", "2")[0] == 1
    assert run("set-agent", *ann, "--availability", "online", "--capacity", "4") == (
        0,
        "ann@example.org: online, capacity 4\n",
    )
    assert run("set-tier", "--customer-id", "c1", "--tier", "gold") == (
        0,
        "customer c1 is gold now\n",
    )
    code, said = run("set-tier", "--customer-id", "c1", "--tier", "platinum")
    assert code == 0 and "no routing rule names platinum; rules name: gold" in said
    assert run("set-tier", "--customer-id", "c1", "--tier", "Gold!")[1].startswith(
        "error: 'Gold!' is not a tier"
    )
    assert run("set-tier", "--customer-id", "c2", "--tier", "gold")[0] == 0
    assert run("set-tier", "--customer-id", "c1", "--tier", "") == (
        0,
        "customer c1 has no tier now\n",
    )

    async def stored() -> tuple[Agent, list[Any], str, str]:
        engine = create_engine(database_url)
        try:
            desk = DeskStore(engine)
            agent = await desk.agent_by_email("ann@example.org")
            assert agent is not None
            trail = [(e.action, e.actor_id, e.changes) for e in await desk.audit_trail(agent.id)]
            return agent, trail, await desk.tier_of("c1"), await desk.tier_of("c2")
        finally:
            await engine.dispose()

    agent, trail, first, second = asyncio.run(stored())
    assert (agent.availability, agent.capacity) == ("online", 4)
    assert trail[0] == ("edited", None, {"capacity": [2, 4]})  # from the command line
    assert (first, second) == ("", "gold")


# The desk as it runs


@asynccontextmanager
async def routed_desk(tmp_path: Path, clock: Any = utc_now) -> AsyncIterator[Desk]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(yaml.safe_dump(ROUTING))
    async with running_desk(tmp_path, clock, routing_file=routing) as desk:
        yield desk


async def account(
    desk: Desk,
    name: str,
    team: str,
    languages: Sequence[str] = ("en",),
    skills: Sequence[str] = (),
    capacity: int = 2,
    role: Role = Role.AGENT,
    online: bool = True,
) -> Agent:
    email = f"{name}@example.org"
    created = await desk.parts.store.create_agent(
        email=email,
        name=name.title(),
        password_hash=hash_password(PASSWORD, 12),
        role=role,
        team=team,
        languages=languages,
        skills=skills,
        now=datetime.now(UTC),
        capacity=capacity,
    )
    desk.accounts[email] = created.id
    if online:
        return await desk.parts.desk.set_availability(created, Availability.ONLINE)
    return created


async def history(desk: Desk, ticket_id: str) -> list[tuple[str, str | None, str]]:
    """(kind, agent, detail) of each change of the ticket."""
    return [(e.kind, e.agent_id, e.detail) for e in await desk.parts.store.history(ticket_id)]


async def ticket_of(desk: Desk, packet: handoff_pb2.HandoffRequested) -> Ticket:
    return await desk.parts.store.ticket(packet.envelope.event_id)


async def test_round_robin_gives_each_new_ticket_to_the_next_free_agent_skipping_a_full_one(
    tmp_path: Path,
) -> None:
    async with routed_desk(tmp_path) as desk:
        amelie = await account(desk, "amelie", "french", ["fr"], capacity=1)
        bruno = await account(desk, "bruno", "french", ["fr"], capacity=2)
        await account(desk, "claude", "french", ["fr"], online=False)
        before = sample("rapport_desk_assignments_total", mode="round_robin")

        packets = [await seeded_handoff(desk, **FRENCH) for _ in range(4)]
        tickets = [await ticket_of(desk, p) for p in packets]
        assert [t.team for t in tickets] == ["french"] * 4
        # Amélie, Bruno, then Bruno again: Amélie is at her capacity of one, Claude is
        # offline; the fourth waits.
        assert [t.assignee_id for t in tickets] == [amelie.id, bruno.id, bruno.id, None]
        assert tickets[3].status == TicketStatus.WAITING
        claims = [a for a in await desk.actions() if a.kind == agent_pb2.AGENT_ACTION_KIND_CLAIMED]
        assert [(c.envelope.causation_id, c.agent_id, c.agent_name) for c in claims] == [
            (tickets[0].id, amelie.id, "Amelie"),
            (tickets[1].id, bruno.id, "Bruno"),
            (tickets[2].id, bruno.id, "Bruno"),
        ]
        assert await history(desk, tickets[0].id) == [
            ("queued", None, "rule 3: language fr"),
            ("assigned", amelie.id, "round robin"),
        ]
        assert sample("rapport_desk_assignments_total", mode="round_robin") == before + 3

        # Bruno closes one: the waiting ticket is his at once.
        await desk.parts.desk.resolve(bruno, tickets[1].id, new_action())
        waited = await ticket_of(desk, packets[3])
        assert (waited.status, waited.assignee_id) == (TicketStatus.CLAIMED, bruno.id)
        assert waited.claimed_at is not None


async def test_a_ticket_waits_until_an_agent_comes_online_and_the_team_sees_it_live(
    tmp_path: Path,
) -> None:
    async with routed_desk(tmp_path) as desk:
        amelie = await account(desk, "amelie", "french", ["fr"], capacity=1, online=False)
        await account(desk, "fiona", "french", ["fr"], role=Role.SUPERVISOR)
        packet = await seeded_handoff(desk, **FRENCH)
        assert (await ticket_of(desk, packet)).status == TicketStatus.WAITING

        async with desk.browser() as agent, desk.browser("127.0.0.2") as supervisor:
            assert await sign_in(agent, "amelie@example.org") == 303
            assert await sign_in(supervisor, "fiona@example.org") == 303
            token = await page_token(agent)
            async with agent.get("/") as page:
                html = await page.text()
            assert 'id="my-availability">offline<' in html and "0 of 1 conversations" in html
            assert "team french" in html and 'id="workloads"' not in html

            async with supervisor.get("/events") as stream:
                async with agent.post(
                    "/availability", data={"csrf_token": token, "availability": "busy"}
                ) as refused:
                    assert refused.status == 400
                    assert "pick online, away or offline" in await refused.text()
                async with agent.post(
                    "/availability", data={"csrf_token": token, "availability": "online"}
                ) as response:
                    html = await response.text()
                heard = await read_until(stream, b"event: team")
            assert b"data: french" in heard
            assert 'id="my-availability">online<' in html and "1 of 1 conversations" in html
            assert "data-full" in html
            assert packet.envelope.event_id in html[html.index('id="held"') :]
            assert (await ticket_of(desk, packet)).assignee_id == amelie.id

            async with supervisor.get("/queue") as fragment:
                team = await fragment.text()
            table = team[team.index('id="workloads"') :]
            assert "Amelie" in table and "1 / 1" in table and "online" in table
            assert "Admin" not in table  # another team's


async def test_a_ticket_nobody_in_its_team_can_take_moves_to_the_fallback_after_the_wait(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with routed_desk(tmp_path, clock) as desk:
        cleo = await account(desk, "cleo", "care", skills=["topic:bereavement"], capacity=1)
        await desk.parts.desk.set_availability(cleo, Availability.AWAY)
        await account(desk, "dana", "care", online=True)  # online, but without the training
        packet = await seeded_handoff(desk, **BEREAVEMENT)
        ticket = await ticket_of(desk, packet)
        assert (ticket.team, ticket.status) == ("care", TicketStatus.WAITING)
        before = sample("rapport_desk_overflows_total", channel="web")

        clock.now = ticket.team_since + timedelta(seconds=59)
        await desk.parts.desk.sweep()
        assert (await ticket_of(desk, packet)).team == "care"  # not yet

        clock.now = ticket.team_since + timedelta(seconds=60)
        async with desk.parts.live.subscribe() as changes:
            await desk.parts.desk.sweep()
            heard = [changes.get_nowait() for _ in range(changes.qsize())]
        moved = await ticket_of(desk, packet)
        assert (moved.team, moved.team_since, moved.status) == (
            "support",
            clock.now,
            TicketStatus.WAITING,
        )
        told = [(c.ticket_id, c.team) for c in heard if isinstance(c, TicketChanged)]
        assert (ticket.id, "care") in told and (ticket.id, "support") in told
        assert not any(isinstance(c, TeamChanged) for c in heard)
        assert await history(desk, ticket.id) == [
            ("queued", None, "rule 1: topic bereavement"),
            ("overflowed", None, "nobody in care was free to take it within 60 seconds"),
        ]
        assert sample("rapport_desk_overflows_total", channel="web") == before + 1
        await desk.parts.desk.sweep()  # support has no fallback: it stays
        assert (await ticket_of(desk, packet)).team == "support"

        # Had Cleo been free, the ticket would have been hers, and stayed in care.
        await desk.parts.desk.set_availability(cleo, Availability.ONLINE)
        kept = await seeded_handoff(desk, **BEREAVEMENT)
        clock.advance(120)
        await desk.parts.desk.sweep()
        assert ((await ticket_of(desk, kept)).team, (await ticket_of(desk, kept)).assignee_id) == (
            "care",
            cleo.id,
        )

        async with desk.browser() as supervisor:
            assert await sign_in(supervisor, "sue@example.org") == 303
            async with supervisor.get("/") as queue:
                html = await queue.text()
            row = html[html.index(f'data-ticket="{ticket.id}"') :]
            assert "team support" in row[: row.index("</li>")]
            async with supervisor.get(f"/conversations/{ticket.id}") as page:
                conversation = await page.text()
        assert "team support" in conversation
        assert "Queued for team care (rule 1: topic bereavement)" in conversation
        assert (
            "Moved from team care to support: nobody in care was free to take it within "
            "60 seconds" in conversation
        )


async def test_a_customers_tier_routes_their_next_handoff(tmp_path: Path) -> None:
    async with routed_desk(tmp_path) as desk:
        first = await seeded_handoff(desk)
        ticket = await ticket_of(desk, first)
        assert ticket.team == "support"
        assert await history(desk, ticket.id) == [
            ("queued", None, "no rule matched: the default team")
        ]
        await desk.parts.store.set_tier(ticket.customer_id, "gold", datetime.now(UTC))

        maria = await desk.parts.store.agent(desk.accounts["maria@example.org"])
        assert maria is not None
        await desk.parts.desk.claim(maria, ticket.id, new_action())
        await desk.parts.desk.resolve(maria, ticket.id, new_action())
        again = handoff_pb2.HandoffRequested()
        again.CopyFrom(first)
        again.envelope.event_id = str(uuid.uuid4())
        await desk.parts.desk(again)
        second = await ticket_of(desk, again)
        assert (second.team, second.id != ticket.id) == ("vip", True)
        assert [(k, a) for k, a, _ in await history(desk, ticket.id)] == [
            ("queued", None),
            ("claimed", maria.id),
            ("resolved", None),
        ]
        resolved = (await desk.parts.store.history(ticket.id))[-1]
        assert isinstance(resolved, TicketEvent) and resolved.actor_id == maria.id


async def test_an_admin_sets_an_agents_capacity_on_the_account_page_and_it_is_audited(
    tmp_path: Path,
) -> None:
    async with routed_desk(tmp_path) as desk:
        bob_id = desk.accounts["bob@example.org"]
        form = {"name": "Bob", "role": "agent", "team": "support", "languages": "en"}
        async with desk.browser() as admin:
            assert await sign_in(admin, "admin@example.org") == 303
            token = await page_token(admin, f"/admin/users/{bob_id}")
            async with admin.post(
                f"/admin/users/{bob_id}", data={"csrf_token": token, **form, "capacity": "0"}
            ) as refused:
                assert refused.status == 400
                assert "a capacity is a whole number from 1 to 50" in await refused.text()
            async with admin.post(
                f"/admin/users/{bob_id}", data={"csrf_token": token, **form, "capacity": "5"}
            ) as saved:
                assert saved.status == 200
            async with admin.get(f"/admin/users/{bob_id}") as page:
                edit_page = await page.text()
        bob = await desk.parts.store.agent(bob_id)
        assert bob is not None and bob.capacity == 5
        assert 'name="capacity" type="number" min="1" max="50" required value="5"' in edit_page
        assert "capacity: 3 → 5" in edit_page
