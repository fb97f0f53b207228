"""Runs Rapport's services as real processes on free ports, as ``make run`` would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.ports import free_port
from tests.conftest import unique

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("emotion", "context", "orchestrator", "web_adapter", "agent_desk")
# Started on demand by the tests that need them (``start_sms_adapter``,
# ``start_social_adapter``, ``start_email_adapter``).
OPTIONAL_SERVICES = ("sms_adapter", "social_adapter", "email_adapter")


def _knowledge_loaded(metrics: str) -> bool:
    """Whether the orchestrator's metrics show the knowledge's articles loaded."""
    for line in metrics.splitlines():
        if line.startswith("rapport_orchestrator_knowledge_articles "):
            return float(line.split()[1]) > 0
    return False


@dataclass
class Stack:
    """The services of the walking skeleton and the agent desk, each its own
    ``python -m services.<name>``."""

    kafka_bootstrap: str
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)
    # Settings of one service alone, over ``env`` (each gRPC caller's own token).
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = (
            "emotion_grpc",
            "context_grpc",
            "web_http",
            "desk_http",
            "sms_http",
            "social_http",
            "email_http",
            *(f"{service}_metrics" for service in (*SERVICES, *OPTIONAL_SERVICES)),
        )
        self.ports = {name: free_port() for name in names}
        self.orchestrator_group = unique("orchestrator")
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "EMOTION_ADDRESS": self.emotion_address,
            "CONTEXT_ADDRESS": self.context_address,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'context.sqlite3'}",
            "RAPPORT_EMOTION_GRPC_PORT": str(self.ports["emotion_grpc"]),
            "RAPPORT_CONTEXT_GRPC_PORT": str(self.ports["context_grpc"]),
            "RAPPORT_WEB_HTTP_PORT": str(self.ports["web_http"]),
            "RAPPORT_EMOTION_METRICS_PORT": str(self.ports["emotion_metrics"]),
            "RAPPORT_CONTEXT_METRICS_PORT": str(self.ports["context_metrics"]),
            "RAPPORT_ORCHESTRATOR_METRICS_PORT": str(self.ports["orchestrator_metrics"]),
            "RAPPORT_WEB_METRICS_PORT": str(self.ports["web_adapter_metrics"]),
            "RAPPORT_ORCHESTRATOR_CONSUMER_GROUP": self.orchestrator_group,
            "RAPPORT_ORCHESTRATOR_INSTANCE_ID": "orchestrator-1",
            "RAPPORT_WEB_CONSUMER_GROUP": unique("web"),
            "RAPPORT_WEB_INSTANCE_ID": "web-1",
            "RAPPORT_AGENT_DESK_HTTP_PORT": str(self.ports["desk_http"]),
            "RAPPORT_AGENT_DESK_METRICS_PORT": str(self.ports["agent_desk_metrics"]),
            "RAPPORT_AGENT_DESK_DATABASE_URL": f"sqlite:///{self.workdir / 'agent_desk.sqlite3'}",
            "RAPPORT_AGENT_DESK_CONSUMER_GROUP": unique("agent-desk"),
            "RAPPORT_AGENT_DESK_MEDIA_DIR": str(self.workdir / "desk_media"),
            # Where the desk opens customers' media, and where the adapters fetch agents'.
            "WEB_ADAPTER_URL": self.web_url,
            "SMS_ADAPTER_URL": self.sms_url,
            "SOCIAL_ADAPTER_URL": self.social_url,
            "EMAIL_ADAPTER_URL": self.email_url,
            "AGENT_DESK_URL": self.desk_url,
            "OUTBOUND_MEDIA_ORIGINS": json.dumps([self.desk_url]),
        }

    @property
    def emotion_address(self) -> str:
        return f"127.0.0.1:{self.ports['emotion_grpc']}"

    @property
    def context_address(self) -> str:
        return f"127.0.0.1:{self.ports['context_grpc']}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web_http']}"

    @property
    def desk_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['desk_http']}"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sms_http']}"

    @property
    def social_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['social_http']}"

    @property
    def email_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['email_http']}"

    def start_sms_adapter(self, twilio_url: str, account_sid: str, auth_token: str) -> str:
        """Runs the SMS adapter against a fake Twilio at ``twilio_url``; returns the public
        base URL webhooks must be signed for."""
        public = "https://sms-hooks.example.test"
        self.env.update(
            {
                "RAPPORT_SMS_HTTP_PORT": str(self.ports["sms_http"]),
                "RAPPORT_SMS_METRICS_PORT": str(self.ports["sms_adapter_metrics"]),
                "RAPPORT_SMS_ACCOUNT_SID": account_sid,
                "RAPPORT_SMS_AUTH_TOKEN": auth_token,
                "RAPPORT_SMS_API_BASE_URL": twilio_url,
                "RAPPORT_SMS_PUBLIC_BASE_URL": public,
                "RAPPORT_SMS_CONSUMER_GROUP": unique("sms"),
            }
        )
        self.restart("sms_adapter")
        return public

    def start_social_adapter(
        self, graph_url: str, app_secret: str, whatsapp_token: str, phone_number_id: str
    ) -> None:
        """Runs the social adapter against a fake Graph API at ``graph_url``; its webhooks
        are checked against ``app_secret`` (its own URL, no proxy in between)."""
        self.env.update(
            {
                "RAPPORT_SOCIAL_HTTP_PORT": str(self.ports["social_http"]),
                "RAPPORT_SOCIAL_METRICS_PORT": str(self.ports["social_adapter_metrics"]),
                "RAPPORT_SOCIAL_META_APP_SECRET": app_secret,
                "RAPPORT_SOCIAL_WHATSAPP_ACCESS_TOKEN": whatsapp_token,
                "RAPPORT_SOCIAL_WHATSAPP_PHONE_NUMBER_ID": phone_number_id,
                "RAPPORT_SOCIAL_GRAPH_API_BASE_URL": graph_url,
                "RAPPORT_SOCIAL_CONSUMER_GROUP": unique("social"),
            }
        )
        self.restart("social_adapter")

    def start_email_adapter(self, mailboxes: Sequence[Mapping[str, Any]]) -> None:
        """Runs the email adapter on ``mailboxes`` (``Mailbox`` fields: loopback IMAP and
        SMTP servers), polling often so a test need not wait for IDLE's renewal."""
        self.env.update(
            {
                "RAPPORT_EMAIL_HTTP_PORT": str(self.ports["email_http"]),
                "RAPPORT_EMAIL_METRICS_PORT": str(self.ports["email_adapter_metrics"]),
                "RAPPORT_EMAIL_MAILBOXES": json.dumps(list(mailboxes)),
                "RAPPORT_EMAIL_DATABASE_URL": f"sqlite:///{self.workdir / 'email.sqlite3'}",
                "RAPPORT_EMAIL_MEDIA_DIR": str(self.workdir / "email_media"),
                "RAPPORT_EMAIL_CONSUMER_GROUP": unique("email"),
                "RAPPORT_EMAIL_POLL_SECONDS": "0.5",
                "RAPPORT_EMAIL_RECONNECT_SECONDS": "0.2",
            }
        )
        self.restart("email_adapter")

    def restart(self, service: str) -> None:
        """(Re)starts a service with the current settings: a test before may have run it
        against another fake, or with other settings."""
        if service in self.processes:
            self.stop(service)
        self.start(service)
        self.wait_ready(service)

    @contextmanager
    def reconfigured(self, service: str, settings: Mapping[str, str]) -> Iterator[None]:
        """Runs ``service`` with ``settings`` added to its environment, then as before;
        nothing is restarted when there are none."""
        if not settings:
            yield
            return
        before = {name: self.env.get(name) for name in settings}
        self.env.update(settings)
        self.restart(service)
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    self.env.pop(name, None)
                else:
                    self.env[name] = value
            self.restart(service)

    def desk_command(self, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        """Runs ``python -m services.agent_desk <args>`` against this stack's desk database."""
        return subprocess.run(
            [sys.executable, "-m", "services.agent_desk", *args],
            cwd=REPO_ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def metrics_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[f'{service}_metrics']}/metrics"

    def start(self, service: str) -> None:
        log = self.logs.get(service) or open(self.workdir / f"{service}.log", "ab")  # noqa: SIM115
        self.logs[service] = log
        self.processes[service] = subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            cwd=REPO_ROOT,
            env={**self.env, **self.service_env.get(service, {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def start_all(self) -> None:
        for service in SERVICES:
            self.start(service)
        for service in SERVICES:
            self.wait_ready(service)

    def wait_ready(self, service: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with {process.returncode}:\n{self.log_tail(service)}"
                )
            if self._answers(service):
                return
            time.sleep(0.1)
        raise TimeoutError(f"{service} not ready in {timeout}s:\n{self.log_tail(service)}")

    def _answers(self, service: str) -> bool:
        if service in ("emotion", "context"):
            address = self.emotion_address if service == "emotion" else self.context_address
            try:
                with grpc.insecure_channel(address) as channel:
                    status = (
                        health_pb2_grpc.HealthStub(channel)
                        .Check(health_pb2.HealthCheckRequest(), timeout=1)
                        .status
                    )
                return bool(status == health_pb2.HealthCheckResponse.SERVING)
            except grpc.RpcError:
                return False
        health = {
            "web_adapter": self.web_url,
            "agent_desk": self.desk_url,
            "sms_adapter": self.sms_url,
            "social_adapter": self.social_url,
            "email_adapter": self.email_url,
        }
        url = f"{health[service]}/healthz" if service in health else self.metrics_url(service)
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                body = response.read().decode()
                if response.status != 200:
                    return False
        except OSError:
            return False
        # The orchestrator takes messages at once, but answers from the knowledge only once
        # the emotion service has embedded its questions: ready is when it can.
        return service != "orchestrator" or _knowledge_loaded(body)

    def kill(self, service: str) -> None:
        """SIGKILL: no graceful shutdown, as in a crash or an OOM kill."""
        process = self.processes[service]
        process.kill()
        process.wait(10)

    def stop(self, service: str, timeout: float = 20) -> int:
        process = self.processes[service]
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        return int(process.returncode)

    def stop_all(self) -> dict[str, int]:
        started = [s for s in OPTIONAL_SERVICES if s in self.processes]
        codes = {service: self.stop(service) for service in (*started, *reversed(SERVICES))}
        for log in self.logs.values():
            log.close()
        return codes

    def log_tail(self, service: str, lines: int = 40) -> str:
        path = self.workdir / f"{service}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )
