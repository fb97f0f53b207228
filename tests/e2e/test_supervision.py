"""``make run``'s supervisor: a process killed with SIGKILL comes back, the others never stop.

The stack runs exactly as ``make run`` runs it (``python -m infra.supervise`` reading the
Procfile), on free ports and a broker of its own, with every Procfile process but the local
Prometheus, whose address the Procfile fixes.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from supervisor.xmlrpc import SupervisorTransport

from infra.healthcheck import is_healthy, probe_target, settings_of
from infra.ports import free_port
from infra.supervise import PROCFILE, read_procfile, socket_path
from tests.e2e.stack import REPO_ROOT

pytestmark = pytest.mark.e2e

SUPERVISED = tuple(p.name for p in read_procfile(PROCFILE.read_text()) if p.name != "prometheus")
_SERVICE_MODULE = re.compile(r"python -m services\.(\w+)")


def procfile_services() -> dict[str, str]:
    """Procfile name -> ``services.<module>`` name, for the processes that are services."""
    return {
        process.name: match[1]
        for process in read_procfile(PROCFILE.read_text())
        if (match := _SERVICE_MODULE.search(process.command))
    }


def stack_environment(kafka_bootstrap: str, workdir: Path) -> dict[str, str]:
    """``make run``'s environment with every port of every service moved to a free one."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "DATABASE_URL": f"sqlite:///{workdir / 'context.sqlite3'}",
        "RAPPORT_AGENT_DESK_DATABASE_URL": f"sqlite:///{workdir / 'agent_desk.sqlite3'}",
        "RAPPORT_EMAIL_DATABASE_URL": f"sqlite:///{workdir / 'email.sqlite3'}",
    }
    for module in procfile_services().values():
        settings = type(settings_of(module))
        prefix = settings.model_config.get("env_prefix", "")
        for field in settings.model_fields:
            if field.endswith("_port"):
                env[f"{prefix}{field}".upper()] = str(free_port())
    env["EMOTION_ADDRESS"] = f"127.0.0.1:{env['RAPPORT_EMOTION_GRPC_PORT']}"
    env["CONTEXT_ADDRESS"] = f"127.0.0.1:{env['RAPPORT_CONTEXT_GRPC_PORT']}"
    return env


def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout:g}s")
        time.sleep(0.2)


@dataclass
class Supervised:
    """supervisord running the stack, and what its XML-RPC interface says about it."""

    process: subprocess.Popen[bytes]
    output: Path
    rpc: xmlrpc.client.ServerProxy
    health_targets: dict[str, str]

    def pids(self) -> dict[str, int]:
        """Each process's pid, 0 while it is not running."""
        return {info["name"]: info["pid"] for info in self.rpc.supervisor.getAllProcessInfo()}

    def running_pids(self) -> list[int]:
        """The pids of what runs now; none when supervisord does not answer."""
        try:
            return [pid for pid in self.pids().values() if pid]
        except OSError:
            return []

    def healthy(self, name: str) -> bool:
        """Whether the process answers as healthy: its health check if it is a service,
        else (the broker launcher) supervisord's word that it is running."""
        target = self.health_targets.get(name)
        if target is not None:
            return is_healthy(target)
        return bool(self.rpc.supervisor.getProcessInfo(name)["statename"] == "RUNNING")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def supervised(
    own_kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Supervised]:
    workdir = tmp_path_factory.mktemp("supervised")
    env = stack_environment(own_kafka_bootstrap, workdir)
    with mock.patch.dict(os.environ, env):  # probed where the services' settings say
        targets = {name: probe_target(module) for name, module in procfile_services().items()}
    output = workdir / "output.log"
    with open(output, "ab") as sink:  # appending, as supervisord's own handles do
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.supervise", "--run-dir", str(workdir), *SUPERVISED],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    rpc = xmlrpc.client.ServerProxy(
        "http://127.0.0.1",
        transport=SupervisorTransport(None, None, f"unix://{socket_path(workdir)}"),
    )
    stack = Supervised(process, output, rpc, targets)
    try:
        eventually(socket_path(workdir).exists, 30, "supervisord's socket")
        eventually(
            lambda: all(stack.healthy(name) for name in SUPERVISED), 120, "every process healthy"
        )
        yield stack
    except BaseException:
        print(stack.log_tail())
        raise
    finally:
        pids = stack.running_pids()
        rpc("close")()
        process.send_signal(signal.SIGINT)  # Ctrl-C
        code = process.wait(90)
    stopped = dict(re.findall(r"stopped: (\w+) \((.*?)\)", output.read_text(errors="replace")))
    assert code == 0, stack.log_tail()
    assert stopped == dict.fromkeys(SUPERVISED, "exit status 0"), stack.log_tail()
    assert not [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(procfile_services()))
def test_a_killed_process_is_started_again_and_the_others_keep_running(
    supervised: Supervised, name: str
) -> None:
    before = supervised.pids()
    os.kill(before[name], signal.SIGKILL)

    eventually(
        lambda: supervised.pids()[name] not in (0, before[name]), 30, f"a new {name} process"
    )
    eventually(lambda: supervised.healthy(name), 60, f"{name} healthy again")

    after = supervised.pids()
    assert after[name] != before[name]
    others = set(before) - {name}
    assert {n: after[n] for n in others} == {n: before[n] for n in others}
