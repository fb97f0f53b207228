"""A local fake of Twilio's Messages API, so the SMS adapter's sends are tested for real.

It serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio does: HTTP
Basic auth with the account SID and auth token, a form body checked against the
operation's request schema (``tests/fixtures/twilio/messages_create.json``, copied from
Twilio's OpenAPI description), Twilio's rules the schema cannot say (a sender, a body),
and a ``201`` Message resource in reply. It records what it accepted, and can be told to
fail the next requests with a 5xx, a 429 or a Twilio error such as 21610, or to be slow.

It also keeps media the way Twilio does for an incoming MMS: ``GET
/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}`` with the
account's Basic credentials ("Enforce HTTP Auth on Media URLs") redirects to a
short-lived URL on the media CDN (``mms.twiliocdn.com``), played here by ``/mms/...`` on
``cdn_base_url`` (this server unless told otherwise), which serves the bytes without
credentials and records any it is sent.

It also builds webhooks the way Twilio sends them (:func:`signed_webhook`), signed with
the Twilio library's own ``RequestValidator.compute_signature``.

``GET`` on the same Messages path lists what it accepted, newest first, as Twilio's "Read
multiple Message resources" does (filtered by ``To``), so a test that cannot reach the
fake's memory (the fake in a container: ``python -m tests.fakes.twilio_server``) reads them
with the Twilio library's own ``messages.list``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import os
import re
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

CONTRACT = json.loads(
    (
        Path(__file__).resolve().parents[1] / "fixtures" / "twilio" / "messages_create.json"
    ).read_text()
)
PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
FORM = "application/x-www-form-urlencoded"

Params = list[tuple[str, str]]


def message_sid() -> str:
    return "SM" + secrets.token_hex(16)


def inbound_params(
    sender: str,
    text: str,
    *,
    to: str = "+15005550006",
    sid: str = "",
    messaging_service_sid: str = "",
    media: tuple[tuple[str, str], ...] = (),
    account_sid: str = "AC00000000000000000000000000000000",
) -> Params:
    """The form Twilio posts for an incoming SMS/MMS (as documented for messaging webhooks)."""
    sid = sid or message_sid()
    params: Params = [
        ("ToCountry", "US"),
        ("SmsMessageSid", sid),
        ("NumMedia", str(len(media))),
        ("SmsSid", sid),
        ("SmsStatus", "received"),
        ("Body", text),
        ("To", to),
        ("NumSegments", "1"),
        ("MessageSid", sid),
        ("AccountSid", account_sid),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    if messaging_service_sid:
        params.append(("MessagingServiceSid", messaging_service_sid))
    for index, (url, content_type) in enumerate(media):
        params += [(f"MediaUrl{index}", url), (f"MediaContentType{index}", content_type)]
    return params


def status_params(
    customer: str, sid: str, status: str, error_code: str = "", sender: str = "+15005550006"
) -> Params:
    """The form Twilio posts to a message's StatusCallback."""
    params: Params = [
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("MessageStatus", status),
        ("To", customer),
        ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", sender),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code:
        params.append(("ErrorCode", error_code))
    return params


def signature(url: str, params: Params, auth_token: str) -> str:
    return str(RequestValidator(auth_token).compute_signature(url, MultiDict(params)))


def signed_webhook(url: str, params: Params, auth_token: str) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a webhook Twilio signed for ``url`` (its public URL)."""
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature(url, params, auth_token)}
    return urlencode(params).encode(), headers


def media_sid() -> str:
    return "ME" + secrets.token_hex(16)


@dataclass(frozen=True)
class StoredMedia:
    body: bytes
    content_type: str


@dataclass(frozen=True)
class Failure:
    status: int
    code: int
    message: str


@dataclass(frozen=True)
class Sent:
    """A message the fake accepted."""

    sid: str
    to: str
    body: str
    form: dict[str, list[str]]
    resource: dict[str, Any]


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def _check_value(name: str, schema: dict[str, Any], value: str) -> str | None:
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?[0-9]+", value):
        return f"{name} must be an integer"
    if kind == "number" and not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
        return f"{name} must be a number"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return f"{name} must be true or false"
    if "enum" in schema and value not in schema["enum"]:
        return f"{name} must be one of {schema['enum']}"
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"{name} is too short"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{name} is too long"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{name} does not match {schema['pattern']}"
    if schema.get("format") == "uri" and not re.match(r"^https?://[^\s_]+$", value):
        return f"{name} is not a URL"
    if schema.get("format") == "phone-number" and not value.strip():
        return f"{name} is empty"
    return None


def contract_violations(form: dict[str, list[str]]) -> list[str]:
    """What in a Messages create form breaks the operation's request schema."""
    schema = CONTRACT["requestBody"]["schema"]
    properties: dict[str, Any] = schema["properties"]
    problems = [f"{name} is required" for name in schema.get("required", []) if name not in form]
    for name, values in form.items():
        prop = properties.get(name)
        if prop is None:
            problems.append(f"{name} is not a parameter of CreateMessage")
            continue
        if prop.get("type") != "array" and len(values) > 1:
            problems.append(f"{name} is given {len(values)} times")
        item = prop.get("items", {}) if prop.get("type") == "array" else prop
        problems.extend(p for v in values if (p := _check_value(name, item, v)) is not None)
    return problems


class FakeTwilio:
    """Start with ``async with FakeTwilio(sid, token) as fake``; ``fake.base_url`` is the API."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sent: list[Sent] = []
        self.requests = 0  # every request that reached the endpoint
        self.contract_errors: list[str] = []
        self._failures: deque[Failure] = deque()
        self.delay_seconds = 0.0  # answer this late (a slow or hanging Twilio)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.media: dict[str, StoredMedia] = {}
        self.cdn_base_url = ""  # where media redirects to; this server when empty
        self.media_requests = 0  # authorised fetches of a MediaUrl
        self.cdn_credentials: list[str] = []  # Authorization headers the CDN was sent

    def fail_next(self, count: int, status: int, code: int = 0, message: str = "") -> None:
        """Answer the next ``count`` requests with ``status`` and Twilio's error body."""
        failure = Failure(status, code or status, message or f"Simulated HTTP {status}")
        self._failures.extend([failure] * count)

    def sent_to(self, number: str) -> list[Sent]:
        return [message for message in self.sent if message.to == number]

    def add_media(self, body: bytes, content_type: str) -> str:
        """Keep media as an incoming MMS's; its ``MediaUrl`` on this server."""
        sid = media_sid()
        self.media[sid] = StoredMedia(body, content_type)
        return (
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages/"
            f"MM{secrets.token_hex(16)}/Media/{sid}"
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH, self._create)
        app.router.add_get(PATH, self._list)
        app.router.add_get(
            "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid}",
            self._media,
        )
        app.router.add_get("/mms/{AccountSid}/{MediaSid}", self._cdn)
        return app

    async def __aenter__(self) -> FakeTwilio:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(f"{user}:{password}", f"{self.account_sid}:{self.auth_token}")

    async def _media(self, request: web.Request) -> web.Response:
        if not self._authorised(request) or request.match_info["AccountSid"] != self.account_sid:
            return _error(401, 20003, "Authenticate")
        sid = request.match_info["MediaSid"]
        if sid not in self.media:
            return _error(404, 20404, "The requested resource was not found")
        self.media_requests += 1
        cdn = self.cdn_base_url or self.base_url
        expires = int(datetime.now(UTC).timestamp()) + 4 * 3600
        raise web.HTTPTemporaryRedirect(f"{cdn}/mms/{self.account_sid}/{sid}?Expires={expires}")

    async def _cdn(self, request: web.Request) -> web.Response:
        if "Authorization" in request.headers:
            self.cdn_credentials.append(request.headers["Authorization"])
        stored = self.media.get(request.match_info["MediaSid"])
        if stored is None or "Expires" not in request.query:
            return web.Response(status=403, text="AccessDenied")
        return web.Response(body=stored.body, headers={"Content-Type": stored.content_type})

    async def _list(self, request: web.Request) -> web.Response:
        account = request.match_info["AccountSid"]
        if not self._authorised(request) or account != self.account_sid:
            return _error(401, 20003, "Authenticate")
        to = request.query.get("To")
        messages = [m.resource for m in reversed(self.sent) if to is None or m.to == to]
        uri = f"/2010-04-01/Accounts/{account}/Messages.json"
        return web.json_response(
            {
                "messages": messages,
                "start": 0,
                "end": max(len(messages) - 1, 0),
                "page": 0,
                "page_size": max(len(messages), 50),
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        account = request.match_info["AccountSid"]
        if not re.fullmatch(CONTRACT["pathParameters"]["AccountSid"]["pattern"], account):
            self.contract_errors.append(f"AccountSid {account!r} is malformed")
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorised(request) or account != self.account_sid:
            return _error(401, 20003, "Authenticate")
        if request.content_type != CONTRACT["requestBody"]["contentType"]:
            self.contract_errors.append(f"content type {request.content_type}")
            return _error(400, 20001, "Expected a form body")
        form: dict[str, list[str]] = {}
        for name, value in parse_qsl(await request.text(), keep_blank_values=True):
            form.setdefault(name, []).append(value)
        problems = contract_violations(form)
        if problems:
            self.contract_errors.extend(problems)
            return _error(400, 21601, "; ".join(problems))
        if "From" not in form and "MessagingServiceSid" not in form:
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not form.get("Body", [""])[0] and "MediaUrl" not in form and "ContentSid" not in form:
            return _error(400, 21602, "Message body is required")
        if self._failures:
            failure = self._failures.popleft()
            return _error(failure.status, failure.code, failure.message)
        return self._accept(form)

    def _accept(self, form: dict[str, list[str]]) -> web.Response:
        sid = "SM" + secrets.token_hex(16)
        to, body = form["To"][0], form.get("Body", [""])[0]
        now = format_datetime(datetime.now(UTC))
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From", [""])[0] or None,
            "messaging_service_sid": form.get("MessagingServiceSid", [None])[0],
            "num_media": str(len(form.get("MediaUrl", []))),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        assert set(resource) == set(CONTRACT["response"]["properties"])
        self.sent.append(Sent(sid, to, body, form, resource))
        return web.json_response(resource, status=201)


def main() -> None:
    """Serve the fake on its own (in a container), for the account in TWILIO_ACCOUNT_SID
    and TWILIO_AUTH_TOKEN, until stopped."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.twilio_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    fake = FakeTwilio(os.environ["TWILIO_ACCOUNT_SID"], os.environ["TWILIO_AUTH_TOKEN"])
    web.run_app(fake.app(), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
