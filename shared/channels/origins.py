"""Allow-lists of origins: where an adapter may fetch media from, and send credentials to.

An entry is an origin, ``scheme://host[:port]``, whose host may start with ``*.`` for
any subdomain (``https://*.fbcdn.net`` allows ``scontent.xx.fbcdn.net``, not
``fbcdn.net``). Scheme, host and port must all match; a URL with a user name or
password never does. Hosts are compared as written, before any DNS lookup.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from yarl import URL

_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str  # lower case; "*.example.com" for subdomains
    port: int

    def matches(self, url: URL) -> bool:
        host = (url.host or "").lower().rstrip(".")
        if url.scheme != self.scheme or url.port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def _parse(entry: str) -> _Origin:
    url = URL(entry.strip())
    if url.scheme not in _SCHEMES or not url.host or url.port is None:
        raise ValueError(f"{entry!r} is not an http(s) origin like https://media.example.com")
    if url.raw_path not in ("", "/") or url.query_string or url.fragment or url.user:
        raise ValueError(f"{entry!r} must be an origin only: no path, query or user")
    return _Origin(url.scheme, url.host.lower().rstrip("."), url.port)


@dataclass(frozen=True, slots=True)
class AllowedOrigins:
    """Origins a URL must be on; :meth:`of` refuses entries that are not origins."""

    origins: tuple[_Origin, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> AllowedOrigins:
        return cls(tuple(_parse(entry) for entry in entries))

    def __add__(self, other: AllowedOrigins) -> AllowedOrigins:
        return AllowedOrigins(self.origins + other.origins)

    def allows(self, url: URL) -> bool:
        if url.user is not None or url.password is not None:
            return False
        return any(origin.matches(url) for origin in self.origins)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL (what errors may name: no path, no token)."""
    parsed = URL(url)
    return str(parsed.origin()) if parsed.is_absolute() and parsed.host else "(not a URL)"
