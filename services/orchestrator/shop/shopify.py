"""Orders from Shopify, through the Admin GraphQL API.

``POST {shop}/admin/api/{version}/graphql.json`` with the app's Admin API access token
in ``X-Shopify-Access-Token`` (the app needs the ``read_orders`` scope, and access to
protected customer data for the email, phone and addresses). The order is searched by
its name (``orders(query: "name:…")``) and only an exact name match is taken, since the
search also matches prefixes.

Shopify throttles GraphQL by query cost: a throttled query answers ``errors`` with
``extensions.code == "THROTTLED"``, usually with HTTP 200, and the bucket's state under
``extensions.cost.throttleStatus``; it is retried after the time the bucket needs to
refill. ``ACCESS_DENIED`` means a missing scope: a credentials problem, not retried.
"""

from __future__ import annotations

from typing import Any

from services.orchestrator.shop.order import Order, OrderStatus, parse_timestamp, reference_key
from services.orchestrator.shop.port import ShopCredentialsRejected, ShopUnavailable
from services.orchestrator.shop.transport import (
    HttpShop,
    Resilience,
    ShopHttp,
    Transient,
    json_body,
    object_field,
    text_field,
)

ORDER_QUERY = """
query OrderByName($query: String!) {
  orders(first: 5, query: $query) {
    nodes {
      name
      email
      phone
      displayFulfillmentStatus
      displayFinancialStatus
      cancelledAt
      updatedAt
      billingAddress { zip countryCodeV2 }
      shippingAddress { zip countryCodeV2 }
      fulfillments(first: 5) {
        displayStatus
        trackingInfo(first: 1) { company number url }
      }
    }
  }
}
"""

# OrderDisplayFulfillmentStatus → Rapport's status, once cancellation and refunds are out.
_FULFILLMENT: dict[str, OrderStatus] = {
    "FULFILLED": "shipped",
    "PARTIALLY_FULFILLED": "processing",
    "IN_PROGRESS": "processing",
    "PENDING_FULFILLMENT": "processing",
    "SCHEDULED": "processing",
    "OPEN": "processing",
    "UNFULFILLED": "processing",
    "ON_HOLD": "on_hold",
    "REQUEST_DECLINED": "on_hold",
    "RESTOCKED": "cancelled",
}
# OrderDisplayFinancialStatus values meaning the customer has not paid yet.
_UNPAID = frozenset({"PENDING", "AUTHORIZED", "EXPIRED"})


def order_status(node: dict[str, Any]) -> OrderStatus:
    """Rapport's status of a Shopify order: refunded or cancelled first, then how far
    fulfilment went (delivered once every fulfilment says so), unpaid as pending."""
    if node.get("displayFinancialStatus") == "REFUNDED":
        return "refunded"
    if node.get("cancelledAt"):
        return "cancelled"
    fulfilment = str(node.get("displayFulfillmentStatus") or "UNFULFILLED")
    status = _FULFILLMENT.get(fulfilment, "processing")
    shipments = [f for f in node.get("fulfillments") or [] if isinstance(f, dict)]
    if status == "shipped" and shipments:
        if all(f.get("displayStatus") == "DELIVERED" for f in shipments):
            return "delivered"
    if status == "processing" and not shipments:
        if node.get("displayFinancialStatus") in _UNPAID:
            return "pending"
    return status


def _tracking(node: dict[str, Any]) -> dict[str, Any]:
    """The newest tracking information of the order's fulfilments, if any."""
    for fulfilment in reversed(node.get("fulfillments") or []):
        infos = fulfilment.get("trackingInfo") if isinstance(fulfilment, dict) else None
        for info in infos or []:
            if text_field(info, "number") or text_field(info, "url"):
                return dict(info)
    return {}


def order_from_node(node: dict[str, Any]) -> Order:
    """An :class:`Order` from one ``orders.nodes`` item of :data:`ORDER_QUERY`."""
    billing = object_field(node, "billingAddress")
    shipping = object_field(node, "shippingAddress")
    tracking = _tracking(node)
    return Order(
        reference=str(node["name"]),
        status=order_status(node),
        email=text_field(node, "email"),
        phone=text_field(node, "phone"),
        billing_postal_code=text_field(billing, "zip"),
        shipping_postal_code=text_field(shipping, "zip"),
        country=text_field(shipping, "countryCodeV2") or text_field(billing, "countryCodeV2"),
        carrier=text_field(tracking, "company"),
        tracking_number=text_field(tracking, "number"),
        tracking_url=text_field(tracking, "url"),
        updated_at=parse_timestamp(node.get("updatedAt")),
    )


def _throttle_wait(answer: dict[str, Any]) -> float:
    """Seconds until the cost bucket holds what the query asked for (0 when unknown)."""
    cost = (answer.get("extensions") or {}).get("cost") or {}
    bucket = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(bucket["currentlyAvailable"])
        return max(missing / float(bucket["restoreRate"]), 0.0)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 0.0


class ShopifyShop(HttpShop):
    """A Shopify store, e.g. ``https://example.myshopify.com``."""

    def __init__(
        self, base_url: str, api_version: str, access_token: str, resilience: Resilience
    ) -> None:
        super().__init__(
            ShopHttp(
                "Shopify",
                resilience,
                credentials_hint=(
                    "check the Admin API access token and that the app has the read_orders scope"
                ),
                headers={"X-Shopify-Access-Token": access_token},
            )
        )
        self._endpoint = f"{base_url.rstrip('/')}/admin/api/{api_version}/graphql.json"

    async def _lookup(self, reference: str) -> Order | None:
        response = await self._http.request(
            "POST",
            self._endpoint,
            json={"query": ORDER_QUERY, "variables": {"query": f"name:{reference}"}},
        )
        if response.status_code == 404:
            raise ShopUnavailable(
                f"Shopify has no Admin API at {self._endpoint}: check base_url and api_version"
            )
        answer = json_body(self._http, response)
        if not isinstance(answer, dict):
            raise ShopUnavailable("Shopify answered JSON that is not a GraphQL response")
        errors = answer.get("errors")
        if errors:
            raise self._graphql_error(answer, errors)
        nodes = ((answer.get("data") or {}).get("orders") or {}).get("nodes") or []
        wanted = reference_key(reference)
        for node in nodes:
            if isinstance(node, dict) and reference_key(str(node.get("name", ""))) == wanted:
                return order_from_node(node)
        return None

    def _graphql_error(self, answer: dict[str, Any], errors: Any) -> ShopUnavailable:
        """Shopify's ``errors``: a string (an app-level refusal) or GraphQL error objects."""
        if not isinstance(errors, list):
            return ShopUnavailable(f"Shopify refused the query: {str(errors)[:200]}")
        codes = {
            str((error.get("extensions") or {}).get("code", ""))
            for error in errors
            if isinstance(error, dict)
        }
        messages = "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error)
            for error in errors
        )[:300]
        if "THROTTLED" in codes:
            return Transient("Shopify throttled the query", _throttle_wait(answer))
        if "ACCESS_DENIED" in codes:
            return ShopCredentialsRejected(
                f"Shopify denied access ({messages}): the app needs the read_orders scope "
                "and access to protected customer data"
            )
        return ShopUnavailable(f"Shopify answered GraphQL errors: {messages}")
