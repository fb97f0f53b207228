"""The image's one health check: which service it probes, where, and what it answers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from infra.healthcheck import container_service, main, probe_target

DEFAULT_TARGETS = {
    "emotion": "grpc://127.0.0.1:50051",
    "context": "grpc://127.0.0.1:50052",
    "orchestrator": "http://127.0.0.1:9104/metrics",
    "web_adapter": "http://127.0.0.1:8080/healthz",
    "sms_adapter": "http://127.0.0.1:8081/healthz",
    "social_adapter": "http://127.0.0.1:8082/healthz",
    "agent_desk": "http://127.0.0.1:8083/healthz",
    "email_adapter": "http://127.0.0.1:8084/healthz",
}


@pytest.mark.parametrize("service,target", DEFAULT_TARGETS.items())
def test_each_service_is_probed_where_it_listens(
    service: str, target: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BIND_HOST", "0.0.0.0")  # as in the image: probed on loopback
    # As compose runs them: gRPC servers off loopback only with their callers' tokens.
    monkeypatch.setenv("RAPPORT_GRPC_CALLERS", '{"orchestrator": "a-token-of-16-chars-or-more"}')
    assert probe_target(service) == target


def test_ports_come_from_the_same_environment_as_the_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAPPORT_EMOTION_GRPC_PORT", "6001")
    assert probe_target("emotion") == "grpc://127.0.0.1:6001"


def test_the_container_service_is_read_from_pid_1(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0services.context\0")
    assert container_service(cmdline) == "context"
    cmdline.write_bytes(b"python\0-m\0infra.kafka.create_topics\0--bootstrap\0kafka:9092\0")
    with pytest.raises(LookupError):
        container_service(cmdline)


def test_a_service_that_does_not_answer_is_unhealthy(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("RAPPORT_WEB_HTTP_PORT", str(port))
    monkeypatch.setenv("RAPPORT_CONTEXT_GRPC_PORT", str(port))
    assert main(["web_adapter"]) == 1
    assert main(["context"]) == 1
    assert main(["no_such_service"]) == 1
