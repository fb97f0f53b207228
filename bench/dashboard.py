"""Owner's dashboard benchmark: the page for a year of 10,000 conversations.

Seeds a desk database (by default 10,000 conversations over 365 days and every channel,
a third handed to a person, most of those rated), runs the desk's real web console on it
and times ``GET /dashboard?days=365`` as a signed-in supervisor over HTTP: p50 and p95
over several runs, with the parts it is made of (the store's query, the figures and
charts) timed on their own. The target is under a second.

    python -m bench.dashboard --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.measure import bench_database, percentile
from infra.ports import free_port
from services.agent_desk import kpis
from services.agent_desk.__main__ import build
from services.agent_desk.charts import draw
from services.agent_desk.charts_http import board_of
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.http_app import create_app
from services.agent_desk.kpi_charts import dashboard_charts
from services.agent_desk.kpis import Period
from services.agent_desk.models import (
    ConversationSeen,
    Rating,
    Role,
    Ticket,
    TicketStatus,
)
from services.agent_desk.security import hash_password
from shared.grpc.context_client import ContextClient

DAYS = 365
CHUNK = 2_000
PASSWORD = "a long enough bench password"
CHANNELS = [n for n in envelope_pb2.Channel.values() if n != envelope_pb2.CHANNEL_UNSPECIFIED]
REASONS = ("strong_negative_emotion", "asked_for_human", "no_progress", "low_confidence", "vip")
PACKET = bytes(2048)  # a handoff's size: the table holds it, the dashboard never reads it


class NoPublisher:
    async def publish(self, topic: str, event: Message) -> None:
        """The dashboard publishes nothing."""


def rows(conversations: int, now: datetime) -> dict[type[Any], list[dict[str, Any]]]:
    """A year of conversations, tickets and ratings, spread evenly and at random."""
    rng = random.Random(7)
    seen: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for n in range(conversations):
        started = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
        channel = rng.choice(CHANNELS)
        conversation = f"bench-{n}"
        seen.append({"conversation_id": conversation, "channel": channel, "started_at": started})
        if rng.random() > 0.35:
            continue
        handed = started + timedelta(minutes=rng.uniform(1, 20))
        claimed = handed + timedelta(seconds=rng.expovariate(1 / 400))
        resolved = claimed + timedelta(seconds=rng.expovariate(1 / 900))
        ticket_id = str(uuid.UUID(int=rng.getrandbits(128)))
        tickets.append(
            {
                "id": ticket_id,
                "conversation_id": conversation,
                "customer_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "customer_name": "",
                "channel": channel,
                "team": "support",
                "priority": rng.random(),
                "language": "en",
                "required_skills": [],
                "repeat_contacts": int(rng.random() < 0.2),
                "packet": PACKET,
                "status": TicketStatus.RESOLVED.value,
                "handed_off_at": handed,
                "claimed_at": claimed,
                "resolved_at": resolved,
                "updated_at": resolved,
                "team_since": handed,
                "reason_codes": rng.sample(REASONS, rng.randint(1, 2)),
                "sentiment_first": rng.uniform(-1, 0),
                "sentiment_last": rng.uniform(-0.5, 1),
                "tags": [],
            }
        )
        if rng.random() < 0.7:
            ratings.append(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "ticket_id": ticket_id,
                    "conversation_id": conversation,
                    "agent_id": "",
                    "channel": channel,
                    "score": rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 4, 5))[0],
                    "comment": "",
                    "rated_at": resolved + timedelta(minutes=1),
                }
            )
    return {ConversationSeen: seen, Ticket: tickets, Rating: ratings}


async def seed(engine: AsyncEngine, conversations: int, now: datetime) -> dict[str, int]:
    await migrate(engine)
    counts = {}
    async with engine.begin() as connection:
        for table, values in rows(conversations, now).items():
            counts[table.__tablename__] = len(values)
            for offset in range(0, len(values), CHUNK):
                await connection.execute(insert(table), values[offset : offset + CHUNK])
    return counts


async def timed(runs: int, step: Callable[[], Awaitable[object]]) -> tuple[list[float], float]:
    """Sorted wall times of ``runs`` calls after a warm-up, and this process's CPU time
    per call (the desk and its client share the process here): on a busy machine the
    wall time waits for a core, the CPU time does not."""
    await step()  # warm-up
    spent = []
    cpu = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        await step()
        spent.append(time.perf_counter() - started)
    return sorted(spent), (time.process_time() - cpu) / runs


def report(name: str, measured: tuple[list[float], float]) -> None:
    spent, cpu = measured
    p50, p95 = 1000 * percentile(spent, 0.5), 1000 * percentile(spent, 0.95)
    print(f"  {name:<40}p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   CPU {1000 * cpu:7.1f} ms")


async def signed_in(client: aiohttp.ClientSession) -> None:
    async with client.get("/login") as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert token, "no sign-in form"
    form = {"email": "owner@example.org", "password": PASSWORD, "csrf_token": token[1]}
    async with client.post("/login", data=form, allow_redirects=False) as answer:
        assert answer.status == 303, f"sign-in refused ({answer.status})"


async def measure(url: str, conversations: int, runs: int) -> None:
    engine = create_engine(url)
    now = datetime.now(UTC)
    started = time.perf_counter()
    counts = await seed(engine, conversations, now)
    print(f"  seeded {counts} in {time.perf_counter() - started:.1f} s")
    settings = AgentDeskSettings(
        metrics_port=0, http_port=0, database_url=url, dashboard_days=(14, 30, 90, DAYS)
    )
    async with grpc.aio.insecure_channel("127.0.0.1:9") as unused:  # the page reads no context
        parts, _relay = build(settings, engine, NoPublisher(), ContextClient(unused, 1))
        await parts.store.create_agent(
            email="owner@example.org",
            name="Owner",
            password_hash=hash_password(PASSWORD, 12),
            role=Role.SUPERVISOR,
            team="support",
            languages=["en"],
            skills=[],
            now=now,
        )
        period = Period(DAYS, "")

        async def figures() -> None:
            board = await board_of(parts.store, period, datetime.now(UTC))
            [draw(chart) for chart in dashboard_charts(board)]

        records = await parts.store.kpi_records(now - timedelta(days=DAYS))
        report(
            "store query (kpi_records)",
            await timed(runs, lambda: parts.store.kpi_records(now - timedelta(days=DAYS))),
        )
        report(
            "figures (kpis.dashboard)",
            await timed(runs, _async(lambda: kpis.dashboard(*records, now=now, days=DAYS))),
        )
        report("query + figures + charts", await timed(runs, figures))

        runner = web.AppRunner(create_app(parts))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}", cookie_jar=aiohttp.CookieJar(unsafe=True)
            ) as client:
                await signed_in(client)

                async def page(query: str) -> None:
                    async with client.get(f"/dashboard?{query}") as answer:
                        assert answer.status == 200, answer.status
                        await answer.read()

                for query in (f"days={DAYS}", f"days={DAYS}&channel=web", "days=30"):
                    report(
                        f"GET /dashboard?{query}",
                        await timed(runs, functools.partial(page, query)),
                    )
        finally:
            await runner.cleanup()
    await engine.dispose()


def _async(work: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def run() -> object:
        return work()

    return run


def run_backend(backend: str, args: argparse.Namespace) -> None:
    with bench_database(backend, "desk.sqlite3") as url:
        print(f"{backend}: {args.conversations:,} conversations over {DAYS} days, {args.runs} runs")
        asyncio.run(measure(url, args.conversations, args.runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run_backend(backend, args)


if __name__ == "__main__":
    main()
