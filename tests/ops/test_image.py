"""The image built and run on a real container engine (podman), as a deployment runs it.

The Dockerfile is built on a local Debian base (``infra.container_image``: no image registry
is reachable where the tests run). The services that start without Kafka run one container
each, with compose's memory limits: the emotion service, and the context service on SQLite in
the image's /data volume. Each must turn healthy by the image's own HEALTHCHECK, answer on
its published ports, run unprivileged, and leave no container or volume behind.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import grpc
import pytest
import yaml
from rapport.emotion.v1 import emotion_service_pb2, emotion_service_pb2_grpc

from infra import container_image
from infra.healthcheck import is_healthy
from services.context.config import ContextSettings
from services.emotion.config import EmotionSettings
from shared.config import GrpcServerSettings
from tests.ops.conftest import REPO_ROOT

# A first build on a clean machine debootstraps the base and builds every layer.
pytestmark = pytest.mark.timeout(1500)

TAG = "localhost/rapport:ops-test"
TOKEN = secrets.token_urlsafe(32)
HEALTHY_WITHIN_SECONDS = 180.0
# The services that need neither Kafka nor PostgreSQL, with what compose gives them.
SERVICES: dict[str, dict[str, str]] = {
    "emotion": {},
    "context": {
        "DATABASE_URL": "sqlite:////data/context.sqlite3",
        "RAPPORT_CONTEXT_HASH_KEY": secrets.token_urlsafe(32),
    },
}
SETTINGS: dict[str, type[GrpcServerSettings]] = {
    "emotion": EmotionSettings,
    "context": ContextSettings,
}
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


# What no service reads at run time: documentation, the models' training (code, data and
# its requirements) and the knowledge scoring's development queries.
LEFT_OUT = ("*.md", "*.pyc", "services/emotion/training/*", "services/orchestrator/knowledge/dev/*")


def is_left_out(path: Path) -> bool:
    return "__pycache__" in path.parts or any(fnmatch(str(path), p) for p in LEFT_OUT)


def installed_as(path: Path) -> str:
    """Where a repository file is installed (the generated stubs import as ``rapport``)."""
    generated = Path("shared", "gen")
    return str(path.relative_to(generated) if path.is_relative_to(generated) else path)


def podman_run(podman: str, *args: str, timeout: float = 120) -> str:
    return container_image.run([podman, *args], timeout=timeout)


def port(service: str, field: str) -> int:
    """The port ``service`` listens on inside its container (no port is configured there)."""
    return int(SETTINGS[service].model_fields[field].default)


def memory_limit(service: str) -> str:
    """The service's memory limit in docker-compose.yml, which it must start within."""
    return str(COMPOSE["services"][service]["deploy"]["resources"]["limits"]["memory"])


@pytest.fixture(scope="module")
def image(podman: str) -> str:
    """The image, built once per run; podman's layer cache makes a rebuild quick."""
    return container_image.build(podman, TAG)


