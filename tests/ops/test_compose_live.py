"""docker-compose.yml deployed for real: the Compose CLI on podman, reached only through
the ports the stack publishes.

The production file runs with the test-only override ``tests/ops/compose.podman.yml``
(images built here, the test's own .env made from .env.example, engine-picked loopback
ports, a fake Twilio container). ``up --wait`` must bring every service to healthy by its
own health check; then a chat visitor gets an answer, a signed Twilio webhook makes the
SMS adapter send the reply to the fake Twilio, and Prometheus scrapes every target. The
``scale`` profile (three orchestrators, three emotion services) loses and duplicates no
message of 300 while one orchestrator is killed. ``down -v`` must leave no container,
volume or network behind (checked when the module's stack is taken down).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from twilio.rest import Client

from infra import container_image
from tests.e2e.chat_client import ChatClient
from tests.e2e.visitor import Visitor, converse
from tests.fakes.twilio_server import inbound_params, signed_webhook
from tests.kafka_helpers import eventually
from tests.ops import stack_images
from tests.ops.compose_engine import Compose, HealthTicker, build_compose_cli, podman_api
from tests.ops.conftest import REPO_ROOT, require_tool

# A first run on a clean machine builds the Compose CLI, the images and their bases.
pytestmark = pytest.mark.timeout(2400)

log = logging.getLogger(__name__)

PROJECT = "rapport-ops-live"
RAPPORT_IMAGE = "localhost/rapport:ops-test"  # rapport:${RAPPORT_VERSION} in the compose file
UP_TIMEOUT_SECONDS = 300
SCALE = ("scale",)
PUBLIC_HOOKS = "https://hooks.example.test"
CUSTOMER_PHONE = "+14155550188"
VISITORS = 30
MESSAGES_EACH = 10  # 300 messages
SECONDS_BETWEEN_MESSAGES = 1.0  # 30 a second for 10 s and more
KILL_AFTER_SECONDS = 3.0
SENDING_TIMEOUT = 120.0
REPLIES_TIMEOUT = 180.0


def long_running(compose: Compose) -> set[str]:
    """The services the deployment keeps up (``restart: unless-stopped``), without the
    profiles: not the one-shot topic creation, not the test's fake Twilio."""
    return {
        name
        for name, service in compose.services().items()
        if service.get("restart") == "unless-stopped"
    }


def operator_env(path: Path) -> Path:
    """.env as an operator makes it from .env.example: every CHANGE-ME value replaced
    (with a fresh secret), the rest kept; plus what this deployment needs to differ."""
    settings: dict[str, str] = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        if matched := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            name, value = matched.groups()
            kept, changed, _ = value.partition("CHANGE-ME")
            settings[name] = kept + secrets.token_hex(16) if changed else value
    settings |= {
        "KAFKA_CLUSTER_ID": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22],
        "RAPPORT_VERSION": RAPPORT_IMAGE.rpartition(":")[2],
        "RAPPORT_SMS_API_BASE_URL": "http://fake_twilio:8090",
        "RAPPORT_SMS_PUBLIC_BASE_URL": PUBLIC_HOOKS,
        "RAPPORT_SOCIAL_PUBLIC_BASE_URL": PUBLIC_HOOKS,
    }
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    return path


def health_interval() -> float:
    """Seconds between health checks, as docker-compose.yml sets them ("10s")."""
    compose_file = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    interval = str(compose_file["x-health"]["interval"])
    assert interval.endswith("s") and interval[:-1].isdigit(), interval
    return float(interval[:-1])


def env_value(compose: Compose, name: str) -> str:
    for line in compose.env_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.partition("=")[2]
    raise KeyError(name)


def leftovers(podman: str) -> dict[str, list[str]]:
    """The project's containers, volumes and networks that still exist."""
    label = f"--filter=label=com.docker.compose.project={PROJECT}"
    found = {
        kind: container_image.run([podman, *command, label]).split()
        for kind, command in {
            "containers": ["ps", "--all", "--quiet"],
            "volumes": ["volume", "ls", "--quiet"],
            "networks": ["network", "ls", "--quiet"],
        }.items()
    }
    return {kind: names for kind, names in found.items() if names}


