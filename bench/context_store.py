"""Context store benchmark through gRPC: GetContext latency and AppendTurn throughput.

Seeds a store (default 100,000 customers and 1,000,000 turns, ten per customer, with
emotion readings), starts ``python -m services.context`` on it, then measures:
GetContext p50/p99 for random customers (sequential calls) and AppendTurn throughput
with many calls in flight. Runs on SQLite and on a throwaway PostgreSQL cluster.

    python -m bench.context_store --backend both
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc
from sqlalchemy import insert

from bench.measure import bench_database, cpu_seconds, percentile
from infra.ports import free_port
from services.context.database import create_engine, migrate
from services.context.models import ContactRow, ConversationRow, CustomerRow, IdentityRow, TurnRow

REPO_ROOT = Path(__file__).resolve().parents[1]
CHUNK = 5_000
WEB = envelope_pb2.CHANNEL_WEB
EMOTIONS = ("frustration", "anger", "neutral", "gratitude", "anxiety")


async def seed(url: str, customers: int, turns: int) -> list[str]:
    """Bulk-load the store; returns the customer ids."""
    engine = create_engine(url)
    await migrate(engine)
    rng = random.Random(7)
    per_customer = max(1, turns // customers)
    start = datetime.now(UTC) - timedelta(days=20)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(customers)]
    async with engine.begin() as connection:
        for offset in range(0, customers, CHUNK):
            chunk = ids[offset : offset + CHUNK]
            rows: dict[type[Any], list[dict[str, Any]]] = {
                CustomerRow: [],
                IdentityRow: [],
                ConversationRow: [],
                ContactRow: [],
                TurnRow: [],
            }
            for customer_id in chunk:
                conversation = f"conv-{customer_id}"
                rows[CustomerRow].append(
                    {
                        "id": customer_id,
                        "display_name": "",
                        "preferred_language": "en",
                        "preferred_channel": WEB,
                        "created_at": start,
                        "emotion_analysis_allowed": True,
                        "marketing_allowed": False,
                        "consent_updated_at": start,
                    }
                )
                rows[IdentityRow].append(
                    {
                        "customer_id": customer_id,
                        "channel": WEB,
                        "address": f"visitor-{customer_id}",
                        "verified": True,
                        "created_at": start,
                    }
                )
                rows[ConversationRow].append(
                    {
                        "id": conversation,
                        "customer_id": customer_id,
                        "channel": WEB,
                        "state": 1,
                        "language": "en",
                        "assignee": "",
                        "last_sequence": per_customer,
                        "last_customer_turn_at": start,
                        "created_at": start,
                        "updated_at": start,
                    }
                )
                rows[ContactRow].append(
                    {
                        "customer_id": customer_id,
                        "conversation_id": conversation,
                        "channel": WEB,
                        "started_at": start,
                    }
                )
                for sequence in range(1, per_customer + 1):
                    emotion = EMOTIONS[rng.randrange(len(EMOTIONS))]
                    rows[TurnRow].append(
                        {
                            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                            "conversation_id": conversation,
                            "customer_id": customer_id,
                            "sequence": sequence,
                            "role": 1 if sequence % 2 else 2,
                            "channel": WEB,
                            "text": f"message {sequence} about my order",
                            "language": "en",
                            "author": "",
                            "occurred_at": start + timedelta(hours=sequence),
                            "dominant_emotion": emotion,
                            "emotion_intensity": rng.random(),
                            "sentiment_score": rng.uniform(-1, 1),
                        }
                    )
            for table, values in rows.items():
                for batch in range(0, len(values), CHUNK):
                    await connection.execute(insert(table), values[batch : batch + CHUNK])
    await engine.dispose()
    return ids


async def wait_serving(address: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    async with grpc.aio.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the context service exited")
            try:
                status = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if status.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("the context service did not become healthy")


async def measure(
    address: str, ids: list[str], lookups: int, appends: int, in_flight: int, server_pid: int
) -> None:
    rng = random.Random(11)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.ContextServiceStub(channel)
        for customer_id in rng.sample(ids, 50):  # warm-up
            await stub.GetContext(pb.GetContextRequest(customer_id=customer_id), timeout=5)
        latencies = []
        for customer_id in rng.choices(ids, k=lookups):
            started = time.perf_counter()
            await stub.GetContext(
                pb.GetContextRequest(
                    customer_id=customer_id, conversation_id=f"conv-{customer_id}", max_turns=20
                ),
                timeout=5,
            )
            latencies.append(time.perf_counter() - started)
        ordered = sorted(latencies)
        print(f"  GetContext p50                {1000 * percentile(ordered, 0.5):.2f} ms")
        print(f"  GetContext p99                {1000 * percentile(ordered, 0.99):.2f} ms")

        targets = rng.choices(ids, k=appends)
        queue: asyncio.Queue[str] = asyncio.Queue()
        for customer_id in targets:
            queue.put_nowait(customer_id)

        async def writer() -> None:
            while not queue.empty():
                customer_id = queue.get_nowait()
                turn = pb.Turn(
                    event_id=str(uuid.uuid4()),
                    conversation_id=f"conv-{customer_id}",
                    role=pb.ROLE_CUSTOMER,
                    text="where is my order?",
                    channel=WEB,
                    emotion=pb.EmotionSnapshot(
                        dominant_emotion="frustration", intensity=0.5, sentiment_score=-0.4
                    ),
                )
                turn.occurred_at.GetCurrentTime()
                await stub.AppendTurn(
                    pb.AppendTurnRequest(customer_id=customer_id, turn=turn), timeout=10
                )

        started, cpu_before = time.perf_counter(), cpu_seconds(server_pid)
        await asyncio.gather(*(writer() for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
        cpu_per_append = (cpu_seconds(server_pid) - cpu_before) / appends
        print(f"  AppendTurn ({in_flight} in flight)    {appends / elapsed:,.0f} turns/s")
        print(f"  service CPU per AppendTurn    {1000 * cpu_per_append:.2f} ms")


def run_backend(backend: str, args: argparse.Namespace) -> None:
    with bench_database(backend, "context.sqlite3") as url:
        print(f"{backend}: seeding {args.customers:,} customers and {args.turns:,} turns")
        started = time.perf_counter()
        ids = asyncio.run(seed(url, args.customers, args.turns))
        print(f"  seeded in                     {time.perf_counter() - started:.0f} s")
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "RAPPORT_CONTEXT_GRPC_PORT": str(port),
            "RAPPORT_CONTEXT_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "services.context"], cwd=REPO_ROOT, env=env
        )
        try:
            address = f"127.0.0.1:{port}"
            asyncio.run(wait_serving(address, process))
            asyncio.run(
                measure(address, ids, args.lookups, args.appends, args.in_flight, process.pid)
            )
        finally:
            process.terminate()
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--turns", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--appends", type=int, default=5_000)
    parser.add_argument("--in-flight", type=int, default=32)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run_backend(backend, args)


if __name__ == "__main__":
    main()
