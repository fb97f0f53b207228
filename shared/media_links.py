"""Media references, and the signed, expiring links that open them.

A customer's photo, voice note or file stays with the platform; Rapport's events carry
only a **reference** (``rapport.common.v1.Attachment.reference``) that the channel's
adapter alone can turn into bytes, with the platform's credentials:

========================  =====================================================  ==============
channel                   reference                                              served by
========================  =====================================================  ==============
sms                       Twilio's ``MediaUrl``, ``https://api.twilio.com/2010-  sms_adapter
                          04-01/Accounts/AC…/Messages/MM…/Media/ME…``
whatsapp                  ``whatsapp:media/<media id>``                          social_adapter
messenger, instagram      the attachment's ``payload.url`` (Meta's CDN)          social_adapter
telegram                  ``telegram:file/<file_id>``                            social_adapter
web                       ``web:upload/<sha256 of the bytes, hex>``              web_adapter
========================  =====================================================  ==============

A location has no reference (its coordinates are in the attachment). Which service opens
a channel's references is the channel's ``media_service`` in the registry
(``services/channels.py``).

**Opening one.** Each adapter serves ``GET /media?ref=<reference>&exp=<expiry>&sig=<sig>``
and streams the bytes back. ``exp`` is a Unix time in whole seconds after which the link
is refused; ``sig`` is the unpadded base64url HMAC-SHA256, under the stack-wide key
``MEDIA_SIGNING_KEY``, of ``rapport-media-v1`` + LF + ``exp`` + LF + ``ref`` (UTF-8).
Whoever holds the key (the agent desk) mints links with :func:`sign`; the adapters check
them with :func:`verify`. Without a valid, unexpired signature the answer is 403, so the
endpoint is never an open proxy to the platforms.

**Sending one.** An image or file a person sends travels in
``SendMessage.attachments[].reference`` as an absolute URL of such a link, on the service
that holds the bytes (the agent desk stores an agent's upload and serves it at its own
``/media``), for example ``http://127.0.0.1:8083/media?ref=desk:upload/<sha256>&exp=…&sig=…``.
Adapters fetch it only from the origins in ``OUTBOUND_MEDIA_ORIGINS`` and only when its
signature holds (:func:`verify_url`), then upload the bytes to the platform. Mint it
with :data:`OUTBOUND_LINK_TTL`, long enough for the send's retries.

Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode, urlsplit

from shared.errors import InvalidInputError

MEDIA_PATH = "/media"
"""Where every media-serving service answers ``GET`` with a signed link."""
LINK_TTL = timedelta(minutes=15)
"""How long a link an agent opens stays valid: the page that shows it, and a bit more."""
OUTBOUND_LINK_TTL = timedelta(days=1)
"""How long a link in a ``SendMessage`` stays valid: past every retry of the send."""
MAX_REFERENCE_CHARS = 4096

_CONTEXT = b"rapport-media-v1"
_MAX_EXPIRY_DIGITS = 12


class LinkProblem(StrEnum):
    """Why a link is refused: stable codes, also the answer's ``error``."""

    MALFORMED = "malformed_link"
    EXPIRED = "expired_link"
    BAD_SIGNATURE = "bad_signature"


class MediaLinkError(InvalidInputError):
    def __init__(self, problem: LinkProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class MediaLink:
    """A signed link's parts: ``query()`` is what goes after ``/media?``."""

    reference: str
    expires: int
    signature: str

    def query(self) -> dict[str, str]:
        return {"ref": self.reference, "exp": str(self.expires), "sig": self.signature}

    def url(self, base_url: str) -> str:
        """The absolute link on the service at ``base_url`` (``http://host:port``)."""
        return f"{base_url.rstrip('/')}{MEDIA_PATH}?{urlencode(self.query())}"


def signature(key: bytes, reference: str, expires: int) -> str:
    message = b"\n".join((_CONTEXT, str(expires).encode(), reference.encode()))
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def sign(
    key: bytes, reference: str, *, ttl: timedelta = LINK_TTL, now: float | None = None
) -> MediaLink:
    """A link to ``reference`` valid for ``ttl`` from ``now`` (the current time)."""
    if not reference or len(reference) > MAX_REFERENCE_CHARS:
        raise InvalidInputError("a media reference is 1 to 4096 characters")
    expires = int((time.time() if now is None else now) + ttl.total_seconds())
    return MediaLink(reference, expires, signature(key, reference, expires))


def verify(key: bytes, query: Mapping[str, str], *, now: float | None = None) -> str:
    """The reference a link's query opens; :class:`MediaLinkError` saying why not."""
    reference, expires, given = query.get("ref", ""), query.get("exp", ""), query.get("sig", "")
    if not reference or len(reference) > MAX_REFERENCE_CHARS or not given:
        raise MediaLinkError(LinkProblem.MALFORMED, "the link needs ref, exp and sig")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= _MAX_EXPIRY_DIGITS):
        raise MediaLinkError(LinkProblem.MALFORMED, "exp must be a Unix time in seconds")
    expected = signature(key, reference, int(expires))
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
        raise MediaLinkError(LinkProblem.BAD_SIGNATURE, "the link's signature does not match")
    if int(expires) < (time.time() if now is None else now):
        raise MediaLinkError(LinkProblem.EXPIRED, "the link has expired")
    return reference


def verify_url(key: bytes, url: str, *, now: float | None = None) -> str:
    """The reference an absolute link opens, checked as :func:`verify` does."""
    parts = urlsplit(url)
    if not parts.path.endswith(MEDIA_PATH):  # a proxy may serve the service under a prefix
        raise MediaLinkError(LinkProblem.MALFORMED, f"a media link's path ends in {MEDIA_PATH}")
    return verify(key, dict(parse_qsl(parts.query)), now=now)
