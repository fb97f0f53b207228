"""The desk's security pieces, each small enough to test alone.

- Passwords: argon2id through argon2-cffi (the reference binding, OWASP's first choice),
  hashed off the event loop; an unknown email is checked against a dummy hash so a
  login takes as long whether or not the account exists.
- Sessions: 256-bit random tokens; the database keeps only their SHA-256, so a leaked
  table does not sign anyone in.
- CSRF: a synchronizer token per session (per browser before login), compared in
  constant time. Hand-written because it is a dozen lines and the aiohttp CSRF packages
  are unmaintained; SameSite=Strict cookies are the second layer.
- Login throttle: failed sign-ins earn delays that double per (account, client address)
  and per client address, so a guesser slows down while nobody elsewhere is locked out
  (a fixed lockout per account would let anyone lock any agent out). The client address
  comes from X-Forwarded-For only when the direct peer is a configured trusted proxy.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import InvalidInputError

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str, min_length: int) -> str:
    """An argon2id hash; refuses passwords shorter than ``min_length``."""
    if len(password) < min_length:
        raise InvalidInputError(f"a password needs at least {min_length} characters")
    return _HASHER.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; runs the same work when there is no account."""
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


async def check_password_async(password_hash: str | None, password: str) -> bool:
    """:func:`check_password` in a worker thread: argon2 is deliberately slow."""
    return await asyncio.to_thread(check_password, password_hash, password)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the sessions table stores for a cookie's token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison; an absent or empty token never matches."""
    return bool(expected) and bool(given) and hmac.compare_digest(expected, given or "")


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str | None) -> IPAddress | None:
    """The address in ``text`` (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, proxies: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    request_remote: str | None,
    forwarded_for_header: str | None,
    trusted_proxies: Sequence[IPNetwork],
) -> str:
    """Who is signing in: the direct peer, unless it is a trusted proxy.

    From a trusted proxy, the rightmost X-Forwarded-For entry that is not itself a
    trusted proxy (each proxy appends whom it heard from, so entries further left are
    whatever the client wrote); invalid entries are skipped. From anyone else the
    header is ignored, so a client cannot choose the address it is throttled under.
    """
    peer = _ip(request_remote)
    if peer is None:
        return request_remote or "unknown"
    if _trusted(peer, trusted_proxies):
        for entry in reversed((forwarded_for_header or "").split(",")):
            address = _ip(entry)
            if address is not None and not _trusted(address, trusted_proxies):
                return str(address)
    return str(peer)


@dataclass(frozen=True)
class ThrottleRules:
    """Failures allowed free within ``window`` seconds, per (account, address) and per
    address; beyond them each attempt waits 1 s, 2 s, 4 s … up to ``max_delay``."""

    free_per_account_address: int
    free_per_address: int
    window: float
    max_delay: float


class _Failures:
    """The times of one counter's failures still inside the window."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()

    def forget_before(self, moment: float) -> _Failures:
        while self.times and self.times[0] <= moment:
            self.times.popleft()
        return self

    def wait(self, now: float, free: int, max_delay: float) -> float:
        """Seconds until the next attempt: none within the free failures, then a delay
        from the latest failure that doubles with each one beyond them."""
        beyond = len(self.times) - free
        if beyond < 0:
            return 0.0
        return max(0.0, self.times[-1] + min(2.0 ** min(beyond, 64), max_delay) - now)


# A counter per (account, address), and per address under (None, address).
_Key = tuple[str | None, str]


class LoginThrottle:
    """Delays that grow with failed sign-ins, per (account, address) and per address.

    Only failures count, and a success clears its (account, address) counter. An address
    is only ever slowed by its own failures, so a guesser elsewhere cannot keep an agent
    out; the per-address counter slows one address guessing many accounts. Held in
    memory (one desk process serves the desk): a restart forgets every counter.
    """

    def __init__(self, rules: ThrottleRules, clock: Callable[[], float] = time.monotonic):
        self._rules = rules
        self._clock = clock
        self._counters: dict[_Key, _Failures] = {}
        self._swept_at = clock()

    def wait(self, account: str, address: str) -> float:
        """Seconds before this attempt may be checked (0: check it now)."""
        now, rules = self._clock(), self._rules
        pair = self._counter((account.lower(), address), now)
        whole = self._counter((None, address), now)
        return max(
            pair.wait(now, rules.free_per_account_address, rules.max_delay),
            whole.wait(now, rules.free_per_address, rules.max_delay),
        )

    def failed(self, account: str, address: str) -> None:
        now = self._clock()
        for key in ((account.lower(), address), (None, address)):
            counter = self._counters.setdefault(key, _Failures())
            counter.forget_before(now - self._rules.window).times.append(now)
        self._sweep(now)

    def succeeded(self, account: str, address: str) -> None:
        """The (account, address) counter is cleared, and the attempt the address counted
        before the check (its latest failure for this account) is taken back."""
        pair = self._counters.pop((account.lower(), address), None)
        whole = self._counters.get((None, address))
        if pair is not None and pair.times and whole is not None and pair.times[-1] in whole.times:
            whole.times.remove(pair.times[-1])

    def unlock(self, account: str) -> None:
        """An admin's unlock: the account's counters at every address are cleared."""
        for key in [key for key in self._counters if key[0] == account.lower()]:
            del self._counters[key]

    def _counter(self, key: _Key, now: float) -> _Failures:
        return self._counters.get(key, _Failures()).forget_before(now - self._rules.window)

    def _sweep(self, now: float) -> None:
        """Once a window, drop counters with no recent failure: memory stays bounded by
        the failures of the last two windows."""
        if now - self._swept_at < self._rules.window:
            return
        self._swept_at = now
        horizon = now - self._rules.window
        for key in [k for k, f in self._counters.items() if not f.forget_before(horizon).times]:
            del self._counters[key]
