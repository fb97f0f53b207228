"""HTTP RED metrics: labelled by route template, streams not timed as latency."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from shared.observability.http import http_metrics


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_count_by_route_template_and_streams_are_not_timed() -> None:
    async def order(request: web.Request) -> web.Response:
        return web.Response(text=request.match_info["number"])

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: hello\n\n")
        return response

    app = web.Application(middlewares=[http_metrics])
    app.router.add_get("/orders/{number}", order)
    app.router.add_get("/events", events)
    route, timed = "/orders/{number}", "rapport_http_request_duration_seconds_count"
    before = {
        "ok": _sample("rapport_http_requests_total", route=route, method="GET", code="200"),
        "missing": _sample(
            "rapport_http_requests_total", route="unmatched", method="GET", code="404"
        ),
        "timed": _sample(timed, route=route, method="GET"),
        "stream": _sample(timed, route="/events", method="GET"),
    }
    async with TestClient(TestServer(app)) as client:
        for number in ("1", "2"):
            assert (await client.get(f"/orders/{number}")).status == 200
        assert (await client.get("/no/such/page")).status == 404
        assert (await (await client.get("/events")).read()).startswith(b"data: hello")

    assert _sample("rapport_http_requests_total", route=route, method="GET", code="200") == (
        before["ok"] + 2
    )
    missing = _sample("rapport_http_requests_total", route="unmatched", method="GET", code="404")
    assert missing == before["missing"] + 1
    assert _sample(timed, route=route, method="GET") == before["timed"] + 2
    assert _sample(timed, route="/events", method="GET") == before["stream"]
    assert _sample("rapport_http_requests_total", route="/events", method="GET", code="200") >= 1
