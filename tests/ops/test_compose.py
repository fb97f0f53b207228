"""docker-compose.yml as Docker Compose would resolve it, checked against the services' code.

The file is loaded by compose-spec's reference loader (infra/compose_check, the library
behind `docker compose config`) with .env.example as the operator's .env, so schema errors,
missing variables and broken merges fail here; the resolved model is then checked against
what each service really reads (its settings class) and the rules of the deployment.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.healthcheck import settings_of
from infra.kafka.embedded import kafka_version
from shared.config import GrpcServerSettings, ServiceSettings
from tests.ops.conftest import REPO_ROOT

SERVICES = sorted(path.parent.name for path in REPO_ROOT.glob("services/*/__main__.py"))
PUBLIC_HTTP = {"web_adapter", "sms_adapter", "social_adapter", "agent_desk"}
LOOPBACK_ONLY = {"prometheus": 9090, "grafana": 3000}
DOCKERFILE = "infra/docker/Dockerfile"
GRPC_ADDRESSES = {"context_address": "context", "emotion_address": "emotion"}


@dataclass(frozen=True)
class Project:
    model: dict[str, Any]
    workdir: Path  # what relative paths were resolved against

    @property
    def services(self) -> dict[str, Any]:
        return dict(self.model["services"])


def load(compose_check: Path, workdir: Path, *profiles: str) -> Project:
    """The resolved project, with .env.example copied in as .env."""
    shutil.copy(REPO_ROOT / "docker-compose.yml", workdir / "docker-compose.yml")
    shutil.copy(REPO_ROOT / ".env.example", workdir / ".env")
    result = subprocess.run(
        [str(compose_check), str(workdir), *profiles],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return Project(json.loads(result.stdout), workdir)


@pytest.fixture(scope="module")
def project(compose_check: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load(compose_check, tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def scaled(compose_check: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load(compose_check, tmp_path_factory.mktemp("compose-scale"), "scale")


def test_the_services_under_test_are_found() -> None:
    assert {"emotion", "context", "orchestrator", "web_adapter"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_runs_from_the_one_image_with_its_command_and_health_check(
    project: Project, service: str
) -> None:
    spec = project.services[service]
    assert spec["command"] == ["python", "-m", f"services.{service}"]
    assert spec["healthcheck"]["test"] == ["CMD", "python", "-m", "infra.healthcheck", service]
    assert spec["image"] == project.services["web_adapter"]["image"]
    assert spec["image"].startswith("rapport:")
    assert spec["build"]["dockerfile"] == DOCKERFILE
    assert spec["restart"] == "unless-stopped"
    limits = spec["deploy"]["resources"]["limits"]
    assert limits["cpus"] > 0 and int(limits["memory"]) > 0
    assert [Path(entry["path"]).name for entry in spec["env_file"]] == [".env"]


def compose_settings(
    project: Project, service: str, monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    """The service's settings as compose configures it."""
    with monkeypatch.context() as patch:
        for name, value in project.services[service]["environment"].items():
            patch.setenv(name, value)
        return settings_of(service)


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_accepts_its_compose_environment(
    project: Project,
    service: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env of the developer's
    settings = compose_settings(project, service, monkeypatch)  # validation errors fail
    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.bind_host == "0.0.0.0"
    for field, host in GRPC_ADDRESSES.items():
        if hasattr(settings, field):
            port = compose_settings(project, host, monkeypatch).grpc_port  # type: ignore[attr-defined]
            assert getattr(settings, field) == f"{host}:{port}"
    if hasattr(settings, "database_url"):
        assert settings.database_url.startswith("postgresql://")
        assert "@postgres:5432/" in settings.database_url


def test_grpc_servers_accept_exactly_their_clients_each_by_its_own_token(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env of the developer's
    settings = {service: compose_settings(project, service, monkeypatch) for service in SERVICES}
    servers = {s: v for s, v in settings.items() if isinstance(v, GrpcServerSettings)}
    assert servers.keys() == set(GRPC_ADDRESSES.values())
    tokens: dict[str, str] = {}
    for client, client_settings in settings.items():
        called = {host for field, host in GRPC_ADDRESSES.items() if hasattr(client_settings, field)}
        if not called:
            continue
        assert client_settings.grpc_token is not None, f"{client} calls gRPC without a token"
        tokens[client] = client_settings.grpc_token.get_secret_value()
        for server in called:
            assert servers[server].caller_tokens.get(client) == tokens[client], (client, server)
    for server, server_settings in servers.items():
        assert set(server_settings.caller_tokens) <= tokens.keys(), server
        assert not server_settings.grpc_allow_unauthenticated
    assert len(set(tokens.values())) == len(tokens), "two callers share a token"


def test_dependencies_wait_for_health_and_for_the_topics(project: Project) -> None:
    services = project.services
    for name, spec in services.items():
        for target, dependency in spec.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown {target}"
            if target == "kafka-init":
                assert dependency["condition"] == "service_completed_successfully"
            else:
                assert dependency["condition"] == "service_healthy", (name, target)
                assert "test" in services[target]["healthcheck"], f"{target} has no health check"
    assert services["orchestrator"]["depends_on"].keys() >= {"kafka-init", "emotion", "context"}
    assert services["context"]["depends_on"].keys() == {"postgres"}
    assert services["kafka-init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy", "required": True}
    }
    assert services["kafka-init"]["command"][:3] == ["python", "-m", "infra.kafka.create_topics"]


def test_only_webhooks_widget_and_desk_are_public(project: Project) -> None:
    published: dict[str, list[dict[str, Any]]] = {
        name: spec["ports"] for name, spec in project.services.items() if spec.get("ports")
    }
    assert published.keys() == PUBLIC_HTTP | LOOPBACK_ONLY.keys()
    for name in PUBLIC_HTTP:
        port = settings_of(name).http_port  # type: ignore[attr-defined]
        assert [(p["target"], int(p["published"])) for p in published[name]] == [(port, port)]
        assert not published[name][0].get("host_ip")
    for name, port in LOOPBACK_ONLY.items():
        assert [(p["host_ip"], p["target"]) for p in published[name]] == [("127.0.0.1", port)]


def test_third_party_images_are_pinned_and_kafka_matches_the_local_broker(
    project: Project,
) -> None:
    images = {
        name: spec["image"]
        for name, spec in project.services.items()
        if not spec["image"].startswith("rapport:")
    }
    assert set(images) == {"kafka", "postgres", "prometheus", "grafana"}
    for image in images.values():
        repository, _, tag = image.partition(":")
        assert tag and tag != "latest" and any(c.isdigit() for c in tag), image
    assert images["kafka"] == f"apache/kafka:{kafka_version()}"
    assert images["prometheus"].startswith("prom/prometheus:v")
    assert images["grafana"].startswith("grafana/grafana:")


def test_volumes_are_declared_used_and_bind_mounts_exist(project: Project) -> None:
    used: set[str] = set()
    for name, spec in project.services.items():
        for volume in spec.get("volumes", []):
            if volume["type"] == "volume":
                used.add(volume["source"])
            else:
                assert volume["type"] == "bind" and volume.get("read_only"), (name, volume)
                source = Path(volume["source"]).relative_to(project.workdir)
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
    assert used == set(project.model["volumes"])
    assert {"kafka-data", "postgres-data"} <= used


def test_the_scale_profile_adds_orchestrator_and_emotion_replicas(
    project: Project, scaled: Project
) -> None:
    replicas = set(scaled.services) - set(project.services)
    assert replicas == {"emotion-replica", "orchestrator-replica"}
    for name in replicas:
        base = name.removesuffix("-replica")
        spec = scaled.services[name]
        assert spec["command"] == scaled.services[base]["command"]
        assert spec["environment"] == scaled.services[base]["environment"]
        assert spec["healthcheck"]["test"] == scaled.services[base]["healthcheck"]["test"]
        assert spec["deploy"]["replicas"] >= 2
        assert spec["deploy"]["resources"]["limits"]
        # Under the base name, so gRPC clients and Prometheus' DNS discovery find them.
        assert spec["networks"]["default"]["aliases"] == [base]
