"""From the Procfile to supervisord's configuration: ``make run``'s supervisor setup."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from supervisor.datatypes import RestartUnconditionally
from supervisor.options import ServerOptions

from infra.supervise import (
    BROKER,
    GROUP,
    PROCFILE,
    Process,
    ProcfileError,
    read_procfile,
    select,
    supervisord_config,
)


def test_the_procfile_lists_the_broker_first_and_every_service() -> None:
    processes = read_procfile(PROCFILE.read_text())
    assert processes[0] == Process(BROKER, "exec python -m infra.kafka.embedded")
    assert {"emotion", "context", "orchestrator", "web", "agent_desk"} <= {
        process.name for process in processes
    }


def test_comments_and_blank_lines_are_skipped() -> None:
    text = "# the stack\n\nweb: exec python -m services.web_adapter\n"
    assert read_procfile(text) == [Process("web", "exec python -m services.web_adapter")]


@pytest.mark.parametrize(
    "text,complaint",
    [
        ("web exec python -m services.web_adapter", "line 1 is not 'name: command'"),
        ("web: python -m services.web_adapter", "web's command must start with 'exec '"),
        ("web: exec a\nweb: exec b", "line 2: web is listed twice"),
        ("# nothing\n", "lists no process"),
    ],
)
def test_a_procfile_that_cannot_be_supervised_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(ProcfileError, match=complaint):
        read_procfile(text)


def test_processes_can_be_chosen_by_name_and_unknown_names_are_refused() -> None:
    processes = [Process("kafka", "exec k"), Process("web", "exec w"), Process("sms", "exec s")]
    assert select(processes, []) == processes
    assert select(processes, ["sms", "kafka"]) == [processes[0], processes[2]]
    with pytest.raises(ProcfileError, match="not in the Procfile: nope"):
        select(processes, ["web", "nope"])


def _as_supervisord_reads_it(processes: list[Process], tmp_path: Path) -> dict[str, Any]:
    """The process groups supervisord itself makes of the configuration, by name."""
    path = tmp_path / "supervisord.conf"
    path.write_text(supervisord_config(processes, tmp_path, tmp_path))
    options = ServerOptions()
    options.realize(args=["-c", str(path)])
    return {group.name: group for group in options.process_group_configs}


def test_every_process_restarts_with_backoff_and_the_broker_stops_last(tmp_path: Path) -> None:
    processes = [Process(BROKER, "exec python -m infra.kafka.embedded"), Process("web", "exec w")]
    groups = _as_supervisord_reads_it(processes, tmp_path)

    [broker] = groups[BROKER].process_configs
    [web] = groups[GROUP].process_configs
    assert shlex.split(broker.command) == ["/bin/sh", "-c", processes[0].command]
    for program in (broker, web):
        assert program.autorestart is RestartUnconditionally
        assert program.startretries > 0 and program.startsecs > 0
        assert program.directory == str(tmp_path)
    # supervisord starts lower priorities first and stops them last.
    assert groups[BROKER].priority < groups[GROUP].priority


def test_a_percent_sign_reaches_the_program_as_it_is(tmp_path: Path) -> None:
    command = "exec date +%s"
    [clock] = _as_supervisord_reads_it([Process("clock", command)], tmp_path)[GROUP].process_configs
    assert clock.command == shlex.join(["/bin/sh", "-c", command])
