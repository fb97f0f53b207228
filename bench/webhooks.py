"""Ingestion benchmark: messages/s from the outside world into Kafka, per adapter, with p99.

Starts its own Kafka broker (embedded KRaft) and the adapter under test as a process,
then sends messages concurrently and measures the time until the adapter answers — which
it does only once Kafka has the message (acks=all). For the web adapter a "webhook" is a
chat frame on a WebSocket and the answer is the widget's ``ack`` frame.

    python -m bench.webhooks --messages 10000 --clients 50
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from infra.kafka.embedded import EmbeddedKafka, create_topics

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the adapter exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer")


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def web_client(url: str, count: int, latencies: list[float]) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws") as socket_:
        await socket_.receive_json(timeout=10)  # welcome
        for i in range(count):
            started = time.perf_counter()
            await socket_.send_json({"type": "message", "text": f"where is my order {i}?"})
            frame = await socket_.receive_json(timeout=30)
            if frame["type"] != "ack":
                raise RuntimeError(frame)
            latencies.append(time.perf_counter() - started)


async def run_web(url: str, messages: int, clients: int) -> None:
    await web_client(url, 20, [])  # warm-up
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(web_client(url, messages // clients, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    print(f"web_adapter: {len(ordered)} messages from {clients} sockets in {elapsed:.1f} s")
    print(f"  throughput into Kafka        {len(ordered) / elapsed:,.0f} messages/s")
    print(f"  ack latency p50              {1000 * percentile(ordered, 0.5):.1f} ms")
    print(f"  ack latency p99              {1000 * percentile(ordered, 0.99):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="rapport-bench-kafka-") as data,
        EmbeddedKafka(Path(data)) as broker,
    ):
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap))
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": broker.bootstrap,
            "RAPPORT_WEB_HTTP_PORT": str(port),
            "RAPPORT_WEB_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "services.web_adapter"], cwd=REPO_ROOT, env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy(f"{url}/healthz", process)
            asyncio.run(run_web(url, args.messages, args.clients))
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
