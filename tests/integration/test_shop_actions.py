"""The three shop clients over real HTTP against local fakes of each platform: orders
found and not found, refused credentials, retries, timeouts, the circuit breaker, and
the signed action checked by the business's side."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.orchestrator.shop import (
    Order,
    ShopConfigError,
    ShopCredentialsRejected,
    ShopUnavailable,
    load_shop_config,
    open_shop,
)
from services.orchestrator.shop.http_action import HttpActionShop, sign, verify_signature
from services.orchestrator.shop.shopify import ShopifyShop
from services.orchestrator.shop.transport import Resilience
from services.orchestrator.shop.woocommerce import WooCommerceShop
from tests.fakes.business_backend import FakeBusinessBackend, backend_order
from tests.fakes.shopify_api import FakeShopify, shopify_order
from tests.fakes.woocommerce_api import FakeWooCommerce, woo_order

pytestmark = pytest.mark.integration

TOKEN = "shpat_0123456789abcdef"
KEY, SECRET = "ck_0123456789", "cs_0123456789"
ACTION_SECRET = b"a shared secret of the business"
FAST = Resilience(
    timeout_seconds=0.5,
    retries=2,
    backoff_seconds=0.01,
    max_backoff_seconds=0.05,
    breaker_failures=3,
    breaker_cool_down_seconds=0.4,
)

SHOPIFY_ORDERS = [
    shopify_order(
        "#1001",
        email="jane@example.com",
        phone="+33612345678",
        fulfillment="FULFILLED",
        billing_zip="75011",
        shipping_zip="75012",
        tracking=[{"company": "La Poste", "number": "6A123", "url": "https://t.example/6A123"}],
        delivered=True,
    ),
    shopify_order("#10010", email="other@example.com", fulfillment="FULFILLED"),
    shopify_order("#1002", financial="PENDING"),
    shopify_order("#1003", cancelled_at="2025-01-31T11:00:00Z", financial="VOIDED"),
    shopify_order("#1004", financial="REFUNDED", cancelled_at="2025-01-31T11:00:00Z"),
    shopify_order("#1005", fulfillment="ON_HOLD"),
    shopify_order("#1006", fulfillment="FULFILLED", tracking=[]),
]


# --- Shopify ----------------------------------------------------------------------


async def test_shopify_finds_an_order_by_its_name_with_or_without_hash() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            order = await shop.find_order("1001")
            assert await shop.find_order(" #1001 ") == order
    assert order == Order(
        reference="#1001",
        status="delivered",
        email="jane@example.com",
        phone="+33612345678",
        billing_postal_code="75011",
        shipping_postal_code="75012",
        country="FR",
        carrier="La Poste",
        tracking_number="6A123",
        tracking_url="https://t.example/6A123",
        updated_at=datetime(2025, 1, 31, 10, tzinfo=UTC),
    )
    assert fake.queries[0]["variables"] == {"query": "name:1001"}


@pytest.mark.parametrize(
    ("reference", "status"),
    [
        ("1002", "pending"),
        ("1003", "cancelled"),
        ("1004", "refunded"),
        ("1005", "on_hold"),
        ("1006", "shipped"),
        ("10010", "shipped"),
    ],
)
async def test_shopify_statuses_map_to_rapports(reference: str, status: str) -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            order = await shop.find_order(reference)
    assert order is not None and order.status == status
    assert order.reference == f"#{reference}"


async def test_shopify_unknown_or_prefix_only_is_none_and_junk_is_never_sent() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            assert await shop.find_order("9999") is None
            assert await shop.find_order("100") is None  # only #1001… start with it
            assert await shop.find_order('1" OR name:*') is None
    assert fake.requests == 2


async def test_shopify_bad_token_is_a_clear_credentials_error_not_retried() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2025-07", "shpat_wrong", FAST) as shop:
            with pytest.raises(ShopCredentialsRejected, match="read_orders") as caught:
                await shop.find_order("1001")
    assert "HTTP 401" in str(caught.value)
    assert not caught.value.retriable
    assert fake.requests == 1


async def test_shopify_wrong_api_version_names_the_setting() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2024-01", TOKEN, FAST) as shop:
            with pytest.raises(ShopUnavailable, match="api_version"):
                await shop.find_order("1001")


async def test_shopify_503_then_success_is_retried() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        fake.fail_next(2, status=503)
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            order = await shop.find_order("1001")
    assert order is not None and order.reference == "#1001"
    assert fake.requests == 3


async def test_shopify_throttled_query_is_retried() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        fake.throttle_next(2)
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            order = await shop.find_order("1001")
    assert order is not None
    assert len(fake.queries) == 3


async def test_shopify_throttled_past_the_retries_is_unavailable() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        fake.throttle_next(10)
        async with ShopifyShop(fake.base_url, "2025-07", TOKEN, FAST) as shop:
            with pytest.raises(ShopUnavailable, match="throttled.*3 attempts") as caught:
                await shop.find_order("1001")
    assert caught.value.retriable
    assert len(fake.queries) == 3


# --- WooCommerce ------------------------------------------------------------------

WOO_ORDERS = [
    woo_order(
        1001,
        status="completed",
        email="jane@example.com",
        phone="06 12 34 56 78",
        billing_postcode="75011",
        shipping_postcode="75012",
    ),
    woo_order(1002, number="WC-2002", status="on-hold"),
    woo_order(1003, status="trash"),
    woo_order(1004, status="failed"),
]


async def test_woocommerce_finds_an_order_by_id() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url, KEY, SECRET, FAST) as shop:
            order = await shop.find_order("#1001")
    assert order == Order(
        reference="1001",
        status="shipped",
        email="jane@example.com",
        phone="06 12 34 56 78",
        billing_postal_code="75011",
        shipping_postal_code="75012",
        country="FR",
        updated_at=datetime(2025, 1, 31, 10, tzinfo=UTC),
    )
    assert fake.searches == []  # found by id: no search


async def test_woocommerce_finds_a_custom_order_number_by_search() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url, KEY, SECRET, FAST) as shop:
            order = await shop.find_order("wc-2002")
            pending = await shop.find_order("1004")
    assert order is not None and (order.reference, order.status) == ("WC-2002", "on_hold")
    assert pending is not None and pending.status == "pending"


async def test_woocommerce_unknown_and_binned_orders_are_none() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url, KEY, SECRET, FAST) as shop:
            assert await shop.find_order("4242") is None
            assert await shop.find_order("1003") is None
            assert await shop.find_order("1002") is None  # its number is WC-2002


async def test_woocommerce_bad_secret_is_a_clear_credentials_error() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url, KEY, "cs_wrong", FAST) as shop:
            with pytest.raises(ShopCredentialsRejected, match="consumer key and secret"):
                await shop.find_order("1001")
    assert fake.requests == 1


async def test_woocommerce_at_a_wrong_address_is_a_configuration_error() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url + "/blog", KEY, SECRET, FAST) as shop:
            with pytest.raises(ShopUnavailable, match="no REST API"):
                await shop.find_order("1001")


async def test_woocommerce_down_is_unavailable_then_back() -> None:
    async with FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as fake:
        async with WooCommerceShop(fake.base_url, KEY, SECRET, FAST) as shop:
            await fake.go_down()
            with pytest.raises(ShopUnavailable, match="unreachable.*3 attempts"):
                await shop.find_order("1001")
            await fake.come_back()
            assert await shop.find_order("1001") is not None


# --- the business's own backend ---------------------------------------------------

BACKEND_ORDERS = [
    backend_order(
        "#1001",
        "shipped",
        email="jane@example.com",
        shipping_postal_code="75012",
        carrier="DHL",
        tracking_number="JD0001",
        updated_at="2025-01-31T10:00:00Z",
    ),
    backend_order("1002", "cancelled"),
]


async def test_backend_answers_a_signed_action() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            order = await shop.find_order("#1001")
            assert await shop.find_order("1003") is None
    assert order == Order(
        reference="#1001",
        status="shipped",
        email="jane@example.com",
        shipping_postal_code="75012",
        carrier="DHL",
        tracking_number="JD0001",
        updated_at=datetime(2025, 1, 31, 10, tzinfo=UTC),
    )
    assert fake.refused == 0
    sent = fake.received[0]
    assert sent.body == b'{"action": "order_status", "reference": "1001"}'
    assert verify_signature(
        ACTION_SECRET,
        sent.body,
        sent.headers["X-Rapport-Timestamp"],
        sent.headers["X-Rapport-Signature"],
    )


async def test_backend_refuses_a_tampered_body_and_a_wrong_secret() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        timestamp = str(int(time.time()))
        signed = b'{"action": "order_status", "reference": "1002"}'
        tampered = b'{"action": "order_status", "reference": "1001"}'
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                fake.url,
                content=tampered,
                headers={
                    "X-Rapport-Timestamp": timestamp,
                    "X-Rapport-Signature": sign(ACTION_SECRET, timestamp, signed),
                },
            )
        assert answer.status_code == 401
        async with HttpActionShop(fake.url, b"not the secret", FAST) as shop:
            with pytest.raises(ShopCredentialsRejected, match="same secret"):
                await shop.find_order("1001")
    assert fake.refused == 2
    assert fake.received == []


def test_the_signature_check_a_business_copies() -> None:
    body = b'{"action": "order_status", "reference": "1001"}'
    now = 1_735_689_600
    signature = sign(ACTION_SECRET, str(now), body)
    assert verify_signature(ACTION_SECRET, body, str(now), signature, now=now + 10)
    assert not verify_signature(ACTION_SECRET, body + b" ", str(now), signature, now=now)
    assert not verify_signature(b"other", body, str(now), signature, now=now)
    assert not verify_signature(ACTION_SECRET, body, str(now + 1), signature, now=now)
    assert not verify_signature(ACTION_SECRET, body, str(now), signature, now=now + 301)
    assert not verify_signature(ACTION_SECRET, body, "-1", signature, now=now)


async def test_backend_answer_out_of_contract_is_unavailable() -> None:
    orders = [backend_order("7", "lost_in_space")]
    async with FakeBusinessBackend(ACTION_SECRET, orders) as fake:
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            with pytest.raises(ShopUnavailable, match=r"order\.status"):
                await shop.find_order("7")


async def test_a_hanging_backend_times_out_and_the_retry_answers() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        fake.hang_next(1, seconds=30)
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            started = time.monotonic()
            order = await shop.find_order("1002")
            elapsed = time.monotonic() - started
    assert order is not None and order.status == "cancelled"
    # Cut at the timeout, not after the 30-s hang (the slack is for a busy machine).
    assert FAST.timeout_seconds <= elapsed < FAST.timeout_seconds + 5


async def test_a_backend_that_always_hangs_is_unavailable_in_bounded_time() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        fake.hang_next(10, seconds=30)
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            started = time.monotonic()
            with pytest.raises(ShopUnavailable, match="did not answer within 0.5s"):
                await shop.find_order("1002")
            elapsed = time.monotonic() - started
    assert elapsed < 3 * FAST.timeout_seconds + 5  # three cut attempts, not a 30-s hang
    assert fake.requests == 3


# --- the circuit breaker ----------------------------------------------------------


async def test_the_breaker_opens_after_failed_lookups_and_recovers_after_cool_down() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            fake.fail_next(3 * FAST.breaker_failures, status=500)
            for _ in range(FAST.breaker_failures):
                with pytest.raises(ShopUnavailable, match="HTTP 500"):
                    await shop.find_order("1002")
            asked = fake.requests
            with pytest.raises(ShopUnavailable, match="is not asked for now") as caught:
                await shop.find_order("1002")
            assert caught.value.retriable
            assert fake.requests == asked  # the open circuit spared the backend
            await asyncio.sleep(FAST.breaker_cool_down_seconds + 0.1)
            assert await shop.find_order("1002") is not None  # half-open, then closed
            assert await shop.find_order("1001") is not None


async def test_a_failure_while_half_open_opens_the_circuit_again() -> None:
    async with FakeBusinessBackend(ACTION_SECRET, BACKEND_ORDERS) as fake:
        async with HttpActionShop(fake.url, ACTION_SECRET, FAST) as shop:
            await fake.go_down()
            for _ in range(FAST.breaker_failures):
                with pytest.raises(ShopUnavailable, match="unreachable"):
                    await shop.find_order("1002")
            await asyncio.sleep(FAST.breaker_cool_down_seconds + 0.1)
            with pytest.raises(ShopUnavailable, match="unreachable"):
                await shop.find_order("1002")  # the one trial lookup fails…
            with pytest.raises(ShopUnavailable, match="is not asked for now"):
                await shop.find_order("1002")  # …and the circuit is open again


async def test_refused_credentials_never_open_the_circuit() -> None:
    async with FakeShopify(TOKEN, SHOPIFY_ORDERS) as fake:
        async with ShopifyShop(fake.base_url, "2025-07", "shpat_wrong", FAST) as shop:
            for _ in range(FAST.breaker_failures + 2):
                with pytest.raises(ShopCredentialsRejected):
                    await shop.find_order("1001")
    assert fake.requests == FAST.breaker_failures + 2


# --- the shop file ----------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_shop_file_opens_each_platform(tmp_path: Path) -> None:
    patience = "timeout_seconds: 0.5\nretries: 1\nbackoff_seconds: 0.01\n"
    environ = {"SHOP_TOKEN": TOKEN, "WC_KEY": KEY, "WC_SECRET": SECRET, "ACTION": "s3"}
    async with (
        FakeShopify(TOKEN, SHOPIFY_ORDERS) as shopify,
        FakeWooCommerce(KEY, SECRET, WOO_ORDERS) as woo,
        FakeBusinessBackend(b"s3", BACKEND_ORDERS) as backend,
    ):
        files = [
            f"platform: shopify\nbase_url: {shopify.base_url}\napi_version: '2025-07'\n"
            "access_token_env: SHOP_TOKEN\n",
            f"platform: woocommerce\nbase_url: {woo.base_url}\nconsumer_key_env: WC_KEY\n"
            "consumer_secret_env: WC_SECRET\n",
            f"platform: http\nurl: {backend.url}\nsecret_env: ACTION\n",
        ]
        for text in files:
            config = load_shop_config(_write(tmp_path, text + patience))
            assert config is not None
            async with open_shop(config, environ) as shop:
                order = await shop.find_order("1001")
            assert order is not None and order.email == "jane@example.com", text


def test_a_missing_secret_names_the_file_field_and_variable(tmp_path: Path) -> None:
    path = _write(tmp_path, "platform: http\nurl: https://backend.example.com/rapport\n")
    config = load_shop_config(path)
    assert config is not None
    with pytest.raises(ShopConfigError) as caught:
        open_shop(config, {})
    assert str(caught.value) == (
        f"{path}: secret_env: the environment variable RAPPORT_SHOP_ACTION_SECRET is not set"
    )


def test_no_shop_file_means_no_shop(tmp_path: Path) -> None:
    assert load_shop_config(tmp_path / "shop.yaml") is None


def test_every_mistake_in_the_shop_file_is_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "platform: woocommerce\nbase_url: http://shop.example.com\n"
        "consumer_key_env: ck_live_123\nconsumer_secret: cs_live_456\nretries: -1\n",
    )
    with pytest.raises(ShopConfigError) as caught:
        load_shop_config(path)
    fields = {problem.field for problem in caught.value.problems}
    assert fields == {"base_url", "consumer_key_env", "consumer_secret", "retries"}
    assert all(problem.path == path for problem in caught.value.problems)
    assert "https" in str(caught.value)
    assert "NAME of an environment variable" in str(caught.value)


def test_an_unknown_platform_is_named(tmp_path: Path) -> None:
    with pytest.raises(ShopConfigError, match="platform: required: one of shopify"):
        load_shop_config(_write(tmp_path, "platform: magento\n"))


def test_the_example_file_is_a_valid_shop_file() -> None:
    example = Path(__file__).resolve().parents[2] / "infra" / "shop.example.yaml"
    config = load_shop_config(example)
    assert config is not None and config.settings.platform == "shopify"
