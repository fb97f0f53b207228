"""End-to-end benchmark: chat messages through web_adapter → Kafka → orchestrator → reply.

Targets a running stack (``make run`` in another terminal, or ``--url``). Each simulated
visitor sends a message, waits for its reply, then sends the next, so the figures are
closed-loop latency (send → reply on the socket) and the throughput the stack sustains
with that many visitors at once.

    python -m bench.e2e_latency --messages 1000 --visitors 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from bench.measure import percentile


async def visitor(url: str, count: int, latencies: list[float], warmup: int) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws") as socket:
        welcome = await socket.receive_json(timeout=10)
        assert welcome["type"] == "welcome"
        for i in range(warmup + count):
            started = time.perf_counter()
            await socket.send_json({"type": "message", "text": f"where is my order {i}?"})
            while True:
                frame = json.loads((await socket.receive(timeout=30)).data)
                if frame["type"] == "reply":
                    break
                if frame["type"] == "error":
                    raise RuntimeError(frame)
            if i >= warmup:
                latencies.append(time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="messages per visitor not measured")
    args = parser.parse_args()

    per_visitor = max(1, args.messages // args.visitors)
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(visitor(args.url, per_visitor, latencies, args.warmup) for _ in range(args.visitors))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    measured = len(ordered)
    total_sent = (per_visitor + args.warmup) * args.visitors
    print(f"messages measured   {measured} ({args.visitors} visitors, {args.warmup} warm-up each)")
    print(f"elapsed             {elapsed:.2f} s")
    print(f"throughput          {total_sent / elapsed:.1f} replies/s")
    print(f"latency p50         {1000 * percentile(ordered, 0.50):.1f} ms")
    print(f"latency p90         {1000 * percentile(ordered, 0.90):.1f} ms")
    print(f"latency p99         {1000 * percentile(ordered, 0.99):.1f} ms")
    print(f"latency max         {1000 * ordered[-1]:.1f} ms")
    print(f"latency mean        {1000 * statistics.fmean(ordered):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