@dataclass(frozen=True)
class Container:
    podman: str
    id: str
    service: str

    def inspect(self, template: str) -> str:
        return podman_run(self.podman, "inspect", "--format", template, self.id).strip()

    def published(self, port: int) -> int:
        """The host port (on 127.0.0.1) that ``port`` inside is published on."""
        address = podman_run(self.podman, "port", self.id, f"{port}/tcp").strip()
        return int(address.rpartition(":")[2])

    def logs(self) -> str:
        result = subprocess.run(
            [self.podman, "logs", "--tail", "60", self.id],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout + result.stderr

    def wait_healthy(self, timeout: float) -> None:
        """Run the image's health check until it passes, as the engine's scheduler would
        (podman schedules it with systemd timers, absent here)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check = subprocess.run(
                [self.podman, "healthcheck", "run", self.id],
                capture_output=True,
                text=True,
                check=False,
            )
            if check.returncode == 0:
                return
            if self.inspect("{{.State.Running}}") != "true":
                pytest.fail(f"{self.service} exited:\n{self.logs()}")
            time.sleep(1)
        pytest.fail(f"{self.service} not healthy after {timeout:.0f} s:\n{self.logs()}")


def start(podman: str, image: str, service: str) -> Container:
    ports = (port(service, "grpc_port"), port(service, "metrics_port"))
    environment = {
        "RAPPORT_GRPC_CALLERS": json.dumps({"orchestrator": TOKEN}),
        **SERVICES[service],
    }
    container_id = podman_run(
        podman,
        "run",
        "--detach",
        f"--name=rapport-ops-{service}-{secrets.token_hex(4)}",
        f"--memory={memory_limit(service)}",
        *(f"--publish=127.0.0.1::{inside}" for inside in ports),
        *(f"--env={name}={value}" for name, value in environment.items()),
        image,
        "python",
        "-m",
        f"services.{service}",
    ).strip()
    return Container(podman, container_id, service)


def remove(container: Container) -> None:
    """Remove the container and its anonymous volume (the image's /data); check both went."""
    volumes = container.inspect('{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}')
    podman_run(container.podman, "rm", "--force", "--volumes", "--time=10", container.id)
    left = podman_run(container.podman, "ps", "--all", "--quiet", "--no-trunc").split()
    assert container.id not in left
    existing = set(podman_run(container.podman, "volume", "ls", "--quiet").split())
    assert not existing & set(volumes.split()), f"{container.service} left volumes behind"


@pytest.fixture(scope="module")
def containers(podman: str, image: str) -> Iterator[dict[str, Container]]:
    """One healthy container per service, started together, removed after the module."""
    started: dict[str, Container] = {}
    try:
        for service in SERVICES:
            started[service] = start(podman, image, service)
        for container in started.values():
            container.wait_healthy(HEALTHY_WITHIN_SECONDS)
        yield started
    finally:
        for container in started.values():
            remove(container)


def test_the_image_keeps_its_user_health_check_and_default_service(podman: str, image: str) -> None:
    (config,) = json.loads(podman_run(podman, "image", "inspect", image))
    assert config["Config"]["User"] == "10001:10001"
    assert config["Config"]["Cmd"] == ["python", "-m", "services.web_adapter"]
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "-m", "infra.healthcheck"]
    assert list(config["Config"]["Volumes"]) == ["/data"]


def test_every_file_the_services_read_reaches_the_image(podman: str, image: str) -> None:
    """Models, templates, static files and migrations are package data: a pattern missing
    from pyproject.toml leaves a file out of the wheel, and the service fails at run time."""
    listing = podman_run(
        podman,
        "run",
        "--rm",
        image,
        "python",
        "-c",
        "import pathlib, services, shared, rapport\n"
        "for package in (services, shared, rapport):\n"
        "    top = pathlib.Path(package.__path__[0])\n"
        "    for path in top.rglob('*'):\n"
        "        if path.is_file() and '__pycache__' not in path.parts:\n"
        "            print(path.relative_to(top.parent))",
    )
    shipped = set(listing.split())
    wanted = {
        installed_as(path.relative_to(REPO_ROOT))
        for top in ("services", "shared")
        for path in (REPO_ROOT / top).rglob("*")
        if path.is_file() and not is_left_out(path.relative_to(REPO_ROOT))
    }
    assert sorted(wanted - shipped) == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_engine_reports_each_service_healthy(
    containers: dict[str, Container], service: str
) -> None:
    assert containers[service].inspect("{{.State.Health.Status}}") == "healthy"


@pytest.mark.parametrize("service", SERVICES)
def test_grpc_health_and_metrics_answer_on_the_published_ports(
    containers: dict[str, Container], service: str
) -> None:
    container = containers[service]
    assert is_healthy(f"grpc://127.0.0.1:{container.published(port(service, 'grpc_port'))}")
    metrics_url = f"http://127.0.0.1:{container.published(port(service, 'metrics_port'))}/metrics"
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        assert response.status == 200
        assert b"python_info{" in response.read()


@pytest.mark.parametrize("service", SERVICES)
def test_services_run_unprivileged(containers: dict[str, Container], service: str) -> None:
    uid = podman_run(containers[service].podman, "exec", containers[service].id, "id", "-u")
    assert uid.strip() == "10001"


def test_the_context_store_lives_in_the_data_volume(containers: dict[str, Container]) -> None:
    container = containers["context"]
    mounts = json.loads(container.inspect("{{json .Mounts}}"))
    assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/data")]
    size = podman_run(
        container.podman, "exec", container.id, "stat", "-c", "%s", "/data/context.sqlite3"
    )
    assert int(size) > 0


def test_emotion_answers_its_caller_and_refuses_a_stranger(
    containers: dict[str, Container],
) -> None:
    container = containers["emotion"]
    address = f"127.0.0.1:{container.published(port('emotion', 'grpc_port'))}"
    request = emotion_service_pb2.AnalyzeRequest(text="My order still hasn't arrived, I'm furious")
    with grpc.insecure_channel(address) as channel:
        stub = emotion_service_pb2_grpc.EmotionServiceStub(channel)
        answer = stub.Analyze(request, metadata=[("authorization", f"Bearer {TOKEN}")], timeout=30)
        with pytest.raises(grpc.RpcError) as refused:
            stub.Analyze(request, timeout=30)
    assert answer.language.code == "en"
    assert answer.dominant_emotion
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    metrics_url = f"http://127.0.0.1:{container.published(port('emotion', 'metrics_port'))}/metrics"
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        metrics = response.read().decode()
    assert "rapport_grpc_unauthenticated_calls_total{" in metrics
