"""A local stand-in for WooCommerce's REST API v3, enough to look orders up.

It serves ``GET /wp-json/wc/v3/orders/{id}`` and ``GET /wp-json/wc/v3/orders`` (with
``search``, ``per_page``) as WooCommerce does over HTTPS: the consumer key and secret by
HTTP Basic auth (or as ``consumer_key``/``consumer_secret`` query parameters), refused
with WooCommerce's ``woocommerce_rest_authentication_error`` or
``woocommerce_rest_cannot_view`` and 401; an unknown id answers 404
``woocommerce_rest_shop_order_invalid_id``, any other path under ``/wp-json`` WordPress's
404 ``rest_no_route``. Orders are resources of the documented shape
(:func:`woo_order`); the faults are :class:`~tests.fakes.business_backend.FakeShopServer`'s.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aiohttp import web

from tests.fakes.business_backend import FakeShopServer

ORDERS = "/wp-json/wc/v3/orders"


def _address(postcode: str, country: str, **fields: str) -> dict[str, str]:
    blank = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state")
    return {**dict.fromkeys(blank, ""), "postcode": postcode, "country": country, **fields}


def woo_order(
    order_id: int,
    *,
    number: str | None = None,
    status: str = "processing",
    email: str = "",
    phone: str = "",
    billing_postcode: str = "",
    shipping_postcode: str = "",
    country: str = "FR",
    date_modified_gmt: str = "2025-01-31T10:00:00",
) -> dict[str, Any]:
    """An order resource as ``GET /orders/{id}`` returns it (the fields orders use)."""
    return {
        "id": order_id,
        "parent_id": 0,
        "number": number or str(order_id),
        "order_key": f"wc_order_{order_id:08d}",
        "created_via": "checkout",
        "status": status,
        "currency": "EUR",
        "date_created": "2025-01-30T10:00:00",
        "date_created_gmt": "2025-01-30T09:00:00",
        "date_modified": date_modified_gmt,
        "date_modified_gmt": date_modified_gmt,
        "total": "42.00",
        "customer_id": 0,
        "billing": _address(billing_postcode, country, email=email, phone=phone),
        "shipping": _address(shipping_postcode, country, phone=""),
        "payment_method": "bacs",
        "line_items": [],
        "meta_data": [],
    }


def _error(code: str, message: str, status: int) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "data": {"status": status}}, status=status
    )


class FakeWooCommerce(FakeShopServer):
    """A WordPress site at ``base_url`` with WooCommerce and one REST API key."""

    def __init__(
        self, consumer_key: str, consumer_secret: str, orders: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.orders = {order["id"]: order for order in orders or []}
        self.searches: list[str] = []

    def add(self, order: dict[str, Any]) -> None:
        self.orders[order["id"]] = order

    def routes(self, app: web.Application) -> None:
        app.router.add_get(ORDERS, self._list)
        app.router.add_get(ORDERS + "/{id}", self._get)
        app.router.add_route("*", "/wp-json/{rest:.*}", self._no_route)

    def _credentials(self, request: web.Request) -> tuple[str, str] | None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return user, password
        if "consumer_key" in request.query:
            return request.query["consumer_key"], request.query.get("consumer_secret", "")
        return None

    def _refusal(self, request: web.Request, doing: str) -> web.Response | None:
        credentials = self._credentials(request)
        if credentials is None:
            return _error("woocommerce_rest_cannot_view", f"Sorry, you cannot {doing}.", 401)
        key, secret = credentials
        if not hmac.compare_digest(key.encode(), self.consumer_key.encode()):
            return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        if not hmac.compare_digest(secret.encode(), self.consumer_secret.encode()):
            return _error(
                "woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401
            )
        return None

    async def _get(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request, "view this resource")
        if refusal is not None:
            return refusal
        raw = request.match_info["id"]
        order = self.orders.get(int(raw)) if raw.isdigit() else None
        if order is None or order["status"] == "trash":
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        return web.json_response(order)

    async def _list(self, request: web.Request) -> web.Response:
        refusal = self._refusal(request, "list resources")
        if refusal is not None:
            return refusal
        search = request.query.get("search", "").lower()
        self.searches.append(search)
        per_page = int(request.query.get("per_page", "10"))
        if not 1 <= per_page <= 100:
            return _error("rest_invalid_param", "Invalid parameter(s): per_page", 400)
        found = [
            order
            for order in self.orders.values()
            if order["status"] != "trash"
            and any(search in str(value).lower() for value in self._searchable(order))
        ]
        return web.json_response(found[:per_page], headers={"X-WP-Total": str(len(found))})

    @staticmethod
    def _searchable(order: dict[str, Any]) -> list[Any]:
        return [
            order["id"],
            order["number"],
            *order["billing"].values(),
            *order["shipping"].values(),
        ]

    async def _no_route(self, request: web.Request) -> web.Response:
        return _error(
            "rest_no_route", "No route was found matching the URL and request method.", 404
        )
