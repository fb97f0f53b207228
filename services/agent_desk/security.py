"""The desk's security pieces, each small enough to test alone.

- Passwords: argon2id through argon2-cffi (the reference binding, OWASP's first choice),
  hashed off the event loop; an unknown email is checked against a dummy hash so a
  login takes as long whether or not the account exists.
- Sessions: 256-bit random tokens; the database keeps only their SHA-256, so a leaked
  table does not sign anyone in.
- CSRF: a synchronizer token per session (per browser before login), compared in
  constant time. Hand-written because it is a dozen lines and the aiohttp CSRF packages
  are unmaintained; SameSite=Strict cookies are the second layer.
- Login rate limits: moving windows per account and per client address from `limits`
  (the library behind Flask-Limiter), in memory: one desk process holds them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

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


@dataclass(frozen=True)
class LoginLimits:
    per_account: str
    per_address: str


class LoginRateLimiter:
    """Counts login attempts per account and per client address in moving windows."""

    def __init__(self, limits: LoginLimits) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._per_account: RateLimitItem = parse(limits.per_account)
        self._per_address: RateLimitItem = parse(limits.per_address)

    async def allow(self, account: str, address: str) -> bool:
        """Record one attempt; False when either window is already full."""
        by_address = await self._limiter.hit(self._per_address, "address", address)
        by_account = await self._limiter.hit(self._per_account, "account", account.lower())
        return by_address and by_account
