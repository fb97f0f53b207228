"""The whole stack as separate processes, started once for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from playwright.async_api import expect

from infra.ports import free_port
from tests.e2e.shop import running_shop
from tests.e2e.stack import Stack

# What a page shows is awaited up to 15 s (Playwright's default is 5): a bot's reply
# crosses Kafka and three services, and a busy CI machine is slower than a laptop.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(kafka_bootstrap, tmp_path_factory.mktemp("stack"))
    # The orchestrator looks orders up in a fake Shopify (tests/e2e/shop.py).
    with running_shop(stack.workdir) as shop_environment:
        stack.env.update(shop_environment)
        try:
            stack.start_all()
            yield stack
        finally:
            codes = stack.stop_all()
    unclean = {name: code for name, code in codes.items() if code != 0}
    assert not unclean, f"services did not stop cleanly: {unclean}"


@pytest.fixture
async def host_page(stack: Stack) -> AsyncIterator[str]:
    """Somebody's shop page, on another origin, embedding the widget with one script tag."""
    html = (
        "<!doctype html><html><head><title>Shop</title></head><body><h1>Our shop</h1>"
        f'<script src="{stack.web_url}/widget.js" async></script></body></html>'
    )

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()
