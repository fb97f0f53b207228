"""The empathy map's figures against the raw turns, over real gRPC, on SQLite and on a
real PostgreSQL server.

A seeded fortnight of customer turns (several channels and journey stages, an opted-out
customer, a repeat, a turn outside the period) is appended as the orchestrator appends
them; the map the desk reads (``GetEmpathyMap``, from running totals) must equal the same
figures counted here from ``ListTurns``, for every channel and for each one, before the
counted turns are folded into the totals, after, and with some of each. A cell's
drill-down lists exactly the conversations whose turns are in it. Retention removing the
emotion readings leaves the totals (they hold nothing about anyone) and empties drill-downs.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc
from sqlalchemy import Connection, inspect

from services.context.__main__ import ContextParts, build
from services.context.config import ContextSettings
from services.context.database import MIGRATIONS, create_engine, migrate
from services.context.models import Base
from shared.errors import InvalidInputError
from shared.grpc.context_client import ContextClient
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

CONTEXT = pb.DESCRIPTOR.services_by_name["ContextService"].full_name
WEB, SMS, ANY = envelope_pb2.CHANNEL_WEB, envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_UNSPECIFIED
FIRST_DAY = date(2026, 11, 2)
LAST_DAY = FIRST_DAY + timedelta(days=13)
START = datetime(2026, 11, 2, 9, tzinfo=UTC)
Figures = dict[tuple[str, int, str], tuple[int, float, float]]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'context.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@pytest.fixture
async def parts(database_url: str) -> AsyncIterator[ContextParts]:
    """A context service's parts, on a migrated database."""
    engine = create_engine(database_url)
    await migrate(engine)
    settings = ContextSettings(metrics_port=0, grpc_port=0, database_url=database_url)
    built = build(settings, engine)
    try:
        yield built
    finally:
        await built.store.close()
        await engine.dispose()


@pytest.fixture
async def channel(parts: ContextParts) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to the service's gRPC server."""
    async with (
        running(
            lambda s: pb_grpc.add_ContextServiceServicer_to_server(parts.servicer, s), CONTEXT
        ) as address,
        grpc.aio.insecure_channel(address) as opened,
    ):
        yield opened


@pytest.fixture
def context(channel: grpc.aio.Channel) -> ContextClient:
    """The client the orchestrator and the desk call the service with."""
    return ContextClient(channel, deadline_seconds=10)


Retention = Callable[[datetime], Awaitable[int]]


@pytest.fixture
def retention(channel: grpc.aio.Channel) -> Retention:
    """Runs the retention policy as of a given moment (an operator's call, which the
    shared client does not make): how many emotion readings it removed."""
    stub = pb_grpc.ContextServiceStub(channel)

    async def run(now: datetime) -> int:
        report = await stub.RunRetention(pb.RunRetentionRequest(now=stamp(now)), timeout=10)
        return int(report.emotion_readings_removed)

    return run


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


@dataclass
class Conversation:
    """One seeded conversation, appended turn by turn as the orchestrator would."""

    client: ContextClient
    customer_id: str
    channel: envelope_pb2.Channel
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or str(uuid.uuid4())

    async def customer_says(
        self,
        at: datetime,
        text: str,
        intent: str,
        emotion: tuple[str, float, float] | None,
        event_id: str = "",
    ) -> None:
        turn = pb.Turn(
            event_id=event_id or str(uuid.uuid4()),
            conversation_id=self.id,
            role=pb.ROLE_CUSTOMER,
            text=text,
            channel=self.channel,
            occurred_at=stamp(at),
            intent=intent,
        )
        if emotion is not None:
            name, intensity, sentiment = emotion
            turn.emotion.CopyFrom(
                pb.EmotionSnapshot(
                    dominant_emotion=name, intensity=intensity, sentiment_score=sentiment
                )
            )
        await self.client.append_turn(self.customer_id, turn)

    async def bot_says(self, at: datetime, text: str) -> None:
        turn = pb.Turn(
            event_id=str(uuid.uuid4()),
            conversation_id=self.id,
            role=pb.ROLE_BOT,
            text=text,
            channel=self.channel,
            occurred_at=stamp(at),
        )
        await self.client.append_turn(self.customer_id, turn)

    async def becomes(self, state: pb.ConversationState, assignee: str = "") -> None:
        await self.client.set_conversation_state(self.id, state, assignee)


