"""A local stand-in for Shopify's Admin GraphQL API, enough to look orders up.

It serves ``POST /admin/api/{version}/graphql.json`` as Shopify does: the app's token in
``X-Shopify-Access-Token`` (401 with Shopify's ``[API] Invalid API key…`` body when it
is missing or wrong), a JSON body ``{"query", "variables"}`` executed by graphql-core
against the part of the Admin schema that orders use here (field names, arguments,
enums and nullability as documented), so a query asking for a field Shopify does not
have fails as it would. ``orders(first:, query:)`` reads the ``name:`` filter of
Shopify's search syntax and, like Shopify's search, matches name prefixes.

Besides the faults every fake has (:class:`~tests.fakes.business_backend.FakeShopServer`)
it can throttle the next queries the way Shopify does: HTTP 200 with a ``THROTTLED``
error and the cost bucket under ``extensions.cost``.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from aiohttp import web
from graphql import build_schema, graphql

from tests.fakes.business_backend import FakeShopServer

API_VERSION = "2025-07"

SCHEMA = build_schema(
    """
    scalar DateTime
    scalar URL
    enum CountryCode { BE CA DE ES FR GB IT NL US }
    enum OrderDisplayFulfillmentStatus {
      FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT
      REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED
    }
    enum OrderDisplayFinancialStatus {
      AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
    }
    enum FulfillmentDisplayStatus {
      ATTEMPTED_DELIVERY CANCELED CONFIRMED DELIVERED FAILURE FULFILLED IN_TRANSIT
      LABEL_PRINTED LABEL_PURCHASED LABEL_VOIDED MARKED_AS_FULFILLED NOT_DELIVERED
      OUT_FOR_DELIVERY PICKED_UP READY_FOR_PICKUP SUBMITTED
    }
    type MailingAddress { zip: String countryCodeV2: CountryCode city: String }
    type FulfillmentTrackingInfo { company: String number: String url: URL }
    type Fulfillment {
      id: ID!
      displayStatus: FulfillmentDisplayStatus
      trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
    }
    type Order {
      id: ID!
      name: String!
      email: String
      phone: String
      displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
      displayFinancialStatus: OrderDisplayFinancialStatus
      cancelledAt: DateTime
      createdAt: DateTime!
      updatedAt: DateTime!
      billingAddress: MailingAddress
      shippingAddress: MailingAddress
      fulfillments(first: Int): [Fulfillment!]!
    }
    type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! }
    type OrderEdge { cursor: String! node: Order! }
    type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }
    type QueryRoot {
      orders(
        first: Int, last: Int, after: String, before: String, query: String,
        reverse: Boolean, sortKey: String
      ): OrderConnection!
    }
    schema { query: QueryRoot }
    """
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def shopify_order(
    name: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    fulfillment: str = "UNFULFILLED",
    financial: str = "PAID",
    cancelled_at: str | None = None,
    billing_zip: str | None = None,
    shipping_zip: str | None = None,
    country: str = "FR",
    tracking: list[dict[str, Any]] | None = None,
    delivered: bool = False,
    updated_at: str = "2025-01-31T10:00:00Z",
) -> dict[str, Any]:
    """An ``Order`` as the Admin API holds it; ``tracking`` makes one fulfilment."""
    fulfillments = []
    if tracking is not None:
        fulfillments.append(
            {
                "id": "gid://shopify/Fulfillment/1",
                "displayStatus": "DELIVERED" if delivered else "IN_TRANSIT",
                "trackingInfo": lambda info, first=None: tracking[:first],
            }
        )
    number = re.sub(r"\D", "", name) or "1"
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": name,
        "email": email,
        "phone": phone,
        "displayFulfillmentStatus": fulfillment,
        "displayFinancialStatus": financial,
        "cancelledAt": cancelled_at,
        "createdAt": "2025-01-30T09:00:00Z",
        "updatedAt": updated_at,
        "billingAddress": {"zip": billing_zip, "countryCodeV2": country},
        "shippingAddress": {"zip": shipping_zip, "countryCodeV2": country}
        if shipping_zip
        else None,
        "fulfillments": lambda info, first=None: fulfillments[:first],
    }


class FakeShopify(FakeShopServer):
    """A shop at ``base_url`` (as ``https://{shop}.myshopify.com``) for one app token."""

    def __init__(
        self,
        access_token: str,
        orders: list[dict[str, Any]] | None = None,
        *,
        version: str = API_VERSION,
    ) -> None:
        super().__init__()
        self.access_token = access_token
        self.version = version
        self.orders = list(orders or [])
        self.queries: list[dict[str, Any]] = []  # bodies that passed authentication
        self._throttled = 0
        # Order names whose look-up always fails with 503: a shop that cannot answer for
        # one conversation while others, played at the same time, are answered.
        self.broken: set[str] = set()

    def add(self, order: dict[str, Any]) -> None:
        self.orders.append(order)

    def throttle_next(self, count: int) -> None:
        """Throttle the next ``count`` authenticated queries."""
        self._throttled += count

    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"/admin/api/{self.version}/graphql.json", self._graphql)

    async def _graphql(self, request: web.Request) -> web.Response:
        token = request.headers.get("X-Shopify-Access-Token", "")
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            return web.json_response({"errors": INVALID_TOKEN}, status=401)
        if request.content_type != "application/json":
            return web.json_response({"errors": "Unsupported Content-Type"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"errors": "Invalid JSON in request body"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return web.json_response(
                {"errors": {"query": "Required parameter missing"}}, status=400
            )
        self.queries.append(body)
        if any(name in str(body.get("variables")) for name in self.broken):
            return web.json_response({"errors": "Service Unavailable"}, status=503)
        if self._throttled:
            self._throttled -= 1
            return web.json_response(self._throttle_answer())
        result = await graphql(
            SCHEMA,
            body["query"],
            root_value={"orders": self._orders},
            variable_values=body.get("variables"),
        )
        return web.json_response(result.formatted)

    def _orders(
        self,
        info: Any,
        first: int | None = None,
        last: int | None = None,
        query: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        if first is None and last is None:
            raise ValueError("you must provide one of first or last")
        if (first or last or 0) > 250:
            raise ValueError("first cannot exceed 250")
        match = re.search(r"""\bname:(?:"([^"]*)"|'([^']*)'|(\S+))""", query or "")
        wanted = next((g for g in match.groups() if g is not None), "") if match else ""
        wanted = wanted.lstrip("#").upper()
        found = [o for o in self.orders if o["name"].lstrip("#").upper().startswith(wanted)]
        found = found[:first] if first is not None else found[-(last or 0) :]
        return {
            "nodes": found,
            "edges": [{"cursor": o["id"], "node": o} for o in found],
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
        }

    @staticmethod
    def _throttle_answer() -> dict[str, Any]:
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {
                "cost": {
                    "requestedQueryCost": 20,
                    "actualQueryCost": None,
                    "throttleStatus": {
                        "maximumAvailable": 2000.0,
                        "currentlyAvailable": 10,
                        "restoreRate": 1000.0,
                    },
                }
            },
        }
