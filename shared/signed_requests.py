"""Signed internal requests between services that share ``MEDIA_SIGNING_KEY``.

The agent desk asks the channel adapters to export or erase what they hold about a
customer (``POST /rights/erase``, ``/rights/export``). Those calls carry customers'
addresses and must come from the desk alone, so each one is signed:

* the key is not the media key itself but one derived from it for this use alone
  (HMAC-SHA256 of ``rapport-internal-request-v1`` under the media key), so a media link's
  signature can never pass as a request's, nor the other way round;
* the signature is the unpadded base64url HMAC-SHA256, under that key, of the method,
  the path, the Unix time in seconds and the body, each followed by LF;
* the receiver refuses a time more than :data:`MAX_SKEW` away from its own clock, so a
  request overheard cannot be replayed later.

Headers: :data:`TIMESTAMP_HEADER` and :data:`SIGNATURE_HEADER`. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum

from shared.errors import InvalidInputError

TIMESTAMP_HEADER = "X-Rapport-Timestamp"
SIGNATURE_HEADER = "X-Rapport-Signature"
MAX_SKEW = timedelta(minutes=5)
"""How far a request's time may be from the receiver's: past it, the request is refused."""

_CONTEXT = b"rapport-internal-request-v1"
_MAX_TIMESTAMP_DIGITS = 12


class RequestProblem(StrEnum):
    """Why a request is refused: stable codes, also the answer's ``error``."""

    UNSIGNED = "unsigned_request"
    STALE = "stale_request"
    BAD_SIGNATURE = "bad_signature"


class RequestSignatureError(InvalidInputError):
    def __init__(self, problem: RequestProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def request_key(media_key: bytes) -> bytes:
    """The key internal requests are signed with, derived from the media signing key."""
    return hmac.new(media_key, _CONTEXT, hashlib.sha256).digest()


def request_signature(key: bytes, method: str, path: str, timestamp: int, body: bytes) -> str:
    message = b"\n".join((method.upper().encode(), path.encode(), str(timestamp).encode(), body))
    digest = hmac.new(request_key(key), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_headers(
    key: bytes, method: str, path: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The headers that make ``body`` sent to ``path`` a request the receiver accepts."""
    timestamp = int(time.time() if now is None else now)
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: request_signature(key, method, path, timestamp, body),
    }


def verify_request(
    key: bytes,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Accept the request or raise :class:`RequestSignatureError` saying why not."""
    stamp, given = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not given or not (
        stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS
    ):
        raise RequestSignatureError(
            RequestProblem.UNSIGNED, f"the request needs {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}"
        )
    expected = request_signature(key, method, path, int(stamp), body)
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
        raise RequestSignatureError(RequestProblem.BAD_SIGNATURE, "the signature does not match")
    if abs(int(stamp) - (time.time() if now is None else now)) > MAX_SKEW.total_seconds():
        raise RequestSignatureError(
            RequestProblem.STALE, f"the request's time is more than {MAX_SKEW} from now"
        )
