"""A throwaway PostgreSQL cluster from Debian's packages, for tests and benchmarks.

``initdb`` into a folder, trust authentication, loopback only, a free port; runs as the
``postgres`` system user when started by root, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from infra.ports import free_port

PG_ROOT = Path("/usr/lib/postgresql")


def _binaries() -> Path:
    versions = sorted(PG_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not versions:
        raise RuntimeError(
            "PostgreSQL is not installed: apt-get install postgresql (or set TEST_POSTGRES_URL)"
        )
    return versions[-1].parent


class PostgresCluster:
    """A temporary PostgreSQL cluster with trust authentication on loopback.

    ``durable=False`` turns fsync off: right for tests, which throw the data away; a
    benchmark keeps PostgreSQL's default durability so its figures mean something.
    """

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        self.bin = _binaries()
        self.directory = directory
        self.durable = durable
        self.data = directory / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.user:
            shutil.chown(self.directory, self.user)
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=self.user,
            cwd=self.directory,
        )
        with (self.directory / "postgres.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.directory}",
                    "-c",
                    f"fsync={'on' if self.durable else 'off'}",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                user=self.user,
                cwd=self.directory,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        log_text = (self.directory / "postgres.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}:\n{log_text}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
