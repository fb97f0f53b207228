"""Orders from the business's own backend, through one signed HTTP action.

Rapport ``POST``s JSON to the configured URL::

    {"action": "order_status", "reference": "1001"}

(the reference as the customer gave it, without blanks or a leading ``#``) with::

    Content-Type: application/json
    X-Rapport-Timestamp: 1735689600                  (Unix seconds)
    X-Rapport-Signature: sha256=<hex>

where ``<hex>`` is the HMAC-SHA256, under the shared secret, of the timestamp, a ``.``,
and the exact body bytes: ``HMAC(secret, b"1735689600." + body)``. Signing the timestamp
lets the backend refuse a replayed request (:func:`verify_signature` allows five
minutes); a backend checks the signature over the raw bytes it received, before
parsing them, and compares in constant time.

The backend answers ``404`` for an unknown reference, or ``200`` with::

    {"order": {"reference": "#1001", "status": "shipped", "email": "…", "phone": "…",
               "billing_postal_code": "…", "shipping_postal_code": "…", "country": "FR",
               "carrier": "…", "tracking_number": "…", "tracking_url": "https://…",
               "updated_at": "2025-01-31T10:00:00Z"}}

``reference`` and ``status`` (one of :data:`~services.orchestrator.shop.order.STATUSES`)
are required; every other field may be left out or ``null``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from pydantic import BaseModel, ConfigDict, ValidationError

from services.orchestrator.shop.order import Order
from services.orchestrator.shop.port import ShopUnavailable
from services.orchestrator.shop.transport import HttpShop, Resilience, ShopHttp, json_body

SIGNATURE_HEADER = "X-Rapport-Signature"
TIMESTAMP_HEADER = "X-Rapport-Timestamp"
ACTION = "order_status"
TOLERANCE_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Rapport-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: bytes,
    body: bytes,
    timestamp: str,
    signature: str,
    *,
    now: float | None = None,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether a request came from Rapport: what a business's backend runs on the raw
    body and the two headers before believing anything in the body (stdlib only, so it
    can be copied as it is)."""
    if not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    expected = (
        "sha256="
        + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    )
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))


class _Answer(BaseModel):
    """The documented answer (see the module's docstring); other fields are ignored. The
    order's fields are :class:`Order`'s, ``updated_at`` in ISO 8601."""

    model_config = ConfigDict(frozen=True)

    order: Order


class HttpActionShop(HttpShop):
    """The business's backend at ``url``, sharing ``secret`` with Rapport."""

    def __init__(self, url: str, secret: bytes, resilience: Resilience) -> None:
        super().__init__(
            ShopHttp(
                "the order backend",
                resilience,
                credentials_hint="check that the backend and Rapport share the same secret",
            )
        )
        self._url = url
        self._secret = secret

    async def _lookup(self, reference: str) -> Order | None:
        body = json.dumps({"action": ACTION, "reference": reference}).encode()
        timestamp = str(int(time.time()))
        response = await self._http.request(
            "POST",
            self._url,
            content=body,
            headers={
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            },
        )
        if response.status_code == 404:
            return None
        try:
            found = _Answer.model_validate(json_body(self._http, response)).order
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
            )
            raise ShopUnavailable(
                f"the order backend answered an order Rapport cannot read ({problems})"
            ) from exc
        return found
