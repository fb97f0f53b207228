"""What Messenger, Instagram and WhatsApp share: Meta's webhook rules and the Graph send API.

All three are Meta webhooks of one app. Subscribing, Meta calls the endpoint with
``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`` and expects the challenge
back when the token is ours. Every POST carries ``X-Hub-Signature-256: sha256=<hex>``, an
HMAC-SHA256 of the raw body under the app secret: checked over the exact bytes, in
constant time, before anything in the body is believed.

Sends go to the Graph API (``POST {base}/{version}/…``) with the page or WhatsApp access
token in the ``Authorization`` header, never in the URL, so tokens stay out of logs. Meta's
errors are turned into Rapport's: 5xx, 429 and Meta's throttling codes are worth a retry
(:class:`TemporarySendError`), any other 4xx is a refusal (:class:`SendError` carrying
Meta's error code).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from services.social_adapter.payloads import JsonObject, obj, text
from shared.channels.adapter import (
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
    WebhookResponse,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="
_MAX_CHALLENGE_CHARS = 256

# Graph error codes that mean "slow down", even when answered with a 4xx status:
# API/app/page rate limits, WhatsApp throughput and pair-rate limits, a temporary error.
THROTTLING_CODES = frozenset({2, 4, 17, 32, 613, 80007, 130429, 131000, 131016, 131056})


def _ascii(value: str) -> bytes:
    return value.encode("utf-8", "replace")


def sign(app_secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return _SIGNATURE_PREFIX + hmac.new(app_secret, body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: bytes, request: WebhookRequest) -> None:
    """Raise :class:`SignatureError` unless the body was signed with the app secret."""
    given = request.header(SIGNATURE_HEADER)
    if not given:
        raise SignatureError(f"no {SIGNATURE_HEADER} header")
    if not hmac.compare_digest(_ascii(given), _ascii(sign(app_secret, request.body))):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def handshake(verify_token: bytes, request: WebhookRequest) -> WebhookResponse:
    """Meta's subscription check: echo ``hub.challenge`` when the verify token is ours."""
    mode = request.query.get("hub.mode", "")
    token = request.query.get("hub.verify_token", "")
    challenge = request.query.get("hub.challenge", "")
    if mode != "subscribe" or not hmac.compare_digest(_ascii(token), verify_token):
        return WebhookResponse(403, b"forbidden")
    if not challenge or len(challenge) > _MAX_CHALLENGE_CHARS:
        return WebhookResponse(400, b"hub.challenge missing or too long")
    return WebhookResponse(200, challenge.encode())


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """Meta's ``(code, message)`` from an error answer, falling back to the HTTP status."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = obj(body, "error")
    code = text(error, "code") or str(response.status_code)
    message = text(error, "message", 300) or response.reason_phrase or "error"
    subcode = text(error, "error_subcode")
    if subcode:
        message = f"{message} (subcode {subcode})"
    return code, message


class GraphClient:
    """``POST``s to the Graph API under one access token."""

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, version: str, access_token: SecretStr
    ) -> None:
        self._http = http
        self._base = f"{base_url.rstrip('/')}/{version}"
        self._token = access_token

    async def post(self, path: str, payload: JsonObject) -> JsonObject:
        """The JSON answer of ``POST {base}/{version}/{path}``, or Meta's error raised."""
        return await self._post(path, json=payload)

    async def post_file(
        self, path: str, fields: Mapping[str, str], file: tuple[str, bytes, str]
    ) -> JsonObject:
        """``POST`` a ``multipart/form-data`` body: ``fields`` and ``file`` (name, bytes, type)
        as its ``file`` part, the way the Cloud API takes a media upload."""
        return await self._post(path, data=dict(fields), files={"file": file})

    async def _post(self, path: str, **content: Any) -> JsonObject:
        try:
            response = await self._http.post(
                f"{self._base}/{path.lstrip('/')}",
                headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
                **content,
            )
        except httpx.TimeoutException as exc:
            raise TemporarySendError("the Graph API timed out", code="timeout") from exc
        except httpx.TransportError as exc:
            raise TemporarySendError(
                f"the Graph API is unreachable: {type(exc).__name__}", code="network"
            ) from exc
        if response.is_success:
            try:
                answer: Any = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise SendError("the Graph API answered with no JSON object", code="bad_response")
            return answer
        code, message = _error_of(response)
        described = f"Graph API error {code} (HTTP {response.status_code}): {message}"
        status = response.status_code
        if status >= 500 or status == 429 or (code.isdigit() and int(code) in THROTTLING_CODES):
            raise TemporarySendError(described, code=code)
        raise SendError(described, code=code)
