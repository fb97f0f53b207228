"""The local stack watched by a real Prometheus (Debian's package), as an operator would.

Every service runs as its own process on free ports (a real Kafka, a fake Twilio API), and
Prometheus scrapes them every second with the configuration ``make run`` generates
(infra/monitoring.py) and the alert rules of infra/prometheus. Traffic goes through the
public doors: the chat WebSocket, signed and forged webhooks. Then Prometheus' HTTP API
must show every target up, the series that traffic should move moved, every rule
evaluating cleanly, and every dashboard and alert expression returning data.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from asyncio.subprocess import PIPE, STDOUT
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import pytest
import pytest_asyncio
import yaml

from infra import dashboards, monitoring
from infra.ports import free_port
from tests.conftest import unique
from tests.fakes.twilio_server import FakeTwilio, inbound_params, signed_webhook

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.parent.name for path in REPO_ROOT.glob("services/*/__main__.py"))
GRPC_SERVICES = ("emotion", "context")
HTTP_SERVICES = ("web_adapter", "sms_adapter", "social_adapter", "email_adapter", "agent_desk")
ENV_PREFIX = {
    "web_adapter": "RAPPORT_WEB_",
    "sms_adapter": "RAPPORT_SMS_",
    "social_adapter": "RAPPORT_SOCIAL_",
    "emotion": "RAPPORT_EMOTION_",
    "context": "RAPPORT_CONTEXT_",
    "orchestrator": "RAPPORT_ORCHESTRATOR_",
    "agent_desk": "RAPPORT_AGENT_DESK_",
    "email_adapter": "RAPPORT_EMAIL_",
}
TWILIO_ACCOUNT, TWILIO_TOKEN = "AC" + "1" * 32, "monitoring-twilio-token"
META_SECRET, TELEGRAM_SECRET = "monitoring-meta-secret", "monitoring-telegram-secret"
ALERTS = REPO_ROOT / "infra" / "prometheus" / "alerts.yml"
THRESHOLD = re.compile(r"\s*(?:==|!=|>=|<=|>|<)\s*-?\d+(?:\.\d+)?(?![\w.\[])")
"""A comparison with a plain number: what turns an alert's signal into its condition."""

# Sums that traffic must raise: (what, PromQL). Absent before traffic counts as 0.
MOVING = {
    "web requests": 'sum(rapport_http_requests_total{job="web_adapter"})',
    "sms requests": 'sum(rapport_http_requests_total{job="sms_adapter"})',
    "social requests": 'sum(rapport_http_requests_total{job="social_adapter"})',
    "request durations": "sum(rapport_http_request_duration_seconds_count)",
    "chat frames published": 'sum(rapport_web_frames_total{outcome="published"})',
    "chat replies delivered": 'sum(rapport_web_replies_total{outcome="delivered"})',
    "inbound handled": 'sum(rapport_kafka_records_consumed_total{job="orchestrator",'
    'topic="rapport.inbound.v1",outcome="handled"})',
    "records published": "sum(rapport_kafka_records_published_total)",
    "kafka handling durations": "sum(rapport_kafka_handle_duration_seconds_count"
    '{job="orchestrator"})',
    "grpc client calls": 'sum(rapport_grpc_client_handling_seconds_count{job="orchestrator"})',
    "emotion grpc served": 'sum(rapport_grpc_server_handling_seconds_count{job="emotion"})',
    "context grpc served": 'sum(rapport_grpc_server_handling_seconds_count{job="context"})',
    "model inferences": "sum(rapport_emotion_inference_duration_seconds_count)",
    "emotion labels": "sum(rapport_emotion_predictions_total)",
    "sentiment labels": "sum(rapport_emotion_sentiments_total)",
    "intent labels": "sum(rapport_emotion_intents_total)",
    "decisions": "sum(rapport_orchestrator_decisions_total)",
    "replies": "sum(rapport_orchestrator_replies_total)",
    "escalations": "sum(rapport_orchestrator_handoffs_total)",
    "handoffs queued at the desk": "sum(rapport_desk_handoffs_total)",
    "sms sent": 'sum(rapport_channel_sends_total{channel="sms",outcome="sent"})',
    "sms segments": "sum(rapport_sms_segments_sent_total)",
    "sms keywords": "sum(rapport_sms_compliance_keywords_total)",
    "desk logins": 'sum(rapport_desk_logins_total{outcome="refused"})',
    "tickets opened": "sum(rapport_desk_escalations_total)",
    "tickets claimed": "sum(rapport_desk_wait_seconds_count)",
    "tickets resolved": "sum(rapport_desk_resolutions_total)",
    "csat ratings (desk)": 'sum(rapport_desk_csat_ratings_total{score="5"})',
    "csat ratings (orchestrator)": 'sum(rapport_orchestrator_ratings_total{score="5"})',
    "sms signature failures": 'sum(rapport_webhook_requests_total{channel="sms",'
    'outcome="bad_signature"})',
    "messenger signature failures": 'sum(rapport_webhook_requests_total{channel="messenger",'
    'outcome="bad_signature"})',
    "telegram signature failures": 'sum(rapport_webhook_requests_total{channel="telegram",'
    'outcome="bad_signature"})',
}
# Series that must exist (their value may rightly be 0).
PRESENT = {
    "inbound lag per partition": 'count(rapport_kafka_consumer_lag{job="orchestrator",'
    'topic="rapport.inbound.v1"}) == 6',
    "dead letters": 'rapport_kafka_dead_letters_total{job="orchestrator",'
    'topic="rapport.inbound.v1"}',
    "csat scores": "count(rapport_orchestrator_ratings_total) == 5",
    "queue length": 'rapport_desk_queue_length{channel="web"}',
}


