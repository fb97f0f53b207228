"""Care for agents in the desk: each ticket keeps how upset its customer was at handoff
(the store on SQLite and on a real PostgreSQL server, and the retention clearing it with
the rest of the emotion data), each agent's recent conversations are read from the
tickets' history, and the desk as it runs on a real context service spreads a run of
furious customers between two free agents by what each carried, keeps the mode's order
for calm ones, and shows every agent their recent load with a pause suggested after a
run of hard conversations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from rapport.events.v1 import handoff_pb2

from services.agent_desk.database import create_engine
from services.agent_desk.load import Taken
from services.agent_desk.models import Agent, Availability, Role, TicketEventKind, TicketStatus
from services.agent_desk.retention import DeskRetention, RetentionPolicy
from services.agent_desk.store import DeskStore, Note
from tests.integration.test_agent_desk_http import (
    Desk,
    new_action,
    running_desk,
    seeded_handoff,
    sign_in,
)
from tests.integration.test_agent_desk_routing import account, claim_for, waiting
from tests.integration.test_agent_desk_store import (  # noqa: F401
    NOW,
    add_agent,
    database_url,
    handoff,
    store,
)
from tests.integration.test_agent_desk_waiting import FakeClock

pytestmark = pytest.mark.integration

FURIOUS, CALM = 0.8, 0.1


def feeling(emotion: str, intensity: float) -> handoff_pb2.EmotionReading:
    return handoff_pb2.EmotionReading(dominant_emotion=emotion, intensity=intensity)


# The store, on SQLite and PostgreSQL


async def test_a_ticket_keeps_its_customers_intensity_from_the_latest_handoff(
    store: DeskStore,  # noqa: F811
) -> None:
    first = handoff("web:upset")
    first.trajectory.extend([feeling("frustration", 0.3), feeling("anger", FURIOUS)])
    ticket, _ = await store.record_handoff(first, "support", NOW)
    assert (await store.ticket(ticket.id)).emotional_intensity == FURIOUS

    calmer = handoff("web:upset")  # a new handoff refreshes the open ticket
    calmer.trajectory.append(feeling("confusion", 0.5))
    await store.record_handoff(calmer, "support", NOW)
    assert (await store.ticket(ticket.id)).emotional_intensity == 0.0

    opted_out, _ = await store.record_handoff(handoff("web:private"), "support", NOW)
    assert opted_out.emotional_intensity is None  # no readings: nothing known


async def test_an_agents_recent_conversations_come_from_the_tickets_history(
    store: DeskStore,  # noqa: F811
) -> None:
    ann_id = await add_agent(store, "ann@example.org")
    bob_id = await add_agent(store, "bob@example.org")
    hard = handoff("web:hard")
    hard.trajectory.append(feeling("anger", FURIOUS))
    furious, _ = await store.record_handoff(hard, "support", NOW)
    calm = await waiting(store)  # its trajectory is empty: unknown
    old = await waiting(store)

    await claim_for(store, furious, ann_id)
    await claim_for(store, calm, ann_id)
    await claim_for(store, old, bob_id)
    # Handed on to Bob later, then back to Ann: Ann's once, at the latest.
    later = NOW + timedelta(minutes=5)
    for kind, to in ((TicketEventKind.TRANSFERRED, bob_id), (TicketEventKind.ASSIGNED, ann_id)):
        await store.transition(
            furious.id,
            event_id=f"{kind.value}-{to}",
            allowed={TicketStatus.CLAIMED},
            holder=None,
            changes={"assignee_id": to},
            now=later,
            note=Note(kind, actor_id=ann_id, agent_id=to),
        )
        later += timedelta(minutes=5)

    taken = await store.taken_since([ann_id, bob_id], NOW)
    assert sorted(taken[ann_id], key=lambda t: t.at) == [
        Taken(NOW, None),
        Taken(NOW + timedelta(minutes=10), FURIOUS),
    ]
    assert sorted(taken[bob_id], key=lambda t: t.at) == [
        Taken(NOW, None),
        Taken(NOW + timedelta(minutes=5), FURIOUS),
    ]
    assert await store.taken_since([ann_id], NOW + timedelta(minutes=1)) == {
        ann_id: [Taken(NOW + timedelta(minutes=10), FURIOUS)]
    }
    assert await store.taken_since([], NOW) == {}


async def test_the_retention_clears_a_tickets_intensity_with_its_emotion_data(
    store: DeskStore,  # noqa: F811
    database_url: str,  # noqa: F811
) -> None:
    hard = handoff("web:hard")
    hard.trajectory.append(feeling("anger", FURIOUS))
    ticket, _ = await store.record_handoff(hard, "support", NOW)
    engine = create_engine(database_url)
    try:
        retention = DeskRetention(
            engine, RetentionPolicy(emotion=timedelta(days=30), messages=timedelta(days=365))
        )
        await retention.apply(NOW + timedelta(days=29))
        assert (await store.ticket(ticket.id)).emotional_intensity == FURIOUS
        report = await retention.apply(NOW + timedelta(days=31))
    finally:
        await engine.dispose()
    assert report.emotion_removed == 1
    assert (await store.ticket(ticket.id)).emotional_intensity is None


# The desk as it runs

ROUTING = {
    "default_team": "support",
    "teams": {"support": {}, "french": {"assignment": "balanced"}},
    "rules": [{"team": "french", "when": {"language": ["fr"]}}],
}


@asynccontextmanager
async def care_desk(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Desk]:
    routing = tmp_path / "routing.yaml"
    routing.write_text(yaml.safe_dump(ROUTING))
    async with running_desk(tmp_path, clock, routing_file=routing) as desk:
        yield desk


async def customer(desk: Desk, intensity: float) -> str:
    """A French customer, angry at ``intensity``, handed off now: their ticket's id."""
    packet = await seeded_handoff(
        desk, language="fr", skills=("language:fr",), trajectory=[feeling("anger", intensity)]
    )
    return packet.envelope.event_id