@pytest.fixture(scope="module")
def compose(podman: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    """The stack, up and healthy for the module; taken down (volumes too) after it."""
    go = require_tool("go", "/usr/local/go/bin/go", install="Go 1.26+ (golang.org)")
    began = time.monotonic()
    cli = build_compose_cli(go)
    container_image.build(podman, RAPPORT_IMAGE)
    stack_images.build(podman)
    built = time.monotonic()
    workdir = tmp_path_factory.mktemp("compose-live")
    ticker = HealthTicker(podman, PROJECT, health_interval())
    with podman_api(podman, workdir) as docker_host, ticker:
        stack = Compose(cli, docker_host, PROJECT, operator_env(workdir / ".env"))
        stack("down", "--volumes", "--remove-orphans", profiles=SCALE)  # an interrupted run's
        try:
            try:
                stack(
                    "up",
                    "--detach",
                    "--wait",
                    f"--wait-timeout={UP_TIMEOUT_SECONDS}",
                    "--no-build",
                    timeout=UP_TIMEOUT_SECONDS + 60,
                )
            except RuntimeError as failed:  # say why: the services' own last words
                states = [(c["Service"], c["State"], c["Health"]) for c in stack.containers()]
                raise RuntimeError(f"{failed}\n{states}\n{last_lines(stack)}") from None
            log.info("built in %.0f s, up in %.0f s", built - began, time.monotonic() - built)
            yield stack
        finally:
            stack("down", "--volumes", "--remove-orphans", "--timeout=20", profiles=SCALE)
    assert leftovers(podman) == {}


def last_lines(compose: Compose, *services: str) -> str:
    """What the services said last, for a failure's report."""
    with contextlib.suppress(RuntimeError):
        return compose("logs", "--no-color", "--tail=15", *services, profiles=SCALE)
    return ""


def test_every_service_is_healthy_by_its_own_check(compose: Compose) -> None:
    """Every long-running container healthy (the fake Twilio has no check), the topics made."""
    containers = compose.containers(profiles=SCALE)
    states = {c["Name"]: (c["State"], c["Health"]) for c in containers}
    unchecked = {"kafka-init", "fake_twilio"}
    assert {c["Service"] for c in containers} >= long_running(compose) | unchecked
    assert {
        name: state
        for name, state in states.items()
        if not name.startswith((f"{PROJECT}-kafka-init-", f"{PROJECT}-fake_twilio-"))
        and state != ("running", "healthy")
    } == {}
    (topics,) = [c for c in containers if c["Service"] == "kafka-init"]
    assert (topics["State"], topics["ExitCode"]) == ("exited", 0)


async def test_a_chat_visitor_gets_an_answer_through_the_published_port(
    compose: Compose,
) -> None:
    visitor = await ChatClient.connect(compose.url("web_adapter", 8080))
    try:
        await visitor.say("Hello! What time do you open on Saturday?", "opening-hours")
        with contextlib.suppress(AssertionError):
            await eventually(lambda: bool(visitor.replies), 60)
    finally:
        await visitor.close()
    assert visitor.replies, last_lines(compose, "web_adapter", "orchestrator")
    (reply,) = visitor.replies
    assert reply["sender"] == "bot"
    assert "Saturday" in reply["text"]


def test_a_signed_twilio_webhook_gets_its_sms_reply_at_twilio(compose: Compose) -> None:
    token = env_value(compose, "RAPPORT_SMS_AUTH_TOKEN")
    account = env_value(compose, "RAPPORT_SMS_ACCOUNT_SID")
    params = inbound_params(CUSTOMER_PHONE, "Hi, do you deliver to Lyon?", account_sid=account)
    body, headers = signed_webhook(f"{PUBLIC_HOOKS}/twilio/sms", params, token)
    webhook = f"{compose.url('sms_adapter', 8081)}/twilio/sms"
    request = urllib.request.Request(webhook, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    # Read back with the Twilio library itself, from the fake Twilio's published port.
    twilio = Client(account, token)
    twilio.api.base_url = compose.url("fake_twilio", 8090)
    deadline = time.monotonic() + 60
    while not (sent := twilio.messages.list(to=CUSTOMER_PHONE)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(sent) == 1, last_lines(compose, "sms_adapter", "orchestrator")
    assert sent[0].from_ == env_value(compose, "RAPPORT_SMS_FROM_NUMBER")
    assert sent[0].body


def targets(prometheus: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/targets", timeout=10) as response:
        return list(json.load(response)["data"]["activeTargets"])


def test_prometheus_scrapes_every_service(compose: Compose) -> None:
    prometheus = compose.url("prometheus", 9090)
    jobs = long_running(compose) - {"kafka", "postgres"}  # neither exports metrics
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = targets(prometheus)
        health = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in found}
        if {job for job, _ in health} == jobs and set(health.values()) == {"up"}:
            return
        time.sleep(2)
    pytest.fail(f"not every target is up: {health}")


def up_scaled(compose: Compose) -> None:
    """The scale profile up and healthy beside the running stack, which is kept as it is
    (a killed container is started again)."""
    compose(
        "up",
        "--detach",
        "--wait",
        f"--wait-timeout={UP_TIMEOUT_SECONDS}",
        "--no-build",
        "--no-recreate",
        profiles=SCALE,
        timeout=UP_TIMEOUT_SECONDS + 60,
    )


@pytest.fixture
def scaled(compose: Compose) -> Iterator[Compose]:
    """The scale profile; whole again afterwards, for the module's other tests."""
    up_scaled(compose)
    yield compose
    up_scaled(compose)


async def test_scaled_out_no_message_is_lost_or_answered_twice_when_an_orchestrator_dies(
    scaled: Compose,
) -> None:
    compose = scaled
    running = [c["Service"] for c in compose.containers(profiles=SCALE) if c["State"] == "running"]
    assert running.count("orchestrator") + running.count("orchestrator-replica") == 3
    assert running.count("emotion") + running.count("emotion-replica") == 3

    web_url = compose.url("web_adapter", 8080)
    visitors = [
        Visitor(f"s{n:02d}", web_url, MESSAGES_EACH, SECONDS_BETWEEN_MESSAGES)
        for n in range(VISITORS)
    ]

    sent_before_the_kill: list[int] = []

    async def kill_an_orchestrator() -> None:
        await asyncio.sleep(KILL_AFTER_SECONDS)
        sent_before_the_kill.append(sum(len(v.sent) for v in visitors))
        await asyncio.to_thread(compose, "kill", "--signal=SIGKILL", "orchestrator")

    await converse(visitors, kill_an_orchestrator(), SENDING_TIMEOUT, REPLIES_TIMEOUT)

    sent = sum(len(v.sent) for v in visitors)
    assert 0 < sent_before_the_kill[0] < sent / 2, "the kill came before or after the messages"
    replied = sum(len(v.replies) for v in visitors)
    assert sent == VISITORS * MESSAGES_EACH
    assert replied == sent, last_lines(compose, "orchestrator", "orchestrator-replica")
    for visitor in visitors:
        assert visitor.replies_in_order() == visitor.expected(), visitor.name