async def customer(client: ContextClient, channel: envelope_pb2.Channel, address: str) -> str:
    found = await client.resolve_customer(channel, address, "", stamp(START))
    return found.customer_id


ANGRY, FURIOUS = ("anger", 0.7, -0.6), ("anger", 0.9, -0.8)
SAD, GLAD = ("sadness", 0.4, -0.3), ("gratitude", 0.6, 0.7)


async def seed(client: ContextClient) -> dict[str, Conversation]:
    """A fortnight of conversations; returns them by name."""
    ann = await customer(client, WEB, "ann-handle")
    bob = await customer(client, WEB, "bob-handle")
    cat = await customer(client, SMS, "+447911123456")
    dan = await customer(client, WEB, "dan-handle")
    await client.update_consent(dan, "test", emotion_analysis_allowed=False)
    day = timedelta(days=1)

    a = Conversation(client, ann, WEB)
    await a.customer_says(START, "where is my parcel", "delivery", ANGRY)
    await a.bot_says(START + timedelta(seconds=1), "It left on Monday.")
    await a.customer_says(START + timedelta(minutes=1), "still nothing", "delivery", FURIOUS)
    await a.becomes(pb.CONVERSATION_STATE_WAITING_FOR_AGENT)
    repeated = str(uuid.uuid4())
    for _ in range(2):  # a redelivered message counts once
        await a.customer_says(
            START + timedelta(minutes=2), "hello??", "delivery", FURIOUS, event_id=repeated
        )
    await a.customer_says(START + timedelta(minutes=3), "📦", "delivery", None)  # not read
    await a.becomes(pb.CONVERSATION_STATE_WITH_AGENT, "agent-1")
    await a.customer_says(START + timedelta(minutes=5), "thank you", "thanks", GLAD)
    await a.becomes(pb.CONVERSATION_STATE_RATING_REQUESTED, "agent-1")
    await a.customer_says(START + timedelta(minutes=9), "great help", "thanks", GLAD)

    b = Conversation(client, bob, WEB)
    await b.customer_says(START + 3 * day, "I want my money back", "refund", SAD)
    await b.customer_says(START + 3 * day + timedelta(hours=13), "any news", "refund", SAD)
    await b.becomes(pb.CONVERSATION_STATE_WAITING_FOR_AGENT)
    await b.customer_says(START + 4 * day, "and my parcel?", "delivery", ANGRY)

    c = Conversation(client, cat, SMS)
    await c.customer_says(START + 5 * day, "parcel late", "delivery", ANGRY)
    await c.becomes(pb.CONVERSATION_STATE_WAITING_FOR_AGENT)
    await c.customer_says(START + 5 * day + timedelta(minutes=4), "hurry up", "delivery", FURIOUS)

    d = Conversation(client, dan, WEB)  # opted out: what is sent is not stored nor counted
    await d.customer_says(START + 6 * day, "parcel!!", "delivery", None)
    await d.becomes(pb.CONVERSATION_STATE_WAITING_FOR_AGENT)
    await d.customer_says(START + 6 * day + timedelta(minutes=1), "now!", "delivery", FURIOUS)

    early = Conversation(client, bob, WEB)  # the day before the period
    await early.customer_says(START - day, "parcel?", "delivery", ANGRY)
    late = Conversation(client, cat, SMS)  # the last moment of the period
    await late.customer_says(
        datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC), "late parcel", "delivery", ANGRY
    )
    return {"a": a, "b": b, "c": c, "d": d, "early": early, "late": late}


