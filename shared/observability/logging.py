"""JSON-lines logging that carries the conversation id and trace id of the work in hand.

The Kafka consumer sets the ids of each event it hands over with :func:`log_context`;
every log record made inside that block (in the same task) carries them, so one
conversation can be followed across services by grepping its id.

Repeats are summarised, not streamed: during an outage every record, retry and
reconnect fails the same way, and a log of thousands of identical lines a second hides
what happened. The first warning or error of a kind (logger, level and message
template) in a window is written; the next ones in it are counted, and the first after
the window carries the count (``repeated``) and how long it covers
(``repeated_seconds``). Informational lines, one per event handled, are all written:
they are how one conversation is followed.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

_conversation_id: ContextVar[str] = ContextVar("conversation_id", default="")
_trace_id: ContextVar[str] = ContextVar("trace_id", default="")


def trace_id_of(traceparent: str) -> str:
    """The trace id inside a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else ""


@contextmanager
def log_context(*, conversation_id: str = "", traceparent: str = "") -> Iterator[None]:
    """Tag every log record made inside the block with this conversation and trace."""
    conversation_token = _conversation_id.set(conversation_id)
    trace_token = _trace_id.set(trace_id_of(traceparent))
    try:
        yield
    finally:
        _conversation_id.reset(conversation_token)
        _trace_id.reset(trace_token)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.conversation_id = _conversation_id.get()
        record.trace_id = _trace_id.get()
        return True


REPEAT_WINDOW_SECONDS = 10.0


class RepeatSummary(logging.Filter):
    """Lets the first warning or error of each kind through per window and counts the rest."""

    def __init__(
        self,
        window_seconds: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._window = window_seconds
        self._clock = clock
        self._kinds: dict[tuple[str, int, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, record.msg)
        now = self._clock()
        shown_at, suppressed = self._kinds.get(kind, (None, 0))
        if shown_at is not None and now - shown_at < self._window:
            self._kinds[kind] = (shown_at, suppressed + 1)
            return False
        if suppressed:
            record.repeated = suppressed
            record.repeated_seconds = round(now - shown_at, 1) if shown_at is not None else 0.0
        self._kinds[kind] = (now, 0)
        return True


def configure_logging(service: str, level: str) -> None:
    """Send JSON lines to stderr; called once, by a service's composition root."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatSummary())
    handler.addFilter(_ContextFilter(service))
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{service}{conversation_id}{trace_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka reports every rebalance and reconnect at INFO; keep the stream readable.
    logging.getLogger("aiokafka").setLevel(max(root.level, logging.WARNING))
