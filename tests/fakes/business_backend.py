"""A local stand-in for a business's own order backend, and what the shop fakes share.

:class:`FakeShopServer` serves an aiohttp app on 127.0.0.1 (a free port), holds orders,
and can be told to misbehave: answer the next requests with a 5xx, hang past the
caller's timeout, or be down altogether (the port refuses connections until it is up
again). The Shopify and WooCommerce fakes are built on it.

:class:`FakeBusinessBackend` serves the signed HTTP action as Rapport documents it
(``services/orchestrator/shop/http_action.py``): ``POST`` of
``{"action": "order_status", "reference": …}``, refused with 401 unless
``X-Rapport-Signature`` is ``sha256=`` + the hex HMAC-SHA256, under the shared secret,
of ``X-Rapport-Timestamp`` + ``.`` + the raw body, compared with ``hmac.compare_digest``
and the timestamp within five minutes. It checks this on its own, as a business
would from the documentation, rather than with Rapport's code.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

ACTION_PATH = "/rapport/actions"


@dataclass(frozen=True)
class Fault:
    """What the next request gets instead of an answer: a status, or a long wait."""

    status: int = 503
    hang_seconds: float = 0.0


class FakeShopServer(abc.ABC):
    """Start with ``async with Fake(...) as fake``; ``fake.base_url`` is the server."""

    def __init__(self) -> None:
        self.requests = 0  # every request that reached a route
        self.base_url = ""
        self._faults: deque[Fault] = deque()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._closing = asyncio.Event()  # ends every hang when the server stops

    @abc.abstractmethod
    def routes(self, app: web.Application) -> None:
        """Add the platform's routes."""

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status``."""
        self._faults.extend([Fault(status=status)] * count)

    def hang_next(self, count: int, seconds: float = 30.0) -> None:
        """Keep the next ``count`` requests waiting ``seconds`` before answering."""
        self._faults.extend([Fault(hang_seconds=seconds)] * count)

    async def go_down(self) -> None:
        """Stop listening: connections are refused until :meth:`come_back`."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def come_back(self) -> None:
        assert self._runner is not None
        if self._site is None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await self._site.start()

    async def __aenter__(self) -> Any:
        app = web.Application(middlewares=[self._counted_and_faulty])
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self._port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _counted_and_faulty(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests += 1
        if self._faults:
            fault = self._faults.popleft()
            if fault.hang_seconds:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.hang_seconds)
            else:
                return web.json_response(
                    {"error": f"simulated HTTP {fault.status}"}, status=fault.status
                )
        response: web.StreamResponse = await handler(request)
        return response


def backend_order(reference: str, status: str = "processing", **fields: Any) -> dict[str, Any]:
    """An order in the documented answer's shape; other fields as given."""
    return {"reference": reference, "status": status, **fields}


@dataclass(frozen=True)
class Received:
    body: bytes
    headers: dict[str, str]


class FakeBusinessBackend(FakeShopServer):
    """The business's backend for ``POST {base_url}/rapport/actions``."""

    def __init__(self, secret: bytes, orders: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.secret = secret
        self.orders = {order["reference"].lstrip("#"): order for order in orders or []}
        self.received: list[Received] = []  # requests whose signature held
        self.refused = 0  # requests refused for their signature

    @property
    def url(self) -> str:
        return self.base_url + ACTION_PATH

    def routes(self, app: web.Application) -> None:
        app.router.add_post(ACTION_PATH, self._action)

    def _signed(self, body: bytes, timestamp: str, signature: str) -> bool:
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return False
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(f"sha256={mac.hexdigest()}".encode(), signature.encode())

    async def _action(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Rapport-Timestamp", "")
        if not self._signed(body, timestamp, request.headers.get("X-Rapport-Signature", "")):
            self.refused += 1
            return web.json_response({"error": "invalid signature"}, status=401)
        self.received.append(Received(body, dict(request.headers)))
        try:
            action = json.loads(body)
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        if action.get("action") != "order_status" or not isinstance(action.get("reference"), str):
            return web.json_response({"error": "unknown action"}, status=400)
        order = self.orders.get(action["reference"].lstrip("#"))
        if order is None:
            return web.json_response({"error": "unknown order"}, status=404)
        return web.json_response({"order": order})
