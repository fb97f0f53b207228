"""Which shop Rapport asks about orders, read from one YAML file (``shop.yaml``).

The file names the platform, where it is and how patient to be with it; secrets are
never in it, only the names of the environment variables that hold them, so the file
can be committed and shared. A missing file means no shop is connected. Mistakes are
reported all at once, each with the file and the field, the way the knowledge folder's
are. ``infra/shop.example.yaml`` documents every field.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from services.orchestrator.knowledge.articles import Problem
from services.orchestrator.shop.http_action import HttpActionShop
from services.orchestrator.shop.shopify import ShopifyShop
from services.orchestrator.shop.transport import HttpShop, Resilience
from services.orchestrator.shop.woocommerce import WooCommerceShop

DEFAULT_SHOP_FILE = Path("shop.yaml")
SHOP_FILE_VARIABLE = "RAPPORT_SHOP_FILE"

EnvName = Annotated[
    str,
    Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="the NAME of an environment variable holding the secret",
    ),
]


class ShopConfigError(ValueError):
    """A shop file that cannot be used; ``problems`` names each mistake."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _web_address(value: str) -> str:
    """An https URL (plain http only on this machine, for trying things out): the
    credentials travel with every request."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be a URL such as https://shop.example.com")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError("must use https: the credentials travel with every request")
    if parts.query or parts.fragment:
        raise ValueError("must have no query or fragment")
    return value.strip().rstrip("/")


class Breaker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    failures: int = Field(5, ge=1, le=100)
    cool_down_seconds: float = Field(30.0, gt=0, le=3600)


class _Settings(BaseModel):
    """What every platform has: patience and the breaker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_seconds: float = Field(5.0, gt=0, le=60)
    retries: int = Field(2, ge=0, le=10)
    backoff_seconds: float = Field(0.2, gt=0, le=10)
    breaker: Breaker = Breaker()

    def resilience(self) -> Resilience:
        return Resilience(
            timeout_seconds=self.timeout_seconds,
            retries=self.retries,
            backoff_seconds=self.backoff_seconds,
            breaker_failures=self.breaker.failures,
            breaker_cool_down_seconds=self.breaker.cool_down_seconds,
        )


class ShopifySettings(_Settings):
    platform: Literal["shopify"]
    base_url: str  # https://{shop}.myshopify.com
    api_version: str = Field("2025-07", pattern=r"^(\d{4}-(01|04|07|10)|unstable)$")
    access_token_env: EnvName = "RAPPORT_SHOPIFY_ACCESS_TOKEN"

    _url = field_validator("base_url")(_web_address)


class WooCommerceSettings(_Settings):
    platform: Literal["woocommerce"]
    base_url: str  # the WordPress site, https://shop.example.com
    consumer_key_env: EnvName = "RAPPORT_WOOCOMMERCE_CONSUMER_KEY"
    consumer_secret_env: EnvName = "RAPPORT_WOOCOMMERCE_CONSUMER_SECRET"

    _url = field_validator("base_url")(_web_address)


class HttpActionSettings(_Settings):
    platform: Literal["http"]
    url: str  # the endpoint the action is POSTed to
    secret_env: EnvName = "RAPPORT_SHOP_ACTION_SECRET"

    _url = field_validator("url")(_web_address)


ShopSettings = Annotated[
    ShopifySettings | WooCommerceSettings | HttpActionSettings,
    Field(discriminator="platform"),
]
_SETTINGS: TypeAdapter[ShopifySettings | WooCommerceSettings | HttpActionSettings] = TypeAdapter(
    ShopSettings
)


@dataclass(frozen=True, slots=True)
class ShopConfig:
    """A shop file as read: its settings, and where they came from (for messages)."""

    settings: ShopifySettings | WooCommerceSettings | HttpActionSettings
    source: Path


def shop_file(environ: Mapping[str, str] = os.environ) -> Path:
    """``$RAPPORT_SHOP_FILE`` if set, else ``shop.yaml`` in the working directory (the
    repository's root when Rapport runs from it)."""
    return Path(environ.get(SHOP_FILE_VARIABLE) or DEFAULT_SHOP_FILE)


_PATTERN_HINTS = {
    "env": "must be the NAME of an environment variable (e.g. RAPPORT_SHOP_SECRET)",
    "version": "a Shopify API version such as 2025-07 (one each quarter) or unstable",
}


def _problem(path: Path, error: Mapping[str, Any]) -> Problem:
    location = [str(part) for part in error["loc"]]
    if location and location[0] in ("shopify", "woocommerce", "http"):
        location = location[1:]  # the union's branch, not a field of the file
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid" or error["type"] == "union_tag_not_found":
        return Problem(path, "platform", "required: one of shopify, woocommerce, http")
    if error["type"] == "extra_forbidden":
        message = "unknown field (secrets go in environment variables, named by *_env)"
    if error["type"] == "string_pattern_mismatch":
        message = _PATTERN_HINTS.get(location[-1].split("_")[-1], message)
    return Problem(path, ".".join(location), message)


def load_shop_config(path: Path | None = None) -> ShopConfig | None:
    """The shop file at ``path`` (default :func:`shop_file`), or ``None`` when there is
    none; raises :class:`ShopConfigError` naming every mistake in it."""
    path = shop_file() if path is None else path
    if not path.exists():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ShopConfigError([Problem(path, "", f"is not readable YAML: {error}")]) from error
    if not isinstance(document, dict):
        raise ShopConfigError([Problem(path, "", "expected a mapping with platform: ...")])
    try:
        settings = _SETTINGS.validate_python(document)
    except ValidationError as error:
        raise ShopConfigError([_problem(path, e) for e in error.errors()]) from error
    return ShopConfig(settings, path)


def open_shop(config: ShopConfig, environ: Mapping[str, str] = os.environ) -> HttpShop:
    """The client for the configured shop, its secrets read from ``environ``; close it
    with ``aclose()`` or use it as ``async with``."""
    settings = config.settings

    def secret(field: str) -> str:
        name = getattr(settings, field)
        value = environ.get(name, "")
        if not value:
            raise ShopConfigError(
                [Problem(config.source, field, f"the environment variable {name} is not set")]
            )
        return value

    resilience = settings.resilience()
    if isinstance(settings, ShopifySettings):
        return ShopifyShop(
            settings.base_url, settings.api_version, secret("access_token_env"), resilience
        )
    if isinstance(settings, WooCommerceSettings):
        return WooCommerceShop(
            settings.base_url,
            secret("consumer_key_env"),
            secret("consumer_secret_env"),
            resilience,
        )
    return HttpActionShop(settings.url, secret("secret_env").encode(), resilience)
