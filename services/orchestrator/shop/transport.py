"""The HTTP plumbing the three shop clients share: one ``httpx.AsyncClient``, a deadline
per attempt, retries with exponential backoff, and a circuit breaker.

A lookup is tried ``retries + 1`` times when an attempt fails in a way another may not
(connection error, timeout, HTTP 5xx or 429, a platform's own throttling), waiting
longer each time and at least what the platform asked for (``Retry-After``). A lookup
that still fails counts once towards the breaker (purgatory's, made for asyncio): after
``breaker_failures`` failed lookups in a row the shop is not asked at all for
``breaker_cool_down_seconds``, then one lookup is let through to see if it recovered.
So a shop that is down costs a customer one quick "cannot check right now", not a
wait for every retry of every message.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from services.orchestrator.shop.order import Order, clean_reference
from services.orchestrator.shop.port import ShopCredentialsRejected, ShopUnavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Resilience:
    """How long to wait for a shop, how often to try again, when to stop asking."""

    timeout_seconds: float = 5.0
    retries: int = 2
    backoff_seconds: float = 0.2  # the first wait; doubles on each retry
    max_backoff_seconds: float = 5.0
    breaker_failures: int = 5
    breaker_cool_down_seconds: float = 30.0


class Transient(ShopUnavailable):
    """One attempt failed in a way the next may not; ``retry_after`` is the platform's
    own request to wait, in seconds."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 0.0


class ShopHttp:
    """One platform's HTTP client with its retries and its breaker."""

    def __init__(
        self,
        platform: str,
        resilience: Resilience,
        *,
        credentials_hint: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
    ) -> None:
        self.platform = platform
        self._resilience = resilience
        self._credentials_hint = credentials_hint
        self._client = httpx.AsyncClient(
            headers=headers, auth=auth, timeout=resilience.timeout_seconds
        )
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=resilience.breaker_failures,
            default_ttl=resilience.breaker_cool_down_seconds,
            # A configuration mistake, or a lookup cancelled by its caller, is no outage.
            exclude=[ShopCredentialsRejected, asyncio.CancelledError],
        )
        # backoff, 2 × backoff, 4 × backoff… plus up to one backoff of jitter, so
        # replicas that failed together do not retry together.
        self._backoff = wait_exponential(
            multiplier=resilience.backoff_seconds, max=resilience.max_backoff_seconds
        ) + wait_random(0, resilience.backoff_seconds)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """One attempt. Returns any 2xx, 3xx or 404 answer; raises :class:`Transient` for
        what is worth another try, :class:`ShopCredentialsRejected` for 401/403, and
        :class:`ShopUnavailable` for any other 4xx."""
        try:
            response = await self._client.request(method, url, **options)
        except httpx.TimeoutException as exc:
            raise Transient(
                f"{self.platform} did not answer within {self._resilience.timeout_seconds}s"
            ) from exc
        except httpx.TransportError as exc:
            raise Transient(f"{self.platform} is unreachable ({type(exc).__name__})") from exc
        status = response.status_code
        if status in (401, 403):
            raise ShopCredentialsRejected(
                f"{self.platform} refused Rapport's credentials (HTTP {status}): "
                f"{self._credentials_hint}"
            )
        if status == 429 or status >= 500:
            raise Transient(f"{self.platform} answered HTTP {status}", _retry_after(response))
        if status >= 400 and status != 404:
            raise ShopUnavailable(
                f"{self.platform} answered HTTP {status} to {method} {response.url.path}: "
                f"{response.text[:200]}"
            )
        return response

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` under the breaker, retried while it raises :class:`Transient`."""
        breaker = await self._breakers.get_breaker(self.platform)
        try:
            async with breaker:
                return await self._retried(attempt)
        except OpenedState as exc:
            raise ShopUnavailable(
                f"{self.platform} is not asked for now: its last "
                f"{self._resilience.breaker_failures} lookups failed; it is tried again "
                f"{self._resilience.breaker_cool_down_seconds}s after the last failure"
            ) from exc

    async def _retried(self, attempt: Callable[[], Awaitable[T]]) -> T:
        tries = self._resilience.retries + 1
        retrying = AsyncRetrying(
            stop=stop_after_attempt(tries),
            wait=self._wait,
            retry=retry_if_exception_type(Transient),
            reraise=True,
        )
        try:
            return await retrying(self._within_deadline, attempt)
        except Transient as exc:
            raise ShopUnavailable(f"{exc} ({tries} attempts)") from exc

    async def _within_deadline(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """The whole attempt, body included, within the timeout (httpx's own timeouts
        are per read, so a shop trickling bytes could outlast them)."""
        try:
            async with asyncio.timeout(self._resilience.timeout_seconds):
                return await attempt()
        except TimeoutError as exc:
            raise Transient(
                f"{self.platform} did not answer within {self._resilience.timeout_seconds}s"
            ) from exc

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        asked = error.retry_after if isinstance(error, Transient) else 0.0
        return min(max(self._backoff(state), asked), self._resilience.max_backoff_seconds)


class HttpShop(abc.ABC):
    """What the three clients share: the reference check, the resilient lookup and
    closing; each says how to look one reference up (:meth:`_lookup`)."""

    def __init__(self, http: ShopHttp) -> None:
        self._http = http

    async def find_order(self, reference: str) -> Order | None:
        cleaned = clean_reference(reference)
        if cleaned is None:
            return None
        return await self._http.run(lambda: self._lookup(cleaned))

    @abc.abstractmethod
    async def _lookup(self, reference: str) -> Order | None:
        """One attempt at finding ``reference`` (already cleaned)."""

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def json_body(http: ShopHttp, response: httpx.Response) -> Any:
    """The answer's JSON, or :class:`ShopUnavailable` saying the platform answered none."""
    try:
        return response.json()
    except ValueError as exc:
        raise ShopUnavailable(
            f"{http.platform} answered HTTP {response.status_code} without JSON "
            f"({response.headers.get('Content-Type', 'no content type')})"
        ) from exc


def text_field(value: Any, key: str) -> str | None:
    """``value[key]`` when ``value`` is an object and that is a non-blank string."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, str) and found.strip() else None


def object_field(value: Any, key: str) -> dict[str, Any]:
    """``value[key]`` when it is an object, else an empty one: shops leave out or null
    what an order does not have (no shipping address for a download)."""
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}
