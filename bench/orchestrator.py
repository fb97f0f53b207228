"""Orchestrator benchmark: inbound events at a fixed rate, through the real services, to replies.

Starts an embedded Kafka broker, the emotion and context services and the orchestrator
as processes, publishes ``MessageReceived`` events at ``--rate`` per second (each a new
web visitor, so conversations spread over partitions), and reads the replies off the web
outbound topic. Latency is from publishing the inbound event to reading its reply.

    python -m bench.orchestrator --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from bench.measure import cpu_seconds, free_port, percentile
from infra.kafka.embedded import EmbeddedKafka, create_topics
from shared.conversations import thread_conversation_id
from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import INBOUND, outbound_topic

REPO_ROOT = Path(__file__).resolve().parents[1]
TEXTS = ("Where is my order?", "I want a refund", "Hi, my order hasn't arrived", "Thanks a lot!")


def wait_metrics(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("a service exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("a service did not start")


async def drive(bootstrap: str, rate: int, seconds: int, pids: dict[str, int]) -> None:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    consumer = AIOKafkaConsumer(
        outbound_topic("web"),
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    await asyncio.sleep(2)  # let the reader join before anything is sent
    total = rate * seconds

    async def read() -> None:
        while len(latencies) < total:
            batch = await consumer.getmany(timeout_ms=500)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    reply = messages_pb2.SendMessage.FromString(record.value)
                    started = sent.pop(reply.in_reply_to, None)
                    if started is not None:
                        latencies.append(now - started)

    reader = asyncio.create_task(read())
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    async with EventPublisher(bootstrap, client_id="bench") as publisher:
        began = time.perf_counter()
        for i in range(total):
            visitor = uuid.uuid4().hex
            event = messages_pb2.MessageReceived(
                envelope=new_envelope(
                    conversation_id=thread_conversation_id("web", visitor),
                    channel=envelope_pb2.CHANNEL_WEB,
                    customer=envelope_pb2.CustomerRef(
                        channel=envelope_pb2.CHANNEL_WEB, address=visitor
                    ),
                ),
                text=TEXTS[i % len(TEXTS)],
            )
            sent[event.envelope.event_id] = time.perf_counter()
            asyncio.ensure_future(publisher.publish(INBOUND, event))
            delay = began + (i + 1) / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        offered = total / (time.perf_counter() - began)
        try:
            await asyncio.wait_for(reader, timeout=120)
        except TimeoutError:
            pass
        elapsed = time.perf_counter() - began
    cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    await consumer.stop()
    ordered = sorted(latencies)
    print(f"offered {offered:,.0f} msg/s for {seconds} s; {len(ordered)}/{total} replies")
    print(f"  replies/s over the run       {len(ordered) / elapsed:,.0f}")
    if ordered:
        print(f"  inbound → reply p50          {1000 * percentile(ordered, 0.5):.0f} ms")
        print(f"  inbound → reply p99          {1000 * percentile(ordered, 0.99):.0f} ms")
        print("  CPU per reply, by process (the machine has 2 cores):")
        for name, used in cpu_used.items():
            print(f"    {name:<28} {1000 * used / len(ordered):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="rapport-bench-") as work,
        EmbeddedKafka(Path(work) / "kafka") as broker,
    ):
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap))
        ports = {name: free_port() for name in ("emotion", "context", "m1", "m2", "m3")}
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "EMOTION_ADDRESS": f"127.0.0.1:{ports['emotion']}",
            "CONTEXT_ADDRESS": f"127.0.0.1:{ports['context']}",
            "DATABASE_URL": f"sqlite:///{work}/context.sqlite3",
            "RAPPORT_EMOTION_GRPC_PORT": str(ports["emotion"]),
            "RAPPORT_CONTEXT_GRPC_PORT": str(ports["context"]),
            "RAPPORT_EMOTION_METRICS_PORT": str(ports["m1"]),
            "RAPPORT_CONTEXT_METRICS_PORT": str(ports["m2"]),
            "RAPPORT_ORCHESTRATOR_METRICS_PORT": str(ports["m3"]),
            "LOG_LEVEL": "WARNING",
        }
        processes = {
            name: subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], cwd=REPO_ROOT, env=env
            )
            for name in ("emotion", "context", "orchestrator")
        }
        try:
            for name, port in (("emotion", "m1"), ("context", "m2"), ("orchestrator", "m3")):
                wait_metrics(ports[port], processes[name])
            pids = {name: process.pid for name, process in processes.items()}
            pids["kafka"] = broker.pid
            pids["benchmark (driver)"] = os.getpid()
            asyncio.run(drive(broker.bootstrap, args.rate, args.seconds, pids))
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    main()
