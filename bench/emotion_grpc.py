"""Emotion service benchmark over real gRPC: AnalyzeBatch throughput, unary Analyze latency
(plain, and explained word by word as a person reading it would ask), RSS.

Starts ``python -m services.emotion`` on free ports (models loaded as in production),
pinned to ``--cores`` cores with as many encoder threads, sends GoEmotions test texts
(short Reddit comments, English: the fine-tuned English encoder) or, with ``--corpus
xed``, XED subtitle lines in es/fr/de/pt/it/nl (the multilingual encoder), and prints
the figures, start-up time included.

    python -m bench.emotion_grpc --messages 20000 --batch 500 --unary 3000 --cores 1
    python -m bench.emotion_grpc --corpus xed --messages 3000 --unary 1000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rapport.emotion.v1 import emotion_service_pb2 as pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as pb_grpc

from bench.measure import percentile
from infra.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "services/emotion/training/data"
CORPORA = {
    "goemotions": [DATA / "goemotions/test.tsv"],
    "xed": [
        DATA / f"xed/Projections/{language}-projections.tsv"
        for language in ("es", "fr", "de", "pt", "it", "nl")
    ],
}


def load_texts(corpus: str, limit: int) -> list[str]:
    """``limit`` texts, the corpus's files interleaved line by line, repeated as needed."""
    files = []
    for path in CORPORA[corpus]:
        with path.open(encoding="utf-8") as handle:
            rows = csv.reader(handle, delimiter="\t")
            files.append([row[0] for row in rows if row and row[0].strip()][: limit + 1])
    texts = [text for group in zip(*files, strict=False) for text in group]
    return (texts * (limit // len(texts) + 1))[:limit]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def wait_serving(address: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with grpc.aio.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("the emotion service exited")
            try:
                response = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
    raise TimeoutError("the emotion service did not become healthy")


async def run(args: argparse.Namespace, process: subprocess.Popen[bytes], address: str) -> None:
    started = time.perf_counter()
    await wait_serving(address, process)
    print(f"start-up to SERVING                 {time.perf_counter() - started:.2f} s")
    print(f"service RSS after loading models   {rss_mib(process.pid):.0f} MiB")
    texts = load_texts(args.corpus, args.messages)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.EmotionServiceStub(channel)
        batches = [
            pb.AnalyzeBatchRequest(
                items=[pb.AnalyzeRequest(text=t) for t in texts[i : i + args.batch]]
            )
            for i in range(0, len(texts), args.batch)
        ]
        await stub.AnalyzeBatch(batches[0], timeout=30)  # warm-up
        started = time.perf_counter()
        for batch in batches:
            await stub.AnalyzeBatch(batch, timeout=30)
        elapsed = time.perf_counter() - started
        rate = len(texts) / elapsed
        print(f"AnalyzeBatch ({args.batch}/call)          {rate:,.0f} messages/s")
        print(f"  per core                          {rate / args.cores:,.0f} messages/s")

        for explain, label in ((False, "Analyze unary"), (True, "Analyze unary, explained")):
            latencies = []
            for text in texts[: args.unary]:
                begun = time.perf_counter()
                request = pb.AnalyzeRequest(text=text, include_drivers=explain)
                await stub.Analyze(request, timeout=5)
                latencies.append(time.perf_counter() - begun)
            ordered = sorted(latencies)
            for share in (0.5, 0.99):
                name = f"{label} p{round(100 * share)}"
                print(f"{name:<36}{1000 * percentile(ordered, share):.2f} ms")
    print(f"service RSS after the run           {rss_mib(process.pid):.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--unary", type=int, default=3_000)
    parser.add_argument("--cores", type=int, default=1)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="goemotions")
    args = parser.parse_args()
    cores = set(sorted(os.sched_getaffinity(0))[: args.cores])
    port = free_port()
    env = {
        **os.environ,
        "RAPPORT_EMOTION_GRPC_PORT": str(port),
        "RAPPORT_EMOTION_METRICS_PORT": "0",
        "RAPPORT_EMOTION_ENCODER_THREADS": str(args.cores),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.emotion"],
        cwd=REPO_ROOT,
        env=env,
        preexec_fn=lambda: os.sched_setaffinity(0, cores),
    )
    try:
        asyncio.run(run(args, process, f"127.0.0.1:{port}"))
    finally:
        process.terminate()
        process.wait(20)


if __name__ == "__main__":
    main()
