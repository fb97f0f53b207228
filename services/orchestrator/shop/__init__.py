"""Looking an order up in the business's shop, and deciding whether to tell it.

The orchestrator reads the shop file once (:func:`load_shop_config`), opens the client
(:func:`open_shop`), asks :meth:`ShopPort.find_order` and discloses the order only when
:func:`verify` allows it. See README.md in this folder.
"""

from __future__ import annotations

from services.orchestrator.shop.config import (
    ShopConfig,
    ShopConfigError,
    load_shop_config,
    open_shop,
    shop_file,
)
from services.orchestrator.shop.order import STATUSES, Order, OrderStatus
from services.orchestrator.shop.port import ShopCredentialsRejected, ShopPort, ShopUnavailable
from services.orchestrator.shop.verification import ProvenIdentity, Verification, verify

__all__ = [
    "STATUSES",
    "Order",
    "OrderStatus",
    "ProvenIdentity",
    "ShopConfig",
    "ShopConfigError",
    "ShopCredentialsRejected",
    "ShopPort",
    "ShopUnavailable",
    "Verification",
    "load_shop_config",
    "open_shop",
    "shop_file",
    "verify",
]
