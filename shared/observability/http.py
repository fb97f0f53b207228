"""RED metrics for aiohttp apps: one middleware, so every HTTP service counts the same way.

Requests are labelled by their route template (``/meta/{platform}``, never the concrete
path), so a scanner probing random URLs adds one ``unmatched`` series, not one per URL.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from shared.observability.metrics import HTTP_REQUESTS, HTTP_SECONDS

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method (clients may invent them) is counted as ``other``."""


def route_of(request: web.Request) -> str:
    """The template of the route that matched ``request``, or ``unmatched``."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def http_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count and time every request; errors raised as ``HTTPException`` count by their code."""
    started = time.perf_counter()
    route = route_of(request)
    method = request.method if request.method in METHODS else "other"
    code, stream = 500, False
    try:
        response = await handler(request)
        code, stream = response.status, response.content_type == "text/event-stream"
        return response
    except web.HTTPException as exc:
        code = exc.status
        raise
    finally:
        HTTP_REQUESTS.labels(route, method, str(code)).inc()
        # A WebSocket or an event stream lasts as long as its reader stays: no latency.
        if code != 101 and not stream:
            HTTP_SECONDS.labels(route, method).observe(time.perf_counter() - started)