def dashboard_queries() -> list[str]:
    return [
        target["expr"]
        for path in sorted(dashboards.DASHBOARDS_DIR.glob("*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]


def signal_of(expr: str) -> str:
    """What an alert watches: its expression before any ``unless`` (which only silences it),
    thresholds removed."""
    watched = expr.split(" unless ")[0]
    stripped = THRESHOLD.sub("", watched)
    assert stripped != watched, f"no threshold in {expr}"
    return stripped


@dataclass
class Processes:
    """Child processes with their logs, stopped in reverse order."""

    workdir: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: list[IO[bytes]] = field(default_factory=list)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed by stop_all
        self.logs.append(log)
        self.running[name] = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_all(self) -> None:
        for process in reversed(self.running.values()):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for log in self.logs:
            log.close()


class PrometheusApi:
    def __init__(self, http: aiohttp.ClientSession, address: str) -> None:
        self.http = http
        self.base = f"http://{address}/api/v1"

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.base}/{path}", params=params) as response:
            body = await response.json()
        assert body["status"] == "success", body
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        data = await self.get("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    async def value(self, expr: str) -> float:
        result = await self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0


@dataclass
class Monitored:
    prometheus: PrometheusApi
    before: dict[str, float]
    after: dict[str, float]
    metrics_urls: dict[str, str]


def stack_env(
    kafka_bootstrap: str, workdir: Path, twilio_url: str
) -> tuple[dict[str, str], dict[str, int]]:
    """The environment of every service, with free ports and private consumer groups."""
    ports = {f"{s}_metrics": free_port() for s in SERVICES}
    ports |= {f"{s}_grpc": free_port() for s in GRPC_SERVICES}
    ports |= {f"{s}_http": free_port() for s in HTTP_SERVICES}
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "EMOTION_ADDRESS": f"127.0.0.1:{ports['emotion_grpc']}",
        "CONTEXT_ADDRESS": f"127.0.0.1:{ports['context_grpc']}",
        "DATABASE_URL": f"sqlite:///{workdir / 'context.sqlite3'}",
        "RAPPORT_AGENT_DESK_DATABASE_URL": f"sqlite:///{workdir / 'desk.sqlite3'}",
        # No mailbox: the email adapter runs idle, as on a laptop without a mail server.
        "RAPPORT_EMAIL_DATABASE_URL": f"sqlite:///{workdir / 'email.sqlite3'}",
        "RAPPORT_SMS_ACCOUNT_SID": TWILIO_ACCOUNT,
        "RAPPORT_SMS_AUTH_TOKEN": TWILIO_TOKEN,
        "RAPPORT_SMS_API_BASE_URL": twilio_url,
        "RAPPORT_SMS_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['sms_adapter_http']}",
        "RAPPORT_SOCIAL_META_APP_SECRET": META_SECRET,
        "RAPPORT_SOCIAL_TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET,
        # Nothing may leave the machine: platform APIs point at a closed port.
        "RAPPORT_SOCIAL_GRAPH_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
        "RAPPORT_SOCIAL_TELEGRAM_API_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    for service in SERVICES:
        prefix = ENV_PREFIX[service]
        env[f"{prefix}METRICS_PORT"] = str(ports[f"{service}_metrics"])
        if service in GRPC_SERVICES:
            env[f"{prefix}GRPC_PORT"] = str(ports[f"{service}_grpc"])
        if service in HTTP_SERVICES:
            env[f"{prefix}HTTP_PORT"] = str(ports[f"{service}_http"])
        if service not in GRPC_SERVICES:
            env[f"{prefix}CONSUMER_GROUP"] = unique(service)
    return env, ports


async def wait_healthy(processes: Processes, env: dict[str, str], timeout: float = 90) -> None:
    """Until ``python -m infra.healthcheck <service>`` (the image's check) passes for all."""
    pending = set(SERVICES)
    deadline = time.monotonic() + timeout
    while pending:
        processes.check_alive()
        for service in sorted(pending):
            check = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "infra.healthcheck",
                service,
                cwd=REPO_ROOT,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            if await check.wait() == 0:
                pending.discard(service)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"not healthy after {timeout}s: {sorted(pending)}")
        await asyncio.sleep(0.5)


async def eventually(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout}s")
        await asyncio.sleep(0.5)


async def chat(
    http: aiohttp.ClientSession, web_url: str, texts: list[str], visitor: str = ""
) -> str:
    """Say each text on the chat socket and wait for the reply to it; the visitor's token.

    Without texts, wait for one reply (one the visitor was sent while away).
    """
    async with http.ws_connect(f"{web_url}/ws", params={"visitor": visitor}) as socket_:
        welcome = await socket_.receive_json(timeout=10)
        for text in texts or [""]:
            if text:
                await socket_.send_json({"type": "message", "text": text})
            async with asyncio.timeout(60):  # per call, heartbeats would restart the clock
                while (await socket_.receive_json())["type"] != "reply":
                    pass
    return str(welcome["visitor"])


class Desk:
    """The agent desk as an agent uses it: a browser session with its CSRF tokens."""

    EMAIL, PASSWORD = "ops@example.com", "monitoring-desk-password"
    HIDDEN = re.compile(r'type="hidden" name="(\w+)" value="([^"]*)"')

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url

    async def hidden_fields(self, path: str) -> dict[str, str]:
        async with self.http.get(f"{self.url}{path}") as response:
            return dict(self.HIDDEN.findall(await response.text()))

    async def login(self, password: str) -> int:
        form = await self.hidden_fields("/login")
        form |= {"email": self.EMAIL, "password": password}
        async with self.http.post(f"{self.url}/login", data=form) as response:
            return response.status

    async def ticket_saying(self, text: str) -> str:
        """The queued ticket whose conversation holds ``text``, once it is there."""
        async with asyncio.timeout(60):
            while True:
                async with self.http.get(f"{self.url}/queue") as response:
                    found = re.findall(r'href="/conversations/([^"]+)"', await response.text())
                for ticket in dict.fromkeys(found):
                    async with self.http.get(f"{self.url}/conversations/{ticket}") as response:
                        if text in await response.text():
                            return ticket
                await asyncio.sleep(0.5)

    async def act(self, ticket: str, action: str) -> None:
        form = await self.hidden_fields(f"/conversations/{ticket}")
        async with self.http.post(
            f"{self.url}/conversations/{ticket}/{action}", data=form
        ) as response:
            assert response.status == 200, await response.text()  # after the redirect


async def create_desk_admin(env: dict[str, str]) -> None:
    created = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.agent_desk",
        "create-admin",
        "--email",
        Desk.EMAIL,
        cwd=REPO_ROOT,
        env=env,
        stdin=PIPE,
        stdout=PIPE,
        stderr=STDOUT,
    )
    output, _ = await created.communicate(Desk.PASSWORD.encode() + b"\n")
    assert created.returncode == 0, output.decode()


async def send_traffic(http: aiohttp.ClientSession, ports: dict[str, int]) -> None:
    web = f"http://127.0.0.1:{ports['web_adapter_http']}"
    sms = f"http://127.0.0.1:{ports['sms_adapter_http']}"
    social = f"http://127.0.0.1:{ports['social_adapter_http']}"
    desk = f"http://127.0.0.1:{ports['agent_desk_http']}"
    for url in (f"{web}/", f"{web}/widget.js", f"{web}/no-such-page"):
        async with http.get(url) as response:
            await response.read()
    agent = Desk(http, desk)
    assert await agent.login("not the password") == 401
    # Two visitors, each ending on what hands it to a person (the bot is quiet after).
    await chat(http, web, ["Hi, my order hasn't arrived", "This is ridiculous, I am furious!"])
    request = "Can I talk to a human please?"
    visitor = await chat(http, web, [request])
    # A person takes that ticket and resolves it; the customer rates the help.
    assert await agent.login(Desk.PASSWORD) == 200  # the queue, after the redirect
    ticket = await agent.ticket_saying(request)
    await agent.act(ticket, "claim")
    await agent.act(ticket, "resolve")
    await chat(http, web, [], visitor)  # the rating question
    await chat(http, web, ["5 stars, thanks!"], visitor)
    number = f"+1415{random.randint(2_000_000, 9_999_999)}"  # valid: the context checks it
    for text in ("Hi, where is my parcel?", "HELP"):
        body, headers = signed_webhook(
            f"{sms}/twilio/sms",
            inbound_params(number, text, account_sid=TWILIO_ACCOUNT),
            TWILIO_TOKEN,
        )
        async with http.post(f"{sms}/twilio/sms", data=body, headers=headers) as response:
            assert response.status == 200, await response.text()
    forged = {**headers, "X-Twilio-Signature": "forged"}
    async with http.post(f"{sms}/twilio/sms", data=body, headers=forged) as response:
        assert response.status == 403
    page = json.dumps({"object": "page", "entry": []}).encode()
    wrong = "sha256=" + hmac.new(b"not-the-secret", page, hashlib.sha256).hexdigest()
    async with http.post(
        f"{social}/meta/messenger", data=page, headers={"X-Hub-Signature-256": wrong}
    ) as response:
        assert response.status == 403
    async with http.post(
        f"{social}/telegram",
        json={"update_id": 1},
        headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
    ) as response:
        assert response.status == 403


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def monitored(
    own_kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Monitored]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Prometheus is not installed: apt-get install prometheus")
    workdir = tmp_path_factory.mktemp("monitoring")
    processes = Processes(workdir)
    jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of 127.0.0.1, as a browser does
    async with (
        FakeTwilio(TWILIO_ACCOUNT, TWILIO_TOKEN) as twilio,
        aiohttp.ClientSession(cookie_jar=jar) as http,
    ):
        env, ports = stack_env(own_kafka_bootstrap, workdir, twilio.base_url)
        try:
            for service in SERVICES:
                processes.start(service, [sys.executable, "-m", f"services.{service}"], env)
            await wait_healthy(processes, env)
            await create_desk_admin(env)
            address = f"127.0.0.1:{free_port()}"
            targets = {s: f"127.0.0.1:{ports[f'{s}_metrics']}" for s in SERVICES}
            config = monitoring.write_config(
                monitoring.local_config(targets, address, scrape_interval="1s"), workdir
            )
            processes.start(
                "prometheus",
                monitoring.prometheus_command(config, workdir / "tsdb", address, binary),
                env,
            )
            api = PrometheusApi(http, address)

            async def all_up() -> bool:
                processes.check_alive()
                try:
                    result = await api.query("up")
                except aiohttp.ClientError:
                    return False
                return len(result) == len(targets) + 1 and all(r["value"][1] == "1" for r in result)

            await eventually(all_up, 60, "every target up")
            before = {name: await api.value(expr) for name, expr in MOVING.items()}
            await send_traffic(http, ports)

            async def moved() -> bool:
                now = {name: await api.value(expr) for name, expr in MOVING.items()}
                return all(now[name] > before[name] for name in MOVING)

            try:
                await eventually(moved, 90, "every expected series moved")
            except TimeoutError:
                pass  # the test of moved series says which did not
            await asyncio.sleep(3)  # a few more scrapes, so rates span the traffic
            after = {name: await api.value(expr) for name, expr in MOVING.items()}
            urls = {s: f"http://{t}/metrics" for s, t in targets.items()}
            yield Monitored(api, before, after, urls)
        finally:
            processes.stop_all()


async def test_every_target_is_up(monitored: Monitored) -> None:
    targets = (await monitored.prometheus.get("targets", state="active"))["activeTargets"]
    assert {t["labels"]["job"] for t in targets} == {"prometheus", *SERVICES}
    down = {t["labels"]["job"]: t["lastError"] for t in targets if t["health"] != "up"}
    assert not down


@pytest.mark.parametrize("name", MOVING)
async def test_traffic_moved_the_series(monitored: Monitored, name: str) -> None:
    assert monitored.after[name] > monitored.before[name], (name, MOVING[name])


@pytest.mark.parametrize("name", PRESENT)
async def test_the_series_exist(monitored: Monitored, name: str) -> None:
    assert await monitored.prometheus.query(PRESENT[name]), PRESENT[name]


async def test_every_rule_evaluates_cleanly(monitored: Monitored) -> None:
    groups = (await monitored.prometheus.get("rules"))["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == len(alert_rules())
    failing = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not failing


@pytest.mark.parametrize("expr", dashboard_queries())
async def test_dashboard_queries_return_data(monitored: Monitored, expr: str) -> None:
    query = expr.replace("$__rate_interval", "1m")
    assert await monitored.prometheus.query(query), query


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule["alert"]))
async def test_alert_expressions_evaluate_and_their_signals_have_data(
    monitored: Monitored, rule: dict[str, Any]
) -> None:
    await monitored.prometheus.query(rule["expr"])  # an error fails get()
    assert await monitored.prometheus.query(signal_of(rule["expr"])), signal_of(rule["expr"])


@pytest.mark.parametrize("service", SERVICES)
async def test_live_expositions_pass_promtool(monitored: Monitored, service: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package"
    async with aiohttp.ClientSession() as http, http.get(monitored.metrics_urls[service]) as got:
        exposition = await got.read()
    check = await asyncio.create_subprocess_exec(
        promtool, "check", "metrics", stdin=PIPE, stdout=PIPE, stderr=STDOUT
    )
    output, _ = await check.communicate(exposition)
    assert check.returncode == 0, output.decode()
