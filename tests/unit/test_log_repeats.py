"""Repeated log lines are summarised with a count instead of flooding the log."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shared.observability.logging import RepeatSummary, configure_logging


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _logger_into(stream: io.StringIO, summary: RepeatSummary) -> logging.Logger:
    handler = logging.StreamHandler(stream)
    handler.addFilter(summary)
    handler.setFormatter(logging.Formatter("%(message)s %(repeated)s", defaults={"repeated": 0}))
    logger = logging.getLogger("tests.repeats")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_a_storm_of_one_error_is_one_line_then_one_line_with_the_count() -> None:
    clock, stream = _Clock(), io.StringIO()
    log = _logger_into(stream, RepeatSummary(window_seconds=10, clock=clock))
    for offset in range(670):
        clock.now = offset / 670  # 670 a second, as a broker outage produced
        log.error("could not publish offset %d: broker down", offset)
    clock.now = 12.0
    log.error("could not publish offset %d: broker down", 671)

    assert stream.getvalue().splitlines() == [
        "could not publish offset 0: broker down 0",
        "could not publish offset 671: broker down 669",
    ]


def test_different_messages_and_levels_are_counted_apart() -> None:
    clock, stream = _Clock(), io.StringIO()
    log = _logger_into(stream, RepeatSummary(window_seconds=10, clock=clock))
    log.error("context down")
    log.warning("context down")
    log.error("emotion down")
    log.error("context down")

    assert stream.getvalue().splitlines() == ["context down 0", "context down 0", "emotion down 0"]


def test_informational_lines_are_all_written() -> None:
    clock, stream = _Clock(), io.StringIO()
    log = _logger_into(stream, RepeatSummary(window_seconds=10, clock=clock))
    for number in range(3):
        log.info("decided auto_reply for %d", number)

    assert stream.getvalue().splitlines() == [f"decided auto_reply for {n} 0" for n in range(3)]


def test_the_services_json_lines_carry_the_count(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        _log_a_storm_as_a_service()
    finally:
        root.handlers[:], root.level = handlers, level
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line.get("repeated") for line in lines] == [None, 4]
    assert lines[1]["service"] == "tests"


def _log_a_storm_as_a_service() -> None:
    configure_logging("tests", "INFO")
    root = logging.getLogger()
    summary = next(f for f in root.handlers[0].filters if isinstance(f, RepeatSummary))
    clock = _Clock()
    summary._clock = clock  # the same filter, on a clock the test moves
    log = logging.getLogger("tests.json")
    for _ in range(5):
        log.warning("waiting for a dependency")
    clock.now = 1e9
    log.warning("waiting for a dependency")
