"""The shop the end-to-end stack looks orders up in: the fake Shopify Admin API on its
own event loop in a thread, for the whole session, with the orders the scenarios and the
browser journey ask about."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.fakes.shopify_api import API_VERSION, FakeShopify, shopify_order

ACCESS_TOKEN = "shpat_e2e_0123456789abcdef"
TOKEN_VARIABLE = "RAPPORT_SHOPIFY_ACCESS_TOKEN"
BROKEN_ORDER = "9999"
"""The order whose look-up the shop always fails: the shop is down for it."""


def _tracked(number: str) -> list[dict[str, str]]:
    return [
        {
            "company": "Colissimo",
            "number": number,
            "url": f"https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
        }
    ]


ORDERS = [
    # Phones are the scenarios' SMS and WhatsApp senders: proven by the channel.
    shopify_order(
        "#1001",
        email="claire@example.com",
        phone="+33612345701",
        fulfillment="FULFILLED",
        shipping_zip="75011",
        tracking=_tracked("6A10010001"),
    ),
    shopify_order(
        "#1002",
        email="jane@example.com",
        phone="+12025550702",
        fulfillment="UNFULFILLED",
        billing_zip="10001",
        country="US",
    ),
    shopify_order(
        "#1003",
        email="lucia@example.com",
        phone="+34612345703",
        fulfillment="FULFILLED",
        shipping_zip="28004",
        country="ES",
        tracking=_tracked("6A10030003"),
    ),
    shopify_order(
        "#1004",
        email="jonas@example.com",
        phone="+4915112345704",
        fulfillment="FULFILLED",
        shipping_zip="10115",
        country="DE",
        tracking=_tracked("6A10040004"),
        delivered=True,
    ),
    shopify_order(
        "#1005",
        email="ana@example.com",
        phone="+351912345705",
        fulfillment="UNFULFILLED",
        shipping_zip="1000-001",
        country="FR",
    ),
    shopify_order(
        "#1006",
        email="marie@example.com",
        phone="+33612345706",
        fulfillment="FULFILLED",
        shipping_zip="69002",
        tracking=_tracked("6A10060006"),
    ),
    shopify_order(
        "#1007",
        email="sam@example.com",
        phone="+447400123707",
        fulfillment="FULFILLED",
        billing_zip="SW1A 1AA",
        country="GB",
        tracking=_tracked("6A10070007"),
    ),
]


@contextmanager
def running_shop(workdir: Path) -> Iterator[dict[str, str]]:
    """Serve the fake shop while in the block; yields the environment that points the
    orchestrator at it (its shop file and token)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-shopify", daemon=True)
    thread.start()
    shop = FakeShopify(ACCESS_TOKEN, ORDERS)
    shop.broken.add(BROKEN_ORDER)
    asyncio.run_coroutine_threadsafe(shop.__aenter__(), loop).result(timeout=10)
    config = workdir / "shop.yaml"
    config.write_text(
        "platform: shopify\n"
        f"base_url: {shop.base_url}\n"
        f'api_version: "{API_VERSION}"\n'
        f"access_token_env: {TOKEN_VARIABLE}\n"
        "timeout_seconds: 3\n"
        "retries: 1\n"
        # Scenarios run at once: one conversation's broken shop must not open the circuit
        # on the others.
        "breaker: {failures: 50, cool_down_seconds: 5}\n",
        encoding="utf-8",
    )
    try:
        yield {"RAPPORT_SHOP_FILE": str(config), TOKEN_VARIABLE: ACCESS_TOKEN}
    finally:
        asyncio.run_coroutine_threadsafe(shop.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
