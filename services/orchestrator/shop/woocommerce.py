"""Orders from WooCommerce, through its REST API v3.

``GET {site}/wp-json/wc/v3/orders/{id}`` with HTTP Basic auth (consumer key as user,
consumer secret as password), which WooCommerce accepts over HTTPS only. Customers
know the order *number*, which is the id unless a plugin numbers orders its own way, so
a number that is not an id is searched (``GET …/orders?search=…``) and only an exact
``number`` match is taken. Core WooCommerce has no carrier or tracking number.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.orchestrator.shop.order import (
    STATUSES,
    Order,
    OrderStatus,
    parse_timestamp,
    reference_key,
)
from services.orchestrator.shop.port import ShopUnavailable
from services.orchestrator.shop.transport import (
    HttpShop,
    Resilience,
    ShopHttp,
    json_body,
    object_field,
    text_field,
)

NO_SUCH_ORDER = "woocommerce_rest_shop_order_invalid_id"

_STATUS: dict[str, OrderStatus] = {
    "pending": "pending",  # awaiting payment
    "failed": "pending",  # the payment failed; the customer may pay again
    "checkout-draft": "pending",
    "processing": "processing",  # paid, being prepared
    "on-hold": "on_hold",
    "completed": "shipped",  # fulfilled: WooCommerce knows no delivery
    "cancelled": "cancelled",
    "refunded": "refunded",
}


def order_status(status: str) -> OrderStatus:
    """Rapport's status for a WooCommerce one; a plugin's own status is taken when it
    is one of Rapport's (``shipped``, ``delivered``), else read as still in progress."""
    if status in _STATUS:
        return _STATUS[status]
    own = status.replace("-", "_")
    return next((known for known in STATUSES if known == own), "processing")


def order_from_resource(resource: dict[str, Any]) -> Order:
    """An :class:`Order` from an order resource of the REST API."""
    billing, shipping = object_field(resource, "billing"), object_field(resource, "shipping")
    return Order(
        reference=str(resource.get("number") or resource["id"]),
        status=order_status(str(resource.get("status", ""))),
        email=text_field(billing, "email"),
        phone=text_field(billing, "phone"),
        billing_postal_code=text_field(billing, "postcode"),
        shipping_postal_code=text_field(shipping, "postcode"),
        country=text_field(shipping, "country") or text_field(billing, "country"),
        updated_at=parse_timestamp(resource.get("date_modified_gmt")),
    )


def _matches(resource: Any, wanted: str) -> bool:
    """An order the customer means: the number they gave, and not in the bin."""
    return (
        isinstance(resource, dict)
        and resource.get("status") != "trash"
        and reference_key(str(resource.get("number") or resource.get("id", ""))) == wanted
    )


class WooCommerceShop(HttpShop):
    """A WooCommerce site, e.g. ``https://shop.example.com``."""

    def __init__(
        self, base_url: str, consumer_key: str, consumer_secret: str, resilience: Resilience
    ) -> None:
        super().__init__(
            ShopHttp(
                "WooCommerce",
                resilience,
                credentials_hint=(
                    "check the REST API consumer key and secret, and that the key has "
                    "Read permission"
                ),
                auth=httpx.BasicAuth(consumer_key, consumer_secret),
            )
        )
        self._orders = f"{base_url.rstrip('/')}/wp-json/wc/v3/orders"

    async def _lookup(self, reference: str) -> Order | None:
        wanted = reference_key(reference)
        if reference.isdigit():
            resource = await self._get(f"{self._orders}/{reference}")
            if _matches(resource, wanted):
                return order_from_resource(resource)
        found = await self._get(self._orders, params={"search": reference, "per_page": 10})
        if found is not None and not isinstance(found, list):
            raise ShopUnavailable("WooCommerce answered an order search with no list")
        match = next((r for r in found or [] if _matches(r, wanted)), None)
        return order_from_resource(match) if match is not None else None

    async def _get(self, url: str, **options: Any) -> Any:
        """The JSON at ``url``, or ``None`` when WooCommerce says there is no such order.

        Any other 404 (WordPress's ``rest_no_route``, a web server's page) means the
        site has no WooCommerce REST API at that address: a configuration mistake.
        """
        response = await self._http.request("GET", url, **options)
        if response.status_code != 404:
            return json_body(self._http, response)
        try:
            code = response.json().get("code")
        except (ValueError, AttributeError):
            code = None
        if code == NO_SUCH_ORDER:
            return None
        raise ShopUnavailable(
            f"WooCommerce has no REST API at {self._orders}: check base_url and that "
            "pretty permalinks are on"
        )
