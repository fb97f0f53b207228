"""What the orchestrator asks of a shop, and how a shop fails."""

from __future__ import annotations

from typing import ClassVar, Protocol

from services.orchestrator.shop.order import Order
from shared.errors import DependencyUnavailableError


class ShopUnavailable(DependencyUnavailableError):
    """The shop could not say: unreachable, 5xx, throttled past the retries, an answer
    that cannot be read, or the circuit is open. Asking again later may succeed."""


class ShopCredentialsRejected(ShopUnavailable):
    """The shop refused Rapport's credentials (HTTP 401/403, a missing access scope).

    A configuration mistake: retrying cannot fix it, so it is not retriable and does not
    count towards opening the circuit; the message says what to check.
    """

    retriable: ClassVar[bool] = False


class ShopPort(Protocol):
    """Looks an order up by the reference the customer gave."""

    async def find_order(self, reference: str) -> Order | None:
        """The order, or ``None`` when the shop has none by that reference; raises
        :class:`ShopUnavailable` when the shop cannot say."""
        ...
