"""Ingestion benchmark: messages/s from the outside world into Kafka, per adapter, with p99.

Starts its own Kafka broker (embedded KRaft) and each adapter under test as a process,
then sends messages concurrently and measures the time until the adapter answers — which
it does only once Kafka has the message (acks=all). For the web adapter a "webhook" is a
chat frame on a WebSocket and the answer is the widget's ``ack`` frame; for SMS and
WhatsApp it is a signed webhook POST (Twilio's signature, Meta's HMAC) with a unique
message id, answered 200.

    python -m bench.webhooks --messages 10000 --clients 50
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

from bench.measure import percentile
from infra.kafka.embedded import EmbeddedKafka, create_topics
from infra.ports import free_port
from services.sms_adapter.config import DEVELOPMENT_ACCOUNT_SID, DEVELOPMENT_AUTH_TOKEN
from services.social_adapter.config import DEVELOPMENT_SECRETS

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def sms_request(url: str, number: int) -> tuple[bytes, dict[str, str]]:
    """A Twilio inbound-SMS webhook, signed the way Twilio signs it."""
    params = {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": DEVELOPMENT_ACCOUNT_SID,
        "From": f"+1202555{number % 10000:04d}",
        "To": "+15005550006",
        "Body": "Where is my order?",
        "NumMedia": "0",
    }
    signature = RequestValidator(DEVELOPMENT_AUTH_TOKEN).compute_signature(url, params)
    return urlencode(params).encode(), {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def whatsapp_request(url: str, number: int) -> tuple[bytes, dict[str, str]]:
    """A WhatsApp Cloud API message webhook, signed with the app secret (X-Hub-Signature-256)."""
    wa_id = f"1202555{number % 10000:04d}"
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550000000",
                                    "phone_number_id": "1",
                                },
                                "contacts": [{"profile": {"name": "Ana"}, "wa_id": wa_id}],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": f"wamid.{uuid.uuid4().hex}",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": "Where is my order?"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    secret = DEVELOPMENT_SECRETS["meta_app_secret"].encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}


async def webhook_client(
    url: str,
    count: int,
    offset: int,
    make: Callable[[str, int], tuple[bytes, dict[str, str]]],
    latencies: list[float],
) -> None:
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            body, headers = make(url, offset + i)
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url} answered {response.status}")
            latencies.append(time.perf_counter() - started)


def report(name: str, latencies: list[float], elapsed: float, clients: int) -> None:
    ordered = sorted(latencies)
    print(f"{name}: {len(ordered)} messages from {clients} clients in {elapsed:.1f} s")
    print(f"  throughput into Kafka        {len(ordered) / elapsed:,.0f} messages/s")
    print(f"  answer latency p50           {1000 * percentile(ordered, 0.5):.1f} ms")
    print(f"  answer latency p99           {1000 * percentile(ordered, 0.99):.1f} ms")


async def run_web(url: str, messages: int, clients: int) -> None:
    await web_client(url, 20, [])  # warm-up
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(web_client(url, messages // clients, latencies) for _ in range(clients)))
    report("web_adapter", latencies, time.perf_counter() - started, clients)


async def run_webhooks(
    name: str,
    url: str,
    make: Callable[[str, int], tuple[bytes, dict[str, str]]],
    messages: int,
    clients: int,
) -> None:
    await webhook_client(url, 20, 0, make, [])  # warm-up
    latencies: list[float] = []
    per_client = messages // clients
    started = time.perf_counter()
    await asyncio.gather(
        *(webhook_client(url, per_client, c * per_client, make, latencies) for c in range(clients))
    )
    report(name, latencies, time.perf_counter() - started, clients)


ADAPTERS = {
    # name: (module, its HTTP port variable, its metrics port variable)
    "web": ("services.web_adapter", "RAPPORT_WEB_HTTP_PORT", "RAPPORT_WEB_METRICS_PORT"),
    "sms": ("services.sms_adapter", "RAPPORT_SMS_HTTP_PORT", "RAPPORT_SMS_METRICS_PORT"),
    "whatsapp": (
        "services.social_adapter",
        "RAPPORT_SOCIAL_HTTP_PORT",
        "RAPPORT_SOCIAL_METRICS_PORT",
    ),
}


def measure(name: str, bootstrap: str, args: argparse.Namespace) -> None:
    module, port_variable, metrics_variable = ADAPTERS[name]
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        port_variable: str(port),
        metrics_variable: "0",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", module], cwd=REPO_ROOT, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(f"{base}/healthz", process)
        if name == "web":
            asyncio.run(run_web(base, args.messages, args.clients))
        elif name == "sms":
            url = f"{base}/twilio/sms"
            asyncio.run(run_webhooks("sms_adapter", url, sms_request, args.messages, args.clients))
        else:
            url = f"{base}/meta/whatsapp"
            asyncio.run(
                run_webhooks(
                    "social_adapter (WhatsApp)", url, whatsapp_request, args.messages, args.clients
                )
            )
    finally:
        process.terminate()
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--adapter", choices=[*ADAPTERS, "all"], default="all")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    args = parser.parse_args()
    names = list(ADAPTERS) if args.adapter == "all" else [args.adapter]
    with (
        tempfile.TemporaryDirectory(prefix="rapport-bench-kafka-") as data,
        EmbeddedKafka(Path(data)) as broker,
    ):
        broker.wait_ready(120)
        asyncio.run(create_topics(broker.bootstrap))
        for name in names:
            measure(name, broker.bootstrap, args)


if __name__ == "__main__":
    main()
