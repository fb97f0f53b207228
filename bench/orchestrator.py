"""Orchestrator benchmark: inbound events at a fixed rate, through the real services, to replies.

Starts an embedded Kafka broker, the emotion and context services and the orchestrator
as processes, publishes ``MessageReceived`` events at ``--rate`` per second (each a new
web visitor, so conversations spread over partitions), and reads the replies off the web
outbound topic. Latency is from publishing the inbound event to reading its reply. Each
message is a different customer line (``customer_texts``): English by default,
``--languages en,es,fr,de,pt`` for a multilingual clientele.

    python -m bench.orchestrator --rate 500 --seconds 20 --warmup 10
    python -m bench.orchestrator --rate 100 --articles 1000   # a large knowledge base

The orchestrator answers from the demo knowledge (``knowledge/``) unless ``--articles N``
gives it N articles of three questions each, taken from Banking77 and GoEmotions lines;
it then starts once all their questions are embedded.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import yaml
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from bench.measure import cpu_seconds, percentile
from infra.kafka.embedded import EmbeddedKafka, create_topics
from infra.ports import free_port
from shared.conversations import thread_conversation_id
from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import INBOUND, outbound_topic

REPO_ROOT = Path(__file__).resolve().parents[1]
CUSTOMER_LINES = (
    REPO_ROOT / "tests" / "data" / "intent_messages.jsonl",
    REPO_ROOT / "tests" / "data" / "customer_moods.jsonl",
)


def customer_texts(languages: set[str] | None) -> list[str]:
    """Messages as customers write them, each different: the hand-written shop messages
    (typos, slang, one-word lines; English only unless ``languages`` says otherwise) and
    Banking77's test questions (English), shuffled with a fixed seed. A handful of texts
    repeated would flatter every cache and memo on the way."""
    from services.emotion.training import datasets  # the bench's own data, not the service's

    written = [
        json.loads(line)
        for path in CUSTOMER_LINES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    wanted = languages or {"en"}
    texts = [line["text"] for line in written if line["language"] in wanted]
    if "en" in wanted:
        texts += [text for text, _ in datasets.banking77("test")]
    random.Random(7).shuffle(texts)
    return texts


def wait_metrics(
    port: int, process: subprocess.Popen[bytes], until: str = "", seconds: float = 60
) -> None:
    """Wait for the service's metrics page, and for a line starting with ``until`` on it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("a service exited")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as page:
                if not until or any(
                    line.startswith(until) for line in page.read().decode().splitlines()
                ):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("a service did not start")


def write_articles(folder: Path, count: int) -> None:
    """``count`` articles of three questions each, from real lines (their embeddings have
    the structure real questions have)."""
    from services.emotion.training import datasets  # the bench's own data, not the service's

    lines = [t for t, _ in datasets.banking77("train")] + [
        t for t, _ in datasets.goemotions("train")
    ]
    unique = list(dict.fromkeys(lines))[: 3 * count]
    folder.mkdir(parents=True)
    for i in range(count):
        article = {
            "id": f"a{i:05d}",
            "title": f"Article {i}",
            "questions": unique[3 * i : 3 * i + 3],
            "answer": {"en": f"The answer of article {i}."},
        }
        (folder / f"a{i:05d}.yaml").write_text(yaml.safe_dump(article), encoding="utf-8")


TIMINGS = {
    "rapport_grpc_client_handling_seconds": "called by the orchestrator",
    "rapport_grpc_server_handling_seconds": "answered by its server",
    "rapport_kafka_handle_duration_seconds": "handled by the orchestrator",
}


def timing_totals(metrics_ports: list[int]) -> dict[str, tuple[float, float]]:
    """(sum, count) of the services' timing histograms: each gRPC method as its caller and
    its server saw it, and the handling of one inbound record, to show where time goes."""
    totals: dict[str, list[float]] = {}
    for port in metrics_ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
            text = page.read().decode()
        for family in text_string_to_metric_families(text):
            seen_as = TIMINGS.get(family.name)
            if seen_as is None:
                continue
            for sample in family.samples:
                what = sample.labels.get("method", sample.labels.get("topic", ""))
                if what.startswith(("/grpc.", "rapport.agent")):
                    continue  # health checks and agent actions are not the hot path
                pair = totals.setdefault(f"{what.rsplit('/', 1)[-1]}, {seen_as}", [0.0, 0.0])
                if sample.name.endswith("_sum"):
                    pair[0] += sample.value
                elif sample.name.endswith("_count"):
                    pair[1] += sample.value
    return {name: (total, count) for name, (total, count) in totals.items()}


