"""The agent desk's outbox on SQLite and on a real PostgreSQL server, relayed to a real
Kafka broker: an action's event is written with the ticket's change and published only
after the commit; the same action twice is one event; a failed transaction publishes
nothing; what a crashed run left unsent goes out when the relay starts again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import agent_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Ticket, TicketStatus
from services.agent_desk.outbox import Outbox, OutboxRelay
from services.agent_desk.store import DeskStore
from shared.errors import DependencyUnavailableError
from shared.kafka.codec import EVENT_ID_HEADER, new_envelope
from shared.kafka.producer import EventPublisher, Publisher
from tests.integration.test_agent_desk_store import NOW, database_url, handoff  # noqa: F401
from tests.kafka_helpers import create_private_topic, read_until

pytestmark = pytest.mark.integration


@dataclass
class Recorded:
    """A publisher that keeps what it was given (the broker's side is tested below)."""

    events: list[tuple[str, Message]] = field(default_factory=list)

    async def publish(self, topic: str, event: Message) -> None:
        self.events.append((topic, event))


class Crash(BaseException):
    """The process dying: not an error anything in the desk catches."""


@dataclass
class CrashAfter:
    """Publishes for real, then dies once ``survives`` events reached the broker: the
    last one is on Kafka but the outbox never heard it was."""

    publisher: Publisher
    survives: int

    async def publish(self, topic: str, event: Message) -> None:
        await self.publisher.publish(topic, event)
        self.survives -= 1
        if self.survives < 0:
            raise Crash


@dataclass
class Desk:
    engine: AsyncEngine
    store: DeskStore
    ready: asyncio.Event

    def relay(self, publisher: Publisher) -> OutboxRelay:
        return OutboxRelay(
            Outbox(self.engine),
            publisher,
            ready=self.ready,
            poll_seconds=0.2,
            retention=timedelta(days=7),
            clock=lambda: NOW,
        )


@pytest.fixture
async def desk(database_url: str) -> AsyncIterator[Desk]:  # noqa: F811
    engine = create_engine(database_url)
    await migrate(engine)
    ready = asyncio.Event()
    try:
        yield Desk(engine, DeskStore(engine, ready), ready)
    finally:
        await engine.dispose()


def action(ticket: Ticket, event_id: str, text: str = "") -> agent_pb2.AgentActionTaken:
    return agent_pb2.AgentActionTaken(
        envelope=new_envelope(
            event_id=event_id,
            conversation_id=ticket.conversation_id,
            channel=envelope_pb2.CHANNEL_WEB,
            causation_id=ticket.id,
        ),
        kind=agent_pb2.AGENT_ACTION_KIND_REPLIED,
        agent_id="agent-1",
        agent_name="Ann",
        text=text,
    )


async def waiting_ticket(store: DeskStore) -> Ticket:
    ticket, _ = await store.record_handoff(handoff(f"web:{uuid.uuid4()}"), "support", NOW)
    return ticket


async def touch(
    store: DeskStore, ticket: Ticket, event_id: str, topic: str, text: str = ""
) -> bool:
    """An action on a waiting ticket announcing itself on ``topic``; True when applied."""

    async def announce(changed: Ticket, outbox: Publisher) -> None:
        await outbox.publish(topic, action(changed, event_id, text))

    done = await store.transition(
        ticket.id,
        event_id=event_id,
        allowed={TicketStatus.WAITING},
        holder=None,
        changes={"priority": Ticket.priority + 0.1},
        now=NOW,
        announce=announce,
    )
    return done.applied


async def test_the_same_action_twice_is_one_event_with_its_id(desk: Desk) -> None:
    ticket = await waiting_ticket(desk.store)
    event_id = str(uuid.uuid4())
    together = await asyncio.gather(*(touch(desk.store, ticket, event_id, "t") for _ in range(3)))
    again = await touch(desk.store, ticket, event_id, "t")  # a retried request, later
    assert sorted(together) == [False, False, True] and again is False
    stored = await desk.store.ticket(ticket.id)
    assert stored.priority == pytest.approx(ticket.priority + 0.1)  # changed once

    published = Recorded()
    assert await desk.relay(published).publish_pending() == 1
    [(topic, event)] = published.events
    assert isinstance(event, agent_pb2.AgentActionTaken)
    assert (topic, event.envelope.event_id) == ("t", event_id)
    assert await touch(desk.store, ticket, event_id, "t") is False  # sent, still known


async def test_a_transaction_that_fails_before_its_commit_publishes_nothing(desk: Desk) -> None:
    ticket = await waiting_ticket(desk.store)

    async def context_down(changed: Ticket, outbox: Publisher) -> None:
        await outbox.publish("t", action(changed, str(uuid.uuid4())))
        raise DependencyUnavailableError("the context service did not answer")

    with pytest.raises(DependencyUnavailableError):
        await desk.store.transition(
            ticket.id,
            event_id=str(uuid.uuid4()),
            allowed={TicketStatus.WAITING},
            holder=None,
            changes={"status": TicketStatus.CLAIMED.value},
            now=NOW,
            announce=context_down,
        )
    assert (await desk.store.ticket(ticket.id)).status == TicketStatus.WAITING
    published = Recorded()
    assert await desk.relay(published).publish_pending() == 0
    assert published.events == [] and not desk.ready.is_set()


async def test_the_relay_publishes_to_kafka_only_after_the_commit(
    desk: Desk, kafka_bootstrap: str
) -> None:
    topic = await create_private_topic(kafka_bootstrap)
    ticket = await waiting_ticket(desk.store)
    event_id = str(uuid.uuid4())
    staged, release = asyncio.Event(), asyncio.Event()

    async def announce_then_wait(changed: Ticket, outbox: Publisher) -> None:
        await outbox.publish(topic, action(changed, event_id, "Hello"))
        staged.set()
        await release.wait()  # the transaction stays open

    stop = asyncio.Event()
    async with EventPublisher(kafka_bootstrap, "desk-outbox-test") as publisher:
        relay = desk.relay(publisher)
        running = asyncio.create_task(relay.run(stop))
        change = asyncio.create_task(
            desk.store.transition(
                ticket.id,
                event_id=event_id,
                allowed={TicketStatus.WAITING},
                holder=None,
                changes={"priority": 0.9},
                now=NOW,
                announce=announce_then_wait,
            )
        )
        await staged.wait()
        assert await relay.publish_pending() == 0  # written, not committed: invisible
        release.set()
        await change
        [record] = await read_until(kafka_bootstrap, topic, lambda _r: True)
        stop.set()
        await running
    assert dict(record.headers)[EVENT_ID_HEADER] == event_id.encode()
    assert agent_pb2.AgentActionTaken.FromString(record.value).text == "Hello"
    assert await Outbox(desk.engine).pending() == 0


async def test_what_a_crashed_relay_left_is_published_when_it_starts_again(
    desk: Desk,
    kafka_bootstrap: str,
    database_url: str,  # noqa: F811
) -> None:
    topic = await create_private_topic(kafka_bootstrap, partitions=1)
    ticket = await waiting_ticket(desk.store)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for number, event_id in enumerate(ids):
        assert await touch(desk.store, ticket, event_id, topic, text=f"reply {number}")

    async with EventPublisher(kafka_bootstrap, "desk-outbox-test") as publisher:
        with pytest.raises(Crash):  # dies after the broker took the first, before marking it
            await desk.relay(CrashAfter(publisher, survives=0)).publish_pending()
    assert await Outbox(desk.engine).pending() == 3

    restarted = create_engine(database_url)  # a new process: nothing shared but the tables
    stop = asyncio.Event()
    try:
        async with EventPublisher(kafka_bootstrap, "desk-outbox-test") as publisher:
            relay = OutboxRelay(
                Outbox(restarted),
                publisher,
                ready=asyncio.Event(),
                poll_seconds=60,  # what it sends, it sends on starting
                retention=timedelta(days=7),
            )
            running = asyncio.create_task(relay.run(stop))
            records = await read_until(kafka_bootstrap, topic, lambda _r: True, count=4)
            stop.set()
            await running
        assert await Outbox(restarted).pending() == 0
    finally:
        await restarted.dispose()
    published = [dict(r.headers)[EVENT_ID_HEADER].decode() for r in records]
    assert published == [ids[0], *ids]  # the first one again, same id: consumers drop it
    texts = [agent_pb2.AgentActionTaken.FromString(r.value).text for r in records]
    assert texts == ["reply 0", "reply 0", "reply 1", "reply 2"]