async def run_of(
    desk: Desk, clock: FakeClock, intensity: float, agents: dict[str, Agent], count: int = 4
) -> list[str]:
    """``count`` customers one after another, a minute apart, each closed by the agent
    given it before the next: who was given each (by name)."""
    names = {a.id: name for name, a in agents.items()}
    given: list[str] = []
    for _ in range(count):
        clock.advance(60)
        ticket = await desk.parts.store.ticket(await customer(desk, intensity))
        assert ticket.emotional_intensity == intensity and ticket.assignee_id is not None
        given.append(names[ticket.assignee_id])
        await desk.parts.desk.resolve(agents[given[-1]], ticket.id, new_action())
    return given


async def french_pair(desk: Desk) -> dict[str, Agent]:
    """Amélie holding a long, calm conversation; Bruno free of any."""
    agents = {
        name: await account(desk, name, "french", ["fr"], capacity=3)
        for name in ("amelie", "bruno")
    }
    held = await desk.parts.store.ticket(await customer(desk, CALM))
    assert held.assignee_id == agents["amelie"].id  # balanced, the first in turn
    return agents


async def test_two_free_agents_alternate_by_load_on_a_run_of_furious_customers(
    tmp_path: Path,
) -> None:
    """Balanced alone gives Bruno (holding nothing) the whole run; weighed by what each
    carried lately, the two take turns."""
    clock = FakeClock(datetime.now(UTC))
    async with care_desk(tmp_path, clock) as desk:
        agents = await french_pair(desk)
        assert await run_of(desk, clock, FURIOUS, agents) == [
            "bruno",
            "amelie",
            "bruno",
            "amelie",
        ]


async def test_calm_customers_keep_the_modes_order_whoever_carried_more(tmp_path: Path) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with care_desk(tmp_path, clock) as desk:
        agents = await french_pair(desk)
        assert await run_of(desk, clock, FURIOUS, agents, count=1) == ["bruno"]
        # Bruno carried a furious customer, Amélie nothing hard; balanced still gives
        # Bruno (holding nothing) every calm one.
        assert await run_of(desk, clock, CALM, agents) == ["bruno"] * 4


async def queue_page(desk: Desk, name: str) -> str:
    async with desk.browser() as browser:
        assert await sign_in(browser, f"{name}@example.org") == 303
        async with browser.get("/") as page:
            return await page.text()


async def test_each_agent_sees_their_recent_load_and_a_pause_is_suggested_after_a_run(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with care_desk(tmp_path, clock) as desk:
        agents = await french_pair(desk)
        await account(desk, "fiona", "french", ["fr"], role=Role.SUPERVISOR)
        await run_of(desk, clock, FURIOUS, agents)  # two each
        await desk.parts.desk.set_availability(agents["amelie"], Availability.AWAY)
        assert await run_of(desk, clock, FURIOUS, agents, count=1) == ["bruno"]

        # Amélie: the calm one she holds and two furious ones; Bruno: three furious in a
        # row, and a word about a pause.
        amelie = await queue_page(desk, "amelie")
        assert "Your last 3 hours: 3 conversations, 2 hard" in amelie
        assert 'id="pause-suggestion"' not in amelie
        bruno = await queue_page(desk, "bruno")
        assert "Your last 3 hours: 3 conversations, 3 hard" in bruno
        assert 'id="pause-suggestion"' in bruno
        supervisor = await queue_page(desk, "fiona")
        table = supervisor[supervisor.index('id="workloads"') :]
        rows = {
            name: table[table.index(f'data-agent="{agents[name].id}"') :].split("</tr>")[0]
            for name in agents
        }
        assert "3 conversations, 2 hard" in rows["amelie"] and "data-run" not in rows["amelie"]
        assert "3 conversations, 3 hard" in rows["bruno"] and "data-run" in rows["bruno"]
        assert "Last 3 hours" in table

        # Away for a while, then back: the pause was taken, the suggestion goes.
        await desk.parts.desk.set_availability(agents["bruno"], Availability.AWAY)
        clock.advance(600)
        await desk.parts.desk.set_availability(agents["bruno"], Availability.ONLINE)
        rested = await queue_page(desk, "bruno")
        assert "Your last 3 hours: 3 conversations, 3 hard" in rested
        assert 'id="pause-suggestion"' not in rested

        clock.advance(3 * 3600)  # the window has passed
        assert "Your last 3 hours: 0 conversations, 0 hard" in await queue_page(desk, "bruno")