def print_mean_times(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> None:
    print("  mean times over the run:")
    for name, (total, count) in sorted(after.items()):
        was_total, was_count = before.get(name, (0.0, 0.0))
        if count > was_count:
            mean = (total - was_total) / (count - was_count)
            print(f"    {name:<52} {1000 * mean:6.1f} ms  ({count - was_count:,.0f})")


async def send_at_rate(
    publisher: EventPublisher,
    rate: int,
    count: int,
    sent: dict[str, float] | None,
    texts: Iterator[str],
) -> None:
    """Publish ``count`` first messages of new web visitors, ``rate`` per second; note each
    one's send time in ``sent`` (by event id) when given."""
    began = time.perf_counter()
    for i in range(count):
        visitor = uuid.uuid4().hex
        event = messages_pb2.MessageReceived(
            envelope=new_envelope(
                conversation_id=thread_conversation_id("web", visitor),
                channel=envelope_pb2.CHANNEL_WEB,
                customer=envelope_pb2.CustomerRef(
                    channel=envelope_pb2.CHANNEL_WEB, address=visitor
                ),
            ),
            text=next(texts),
        )
        if sent is not None:
            sent[event.envelope.event_id] = time.perf_counter()
        asyncio.ensure_future(publisher.publish(INBOUND, event))
        delay = began + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def drive(
    bootstrap: str,
    rate: int,
    seconds: int,
    warmup: int,
    pids: dict[str, int],
    metrics_ports: list[int],
    timeline: bool,
    languages: set[str] | None,
) -> None:
    sent: dict[str, float] = {}
    latencies: list[float] = []
    by_second: defaultdict[int, list[float]] = defaultdict(list)  # by second of sending
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
                        by_second[int(started - began)].append(now - started)

    reader = asyncio.create_task(read())
    async with EventPublisher(bootstrap, client_id="bench") as publisher:
        # The warm-up runs at the same rate, unmeasured: the broker's JIT and the services'
        # caches settle before the measured seconds start.
        # One pass through the texts for warm-up and run: the run's are new to the services.
        texts = itertools.cycle(customer_texts(languages))
        await send_at_rate(publisher, rate, rate * warmup, None, texts)
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        times_before = timing_totals(metrics_ports)
        began = time.perf_counter()
        await send_at_rate(publisher, rate, total, sent, texts)
        offered = total / (time.perf_counter() - began)
        try:
            await asyncio.wait_for(reader, timeout=120)
        except TimeoutError:
            pass
        elapsed = time.perf_counter() - began
    cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    times_after = timing_totals(metrics_ports)
    await consumer.stop()
    ordered = sorted(latencies)
    print(
        f"offered {offered:,.0f} msg/s for {seconds} s after {warmup} s of warm-up; "
        f"{len(ordered)}/{total} replies"
    )
    print(f"  replies/s over the run       {len(ordered) / elapsed:,.0f}")
    if ordered:
        print(f"  inbound → reply p50          {1000 * percentile(ordered, 0.5):.0f} ms")
        print(f"  inbound → reply p99          {1000 * percentile(ordered, 0.99):.0f} ms")
        print("  CPU per reply, by process (the machine has 2 cores):")
        for name, used in cpu_used.items():
            print(f"    {name:<28} {1000 * used / len(ordered):.2f} ms")
    print_mean_times(times_before, times_after)
    if timeline:
        print("  by second of sending: p50 / p99 / max, ms")
        for second, values in sorted(by_second.items()):
            values.sort()
            print(
                f"    {second:3d}  {1000 * percentile(values, 0.5):5.0f} "
                f"{1000 * percentile(values, 0.99):5.0f} {1000 * values[-1]:5.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured seconds first")
    parser.add_argument("--timeline", action="store_true", help="latency per second, for stalls")
    parser.add_argument(
        "--articles", type=int, default=0, help="a knowledge base of this many articles"
    )
    parser.add_argument(
        "--languages",
        default="",
        help="the customers' languages, e.g. en,es,fr,de,pt (default: English)",
    )
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
        if args.articles:
            write_articles(Path(work) / "knowledge", args.articles)
            env["RAPPORT_KNOWLEDGE_DIR"] = str(Path(work) / "knowledge")
            env["RAPPORT_ORCHESTRATOR_KNOWLEDGE_START_SECONDS"] = "1800"
        processes = {
            name: subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"], cwd=REPO_ROOT, env=env
            )
            for name in ("emotion", "context", "orchestrator")
        }
        try:
            for name, port in (("emotion", "m1"), ("context", "m2"), ("orchestrator", "m3")):
                wait_metrics(ports[port], processes[name])
            if args.articles:
                started = time.monotonic()
                ready = f"rapport_orchestrator_knowledge_articles {float(args.articles)}"
                wait_metrics(ports["m3"], processes["orchestrator"], until=ready, seconds=1800)
                print(f"{args.articles} articles embedded in {time.monotonic() - started:.0f} s")
            pids = {name: process.pid for name, process in processes.items()}
            pids["kafka"] = broker.pid
            pids["benchmark (driver)"] = os.getpid()
            asyncio.run(
                drive(
                    broker.bootstrap,
                    args.rate,
                    args.seconds,
                    args.warmup,
                    pids,
                    [ports[m] for m in ("m1", "m2", "m3")],
                    args.timeline,
                    set(args.languages.split(",")) if args.languages else None,
                )
            )
        finally:
            for process in processes.values():
                process.terminate()
                process.wait(30)


if __name__ == "__main__":
    main()
