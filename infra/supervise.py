"""Run the Procfile's processes under supervisord: ``make run``'s supervisor.

The Procfile stays the one list of processes; this turns it into a supervisord
configuration and hands the terminal over to supervisord. A process that dies is
restarted at once; one that keeps dying within ``START_SECONDS`` of its start waits 1 s,
2 s, 3 s... before each new try and is given up after ``START_RETRIES`` tries. The others
keep running meanwhile. SIGINT (Ctrl-C) or SIGTERM stops the Rapport processes together,
then the broker, each with SIGTERM first. Every child runs in its own process group, so a
Ctrl-C in the terminal reaches supervisord alone, which then stops them in that order.

``python -m infra.supervise [NAME ...]`` runs every Procfile process, or only those named.
"""

from __future__ import annotations

import argparse
import configparser
import io
import os
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PROCFILE = REPO_ROOT / "Procfile"
RUN_DIR = REPO_ROOT / "var" / "run"

BROKER = "kafka"
"""The Procfile process every other one needs: started first, stopped last."""
GROUP = "rapport"
"""The supervisord group of every other process; ``supervisorctl restart rapport:web``."""
BROKER_PRIORITY, GROUP_PRIORITY = 100, 200
"""supervisord starts lower priorities first and stops them last, a group's processes at once."""
START_SECONDS = 5
"""A process that lives this long counts as started; one dying sooner is backed off."""
START_RETRIES = 20
"""Quick deaths in a row before supervisord gives a process up (waits of 1 s, 2 s... 20 s)."""
STOP_SECONDS = {BROKER: 40}
"""Seconds a process gets between SIGTERM and SIGKILL: the broker's own shutdown takes up
to 30 s (``infra.kafka.embedded.STOP_TIMEOUT``)."""
DEFAULT_STOP_SECONDS = 20
"""Twice a service's default shutdown grace (``SHUTDOWN_GRACE_SECONDS``)."""

STDOUT = "/dev/stdout"
"""supervisord's own standard output, as a log file path (never rotated)."""

_PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>\S.*)$")


class ProcfileError(ValueError):
    """The Procfile, or a process name asked for, cannot be run as written."""


@dataclass(frozen=True, slots=True)
class Process:
    """One Procfile line: a name and the shell command that runs it."""

    name: str
    command: str


def read_procfile(text: str) -> list[Process]:
    """The processes of a Procfile, in order; blank lines and ``#`` comments are skipped.

    Every command must ``exec`` its program, so that supervisord's signals reach the
    program itself rather than the shell that starts it.
    """
    processes: list[Process] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _PROCFILE_LINE.match(line.strip())
        if match is None:
            raise ProcfileError(f"Procfile line {number} is not 'name: command': {line!r}")
        process = Process(match["name"], match["command"].strip())
        if not process.command.startswith("exec "):
            raise ProcfileError(
                f"Procfile line {number}: {process.name}'s command must start with 'exec ' "
                "so that stop signals reach the program, not its shell"
            )
        if any(known.name == process.name for known in processes):
            raise ProcfileError(f"Procfile line {number}: {process.name} is listed twice")
        processes.append(process)
    if not processes:
        raise ProcfileError("the Procfile lists no process")
    return processes


def select(processes: Sequence[Process], names: Iterable[str]) -> list[Process]:
    """The processes named (all when none is), in Procfile order."""
    wanted = set(names)
    unknown = wanted - {process.name for process in processes}
    if unknown:
        known = ", ".join(process.name for process in processes)
        raise ProcfileError(f"not in the Procfile: {', '.join(sorted(unknown))} (it has {known})")
    return [process for process in processes if not wanted or process.name in wanted]


def socket_path(run_dir: Path) -> Path:
    """Where supervisord answers ``supervisorctl`` (a Unix socket only its user may open)."""
    return run_dir / "supervisor.sock"


def config_path(run_dir: Path) -> Path:
    return run_dir / "supervisord.conf"


def supervisord_config(processes: Sequence[Process], run_dir: Path, workdir: Path) -> str:
    """supervisord's configuration for ``processes``, run from ``workdir``.

    The children inherit supervisord's environment, so the settings ``make run`` is given
    reach every service. Their output, and supervisord's report of each start, exit and
    restart, go to supervisord's standard output, the terminal of ``make run``; each
    service's JSON log lines name the service.
    """
    config = configparser.RawConfigParser()
    socket = _escaped(f"unix://{socket_path(run_dir)}")
    config["supervisord"] = {
        "nodaemon": "true",
        # Its own messages (spawned, exited, gave up) go to standard output once, through
        # the same kind of appending handle as the children's lines.
        "silent": "true",
        "logfile": STDOUT,
        "logfile_maxbytes": "0",
        "pidfile": _escaped(str(run_dir / "supervisord.pid")),
        "directory": _escaped(str(workdir)),
    }
    config["unix_http_server"] = {
        "file": _escaped(str(socket_path(run_dir))),
        "chmod": "0700",
    }
    config["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    config["supervisorctl"] = {"serverurl": socket}
    for process in processes:
        config[f"program:{process.name}"] = _program(process, workdir)
    grouped = [process.name for process in processes if process.name != BROKER]
    if grouped:
        config[f"group:{GROUP}"] = {"programs": ",".join(grouped), "priority": str(GROUP_PRIORITY)}
    text = io.StringIO()
    config.write(text)
    return text.getvalue()


def _program(process: Process, workdir: Path) -> dict[str, str]:
    return {
        # Through a shell, as a Procfile line is; its ``exec`` leaves the program alone.
        "command": _escaped(shlex.join(["/bin/sh", "-c", process.command])),
        "directory": _escaped(str(workdir)),
        "priority": str(BROKER_PRIORITY if process.name == BROKER else GROUP_PRIORITY),
        "autostart": "true",
        "autorestart": "true",
        "startsecs": str(START_SECONDS),
        "startretries": str(START_RETRIES),
        "stopsignal": "TERM",
        "stopwaitsecs": str(STOP_SECONDS.get(process.name, DEFAULT_STOP_SECONDS)),
        "killasgroup": "true",
        "redirect_stderr": "true",
        "stdout_logfile": STDOUT,
        "stdout_logfile_maxbytes": "0",
    }


def _escaped(value: str) -> str:
    """supervisord expands ``%(name)s`` in its values; a literal ``%`` is written ``%%``."""
    return value.replace("%", "%%")


def write_config(processes: Sequence[Process], run_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = config_path(run_dir)
    path.write_text(supervisord_config(processes, run_dir.resolve(), REPO_ROOT))
    return path


def _shown(path: Path) -> str:
    """``path`` as short as it can be typed from here."""
    absolute = path.absolute()
    return (
        str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(path)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.supervise",
        description="Run the Procfile's processes under supervisord, restarting any that dies.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="Procfile processes (all)")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=RUN_DIR,
        help="where the configuration, socket and pid file go (default: var/run)",
    )
    args = parser.parse_args(argv)
    try:
        processes = select(read_procfile(PROCFILE.read_text()), args.names)
    except ProcfileError as error:
        parser.error(str(error))
    config = write_config(processes, args.run_dir)
    supervisorctl = Path(sys.executable).parent / "supervisorctl"
    print(
        f"Supervising {', '.join(p.name for p in processes)}; status and restarts: "
        f"{_shown(supervisorctl)} -c {_shown(config)} status",
        flush=True,
    )
    # supervisord takes this process over, so Ctrl-C and SIGTERM reach it directly.
    os.execv(sys.executable, [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)])


if __name__ == "__main__":
    sys.exit(main())
