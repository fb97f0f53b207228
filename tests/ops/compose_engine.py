"""The real Docker Compose CLI on podman, as the live deployment test drives it.

Compose comes from the Go module proxy at the version below, built from a copy of its
module (``go install`` refuses its ``exclude`` directives) into ``var/cache`` once. It
talks to podman's Docker-compatible API (``podman system service``) on a socket of the
test's own. Podman schedules health checks with systemd timers, which this kind of
machine lacks, so :class:`HealthTicker` runs them as the engine would (``podman
healthcheck run``) for every container of the project that is not yet healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.container_image import run
from tests.ops.conftest import REPO_ROOT, built_once

COMPOSE_MODULE = "github.com/docker/compose/v5"
COMPOSE_VERSION = "v5.6.0"


def build_compose_cli(go: str) -> Path:
    """The ``docker-compose`` binary at ``COMPOSE_VERSION``, built once."""

    def build(staging: Path) -> None:
        downloaded = run(
            [go, "mod", "download", "-json", f"{COMPOSE_MODULE}@{COMPOSE_VERSION}"], cwd=staging
        )
        source = staging / "src"
        shutil.copytree(json.loads(downloaded)["Dir"], source)
        version = f"-X {COMPOSE_MODULE}/internal.Version={COMPOSE_VERSION}"
        binary = staging / "docker-compose"
        run(
            [go, "build", "-trimpath", f"-ldflags=-s -w {version}", "-o", binary, "./cmd"],
            cwd=source,
        )
        shutil.rmtree(source)

    return built_once(f"compose-cli-{COMPOSE_VERSION}", build) / "docker-compose"


@contextlib.contextmanager
def podman_api(podman: str, directory: Path) -> Iterator[str]:
    """podman's Docker-compatible API on a socket in ``directory``: its DOCKER_HOST."""
    path = directory / "podman.sock"
    log = (directory / "podman-service.log").open("w")
    service = subprocess.Popen(
        [podman, "system", "service", "--time=0", f"unix://{path}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _answers(path):
            if service.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"podman system service did not start: {path}")
            time.sleep(0.2)
        yield f"unix://{path}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()


def _answers(path: Path) -> bool:
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as client:
        client.connect(str(path))
        return True
    return False


@dataclass
class HealthTicker:
    """Runs the health check of every container of ``project`` that is starting or
    unhealthy once per ``interval`` (the compose file's), as the engine's scheduler would:
    checked more often, a slow start would use up its retries early and turn unhealthy."""

    podman: str
    project: str
    interval: float
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _checked_at: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> HealthTicker:
        self._thread = threading.Thread(target=self._tick, name="health-ticker", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _tick(self) -> None:
        with ThreadPoolExecutor(max_workers=4) as pool:
            while not self._stop.wait(1.0):
                list(pool.map(self._check, self._due()))

    def _due(self) -> list[str]:
        """Waiting containers whose last check is an interval old (new ones at once)."""
        listed = subprocess.run(
            [
                self.podman,
                "ps",
                "--quiet",
                f"--filter=label=com.docker.compose.project={self.project}",
                "--filter=health=starting",
                "--filter=health=unhealthy",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        now = time.monotonic()
        due = [
            container
            for container in listed.stdout.split()
            if now - self._checked_at.get(container, -self.interval) >= self.interval
        ]
        self._checked_at.update(dict.fromkeys(due, now))
        return due

    def _check(self, container: str) -> None:
        subprocess.run(
            [self.podman, "healthcheck", "run", container], capture_output=True, check=False
        )


@dataclass(frozen=True)
class Compose:
    """``docker compose`` for one project: the production file, the test override."""

    cli: Path
    docker_host: str
    project: str
    env_file: Path
    files: tuple[Path, ...] = (
        REPO_ROOT / "docker-compose.yml",
        REPO_ROOT / "tests" / "ops" / "compose.podman.yml",
    )

    def __call__(self, *args: str, profiles: Sequence[str] = (), timeout: float = 900) -> str:
        command = [
            str(self.cli),
            f"--project-name={self.project}",
            f"--env-file={self.env_file}",
            *(f"--file={file}" for file in self.files),
            *(f"--profile={profile}" for profile in profiles),
            *args,
        ]
        environment = {
            **os.environ,
            "DOCKER_HOST": self.docker_host,
            "RAPPORT_OPS_ENV_FILE": str(self.env_file),
        }
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"docker compose {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}{done.stderr[-6000:]}"
            )
        return done.stdout

    def url(self, service: str, port: int) -> str:
        """``http://127.0.0.1:<host port>`` that ``port`` of ``service`` is published on."""
        published = self("port", service, str(port)).strip()
        return f"http://127.0.0.1:{published.rpartition(':')[2]}"

    def services(self) -> dict[str, dict[str, Any]]:
        """The services as Compose resolves the files (override, profiles, .env applied)."""
        return dict(json.loads(self("config", "--format=json"))["services"])

    def containers(self, *, profiles: Sequence[str] = ()) -> list[dict[str, str]]:
        """``compose ps --all`` as records (Service, Name, State, Health, ...)."""
        listed = self("ps", "--all", "--format=json", profiles=profiles)
        return [json.loads(line) for line in listed.splitlines() if line.strip()]