async def figures_from_turns(
    client: ContextClient, conversations: dict[str, Conversation], channel: int
) -> Figures:
    """The map's figures counted from the raw turns, independently of the totals."""
    sums: dict[tuple[str, int, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for conversation in conversations.values():
        for turn in await client.list_turns(conversation.id):
            day = turn.occurred_at.ToDatetime(tzinfo=UTC).date()
            if (
                turn.role != pb.ROLE_CUSTOMER
                or not turn.HasField("emotion")
                or not FIRST_DAY <= day <= LAST_DAY
                or channel not in (ANY, turn.channel)
            ):
                continue
            key = (turn.intent, turn.journey_stage, turn.emotion.dominant_emotion)
            sums[key][0] += 1
            sums[key][1] += turn.emotion.intensity
            sums[key][2] += turn.emotion.sentiment_score
    return {key: (int(n), a, b) for key, (n, a, b) in sums.items()}


async def figures_of_map(client: ContextClient, channel: int) -> Figures:
    cells = await client.empathy_map(FIRST_DAY.isoformat(), LAST_DAY.isoformat(), channel)  # type: ignore[arg-type]
    return {
        (c.intent, c.stage, c.emotion): (c.turns, c.intensity_sum, c.sentiment_sum) for c in cells
    }


def close(one: Figures, other: Figures) -> bool:
    return one.keys() == other.keys() and all(
        one[k][0] == other[k][0] and one[k][1:] == pytest.approx(other[k][1:], abs=1e-5)
        for k in one
    )


async def cell_conversations(
    client: ContextClient, intent: str, stage: int, emotion: str, channel: int = ANY
) -> list[pb.EmpathyConversation]:
    return await client.empathy_conversations(
        pb.ListEmpathyConversationsRequest(
            from_day=FIRST_DAY.isoformat(),
            to_day=LAST_DAY.isoformat(),
            channel=channel,  # type: ignore[arg-type]
            intent=intent,
            stage=stage,  # type: ignore[arg-type]
            emotion=emotion,
        )
    )


async def test_the_map_equals_the_figures_counted_from_the_raw_turns(
    context: ContextClient, parts: ContextParts
) -> None:
    conversations = await seed(context)

    async def map_matches_turns() -> None:
        for channel in (ANY, WEB, SMS):
            expected = await figures_from_turns(context, conversations, channel)
            assert expected, "the seed has turns on every channel asked for"
            assert close(await figures_of_map(context, channel), expected)

    await map_matches_turns()  # every counted turn still pending
    # Every customer turn with a reading, in the period or not: 5 + 3 + 2 + 1 + 1.
    assert await parts.empathy.fold() == 12
    assert await parts.empathy.fold() == 0  # each turn folded once
    await map_matches_turns()  # every one folded
    await conversations["c"].customer_says(
        START + timedelta(days=5, minutes=9), "where IS it", "delivery", FURIOUS
    )
    await map_matches_turns()  # folded and pending together

    # Each turn's stage is the conversation's as the turn found it.
    stages = [
        (t.text, t.journey_stage)
        for t in await context.list_turns(conversations["a"].id)
        if t.role == pb.ROLE_CUSTOMER
    ]
    assert stages == [
        ("where is my parcel", pb.JOURNEY_STAGE_FIRST_CONTACT),
        ("still nothing", pb.JOURNEY_STAGE_FOLLOW_UP),
        ("hello??", pb.JOURNEY_STAGE_WAITING_FOR_AGENT),
        ("📦", pb.JOURNEY_STAGE_WAITING_FOR_AGENT),
        ("thank you", pb.JOURNEY_STAGE_WITH_AGENT),
        ("great help", pb.JOURNEY_STAGE_AFTER_RESOLUTION),
    ]
    later = [t.journey_stage for t in await context.list_turns(conversations["b"].id)]
    assert later[1] == pb.JOURNEY_STAGE_FIRST_CONTACT  # 13 hours later: a new contact

    # The hot cell, as the map shows it: angry about delivery while waiting for a person,
    # the opted-out customer and the repeat not counted.
    waiting = (await figures_of_map(context, ANY))[
        ("delivery", pb.JOURNEY_STAGE_WAITING_FOR_AGENT, "anger")
    ]
    assert waiting[0] == 4 and waiting[1] == pytest.approx(0.9 + 0.7 + 0.9 + 0.9, abs=1e-5)

    behind = await cell_conversations(
        context, "delivery", pb.JOURNEY_STAGE_WAITING_FOR_AGENT, "anger"
    )
    by_id = {c.conversation_id: c for c in behind}
    a, b, c, late = (conversations[n] for n in ("a", "b", "c", "late"))
    assert set(by_id) == {a.id, b.id, c.id}
    assert by_id[a.id].customer_id == a.customer_id and by_id[a.id].turns == 1
    assert list(by_id[c.id].examples) == ["where IS it", "hurry up"]  # newest first
    assert by_id[c.id].turns == 2 and behind[0].conversation_id == c.id  # most turns first
    assert by_id[c.id].channel == SMS and list(by_id[b.id].examples) == ["and my parcel?"]
    first = await cell_conversations(context, "delivery", pb.JOURNEY_STAGE_FIRST_CONTACT, "anger")
    assert {x.conversation_id for x in first} == {a.id, c.id, late.id}  # not the early one
    only_sms = await cell_conversations(
        context, "delivery", pb.JOURNEY_STAGE_FIRST_CONTACT, "anger", SMS
    )
    assert {x.conversation_id for x in only_sms} == {c.id, late.id}


async def test_retention_keeps_the_totals_and_empties_the_drill_down(
    context: ContextClient, retention: Retention
) -> None:
    conversations = await seed(context)
    before = await figures_of_map(context, ANY)
    # Past the emotion readings' retention (30 days), before the turns' (365).
    assert await retention(START + timedelta(days=60)) > 0
    assert await figures_of_map(context, ANY) == before
    assert not await cell_conversations(
        context, "delivery", pb.JOURNEY_STAGE_WAITING_FOR_AGENT, "anger"
    )
    assert await context.list_turns(conversations["a"].id)  # the turns themselves stay


@pytest.mark.parametrize(
    ("from_day", "to_day"),
    [("2026-11-31", "2026-12-01"), ("2026-12-02", "2026-12-01"), ("2025-11-30", "2026-12-01")],
)
async def test_a_malformed_or_too_long_period_is_refused(
    context: ContextClient, from_day: str, to_day: str
) -> None:
    with pytest.raises(InvalidInputError):
        await context.empathy_map(from_day, to_day, ANY)
    with pytest.raises(InvalidInputError):
        await context.empathy_conversations(
            pb.ListEmpathyConversationsRequest(
                from_day=from_day, to_day=to_day, stage=pb.JOURNEY_STAGE_FOLLOW_UP, emotion="joy"
            )
        )


async def test_the_migration_goes_down_and_up_again(database_url: str) -> None:
    """0007 undone leaves 0006's schema; done again, the models' schema."""
    engine = create_engine(database_url)

    def migrate_to(revision: str, connection: Connection, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    def down_and_up(connection: Connection) -> tuple[set[str], set[str], list[Any]]:
        migrate_to("head", connection)
        migrate_to("0006", connection, down=True)
        tables = set(inspect(connection).get_table_names())
        columns = {c["name"] for c in inspect(connection).get_columns("turns")}
        migrate_to("head", connection)
        return (
            tables,
            columns,
            compare_metadata(MigrationContext.configure(connection), Base.metadata),
        )

    try:
        async with engine.begin() as connection:
            tables, columns, differences = await connection.run_sync(down_and_up)
    finally:
        await engine.dispose()
    assert not {"empathy_cells", "empathy_pending"} & tables
    assert not {"intent", "journey_stage"} & columns
    assert differences == []
