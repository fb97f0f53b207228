"""JSON-lines logging that carries the conversation id and trace id of the work in hand.

The Kafka consumer sets the ids of each event it hands over with :func:`log_context`;
every log record made inside that block (in the same task) carries them, so one
conversation can be followed across services by grepping its id.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
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


def configure_logging(service: str, level: str) -> None:
    """Send JSON lines to stderr; called once, by a service's composition root."""
    handler = logging.StreamHandler(sys.stderr)
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
