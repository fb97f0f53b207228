"""A local stand-in for Meta's Graph send API: Messenger/Instagram and WhatsApp Cloud API.

It serves ``POST /{version}/me/messages`` (Page token) and
``POST /{version}/{phone_number_id}/messages`` (WhatsApp token), checks the bearer token
and the request's shape — WhatsApp bodies against the send-message schema copied from
Meta's OpenAPI description (``tests/fixtures/meta``) — answers as the Graph API does
(message ids, Meta's error objects), records what it accepted, and can be told to fail
the next requests.

Media, as the Cloud API documents it: ``POST /{version}/{phone_number_id}/media``
(``multipart/form-data``: ``messaging_product=whatsapp``, the ``file``) answers a media
id, which a media message must then name; ``GET /{version}/{media_id}`` answers a
short-lived ``url`` (``/whatsapp_business/attachments/?mid=…``, Meta's lookaside CDN,
on ``media_base_url``, this server unless told otherwise), and that URL answers the
bytes only with the WhatsApp token. Messenger and Instagram attachments are plain CDN
URLs (``/cdn/…``), served without a token.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.web_request import FileField

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures/meta/whatsapp_send_message.schema.json"
_PAGE_MESSAGING_TYPES = {"RESPONSE", "UPDATE", "MESSAGE_TAG"}


def meta_error(code: int, message: str, kind: str = "OAuthException") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf"}}


def send_message_validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))


@dataclass
class Received:
    path: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Media:
    body: bytes
    content_type: str
    file_name: str = ""


@dataclass
class FakeGraphApi:
    page_token: str
    whatsapp_token: str
    phone_number_id: str
    version: str = "v23.0"
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    # WhatsApp media by id: uploaded with /media, or kept as a customer's by add_media.
    media: dict[str, Media] = field(default_factory=dict)
    media_base_url: str = ""  # where media URLs point; this server when empty
    redirect_media_to: str = ""  # a base URL the media URL redirects to, when set
    downloads: int = 0  # media bytes answered (CDN and lookaside)
    _cdn: dict[str, Media] = field(default_factory=dict)
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _server: TestServer | None = None

    def fail_next(self, count: int, status: int = 500, body: dict[str, Any] | None = None) -> None:
        """Answer the next ``count`` sends with ``status`` (and Meta's error body)."""
        if body is None:
            body = {
                500: meta_error(
                    2, "An unexpected error has occurred. Please retry.", "OAuthException"
                ),
                429: meta_error(4, "(#4) Application request limit reached"),
            }.get(status, meta_error(100, "(#100) Invalid parameter"))
        self._failures.extend([(status, body)] * count)

    def to(self, address: str) -> list[dict[str, Any]]:
        """Bodies accepted for one recipient (a PSID, an IGSID or WhatsApp digits)."""
        return [
            r.body
            for r in self.received
            if r.body.get("to") == address or r.body.get("recipient", {}).get("id") == address
        ]

    def add_media(self, body: bytes, content_type: str) -> str:
        """A customer's WhatsApp media, as a webhook would name it; its media id."""
        media_id = str(uuid.uuid4().int % 10**16)
        self.media[media_id] = Media(body, content_type)
        return media_id

    def add_cdn(self, body: bytes, content_type: str) -> str:
        """A Messenger or Instagram attachment; its ``payload.url``."""
        name = f"{uuid.uuid4().hex}.bin"
        self._cdn[name] = Media(body, content_type)
        return f"{self.base_url}/cdn/{name}?oh=signed&oe=later"

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post(f"/{self.version}/me/messages", self._page_send)
        app.router.add_post(f"/{self.version}/{{phone_id}}/messages", self._whatsapp_send)
        app.router.add_post(f"/{self.version}/{{phone_id}}/media", self._whatsapp_upload)
        app.router.add_get(f"/{self.version}/{{media_id}}", self._whatsapp_media_url)
        app.router.add_get("/whatsapp_business/attachments/", self._whatsapp_download)
        app.router.add_get("/cdn/{name}", self._cdn_download)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.base_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    async def _prelude(self, request: web.Request, token: str) -> dict[str, Any] | web.Response:
        self.attempts += 1
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response(
                meta_error(190, "Invalid OAuth access token - Cannot parse access token"),
                status=401,
            )
        try:
            body = await request.json()
        except ValueError:
            return web.json_response(meta_error(100, "(#100) Invalid JSON"), status=400)
        if not isinstance(body, dict):
            return web.json_response(meta_error(100, "(#100) Invalid parameter"), status=400)
        if self._failures:
            status, error = self._failures.pop(0)
            return web.json_response(error, status=status)
        return body

    async def _page_send(self, request: web.Request) -> web.Response:
        body = await self._prelude(request, self.page_token)
        if isinstance(body, web.Response):
            return body
        problem = _page_problem(body)
        if problem:
            return web.json_response(meta_error(100, f"(#100) {problem}"), status=400)
        self.received.append(Received(request.path, body))
        return web.json_response(
            {"recipient_id": body["recipient"]["id"], "message_id": f"m_{uuid.uuid4().hex}"}
        )

    async def _whatsapp_send(self, request: web.Request) -> web.Response:
        if request.match_info["phone_id"] != self.phone_number_id:
            return web.json_response(
                meta_error(
                    100, "Unsupported post request. Object does not exist", "GraphMethodException"
                ),
                status=400,
            )
        body = await self._prelude(request, self.whatsapp_token)
        if isinstance(body, web.Response):
            return body
        errors = [str(e) for e in send_message_validator().iter_errors(body)]
        if errors:
            return web.json_response(meta_error(100, f"(#100) {errors[0][:300]}"), status=400)
        media_id = (
            body.get(body["type"], {}).get("id") if isinstance(body.get("type"), str) else None
        )
        if media_id is not None and media_id not in self.media:
            return web.json_response(
                meta_error(131053, "(#131053) Media upload error: unknown media id"), status=400
            )
        self.received.append(Received(request.path, body))
        to = body["to"]
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                "messages": [{"id": f"wamid.{uuid.uuid4().hex.upper()}"}],
            }
        )

    def _whatsapp_authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.whatsapp_token}"

    async def _whatsapp_upload(self, request: web.Request) -> web.Response:
        if request.match_info["phone_id"] != self.phone_number_id:
            return web.json_response(meta_error(100, "(#100) Object does not exist"), status=400)
        if not self._whatsapp_authorised(request):
            return web.json_response(meta_error(190, "Invalid OAuth access token"), status=401)
        if request.content_type != "multipart/form-data":
            return web.json_response(meta_error(100, "(#100) Expected form-data"), status=400)
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload, FileField):
            return web.json_response(
                meta_error(100, "(#100) messaging_product and file are required"), status=400
            )
        media_id = str(uuid.uuid4().int % 10**16)
        self.media[media_id] = Media(upload.file.read(), upload.content_type, upload.filename)
        return web.json_response({"id": media_id})

    async def _whatsapp_media_url(self, request: web.Request) -> web.Response:
        if not self._whatsapp_authorised(request):
            return web.json_response(meta_error(190, "Invalid OAuth access token"), status=401)
        media_id = request.match_info["media_id"]
        media = self.media.get(media_id)
        if media is None:
            return web.json_response(
                meta_error(100, "(#100) Unsupported get request", "GraphMethodException"),
                status=400,
            )
        base = self.media_base_url or self.base_url
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "url": f"{base}/whatsapp_business/attachments/?mid={media_id}&ext=1&hash=abc",
                "mime_type": media.content_type,
                "sha256": hashlib.sha256(media.body).hexdigest(),
                "file_size": str(len(media.body)),
                "id": media_id,
            }
        )

    async def _whatsapp_download(self, request: web.Request) -> web.StreamResponse:
        if self.redirect_media_to:
            raise web.HTTPFound(f"{self.redirect_media_to}{request.path_qs}")
        if not self._whatsapp_authorised(request):
            return web.json_response(meta_error(190, "Invalid OAuth access token"), status=401)
        media = self.media.get(request.query.get("mid", ""))
        if media is None:
            return web.Response(status=404)
        self.downloads += 1
        return web.Response(body=media.body, headers={"Content-Type": media.content_type})

    async def _cdn_download(self, request: web.Request) -> web.Response:
        media = self._cdn.get(request.match_info["name"])
        if media is None or request.query.get("oh") != "signed":
            return web.Response(status=403, text="URL signature mismatch")
        self.downloads += 1
        return web.Response(body=media.body, headers={"Content-Type": media.content_type})


def _page_problem(body: dict[str, Any]) -> str:
    """What the Send API would refuse in a Messenger/Instagram send, or ``""``."""
    recipient, message = body.get("recipient"), body.get("message")
    if not isinstance(recipient, dict) or not isinstance(recipient.get("id"), str):
        return "param recipient[id] must be a string"
    if body.get("messaging_type") not in _PAGE_MESSAGING_TYPES:
        return "param messaging_type must be one of RESPONSE, UPDATE, MESSAGE_TAG"
    if not isinstance(message, dict) or not isinstance(message.get("text"), str):
        return "param message[text] must be a string"
    if not 0 < len(message["text"]) <= 2000:
        return "param message[text] must be 1 to 2000 characters"
    unknown = set(message) - {"text", "quick_replies", "metadata"}
    if unknown:
        return f"unknown message fields {sorted(unknown)}"
    replies = message.get("quick_replies", [])
    if not isinstance(replies, list) or len(replies) > 13:
        return "param message[quick_replies] must be at most 13 items"
    for reply in replies:
        if (
            not isinstance(reply, dict)
            or reply.get("content_type") != "text"
            or not 0 < len(str(reply.get("title", ""))) <= 20
            or not 0 < len(str(reply.get("payload", ""))) <= 1000
        ):
            return f"invalid quick reply {reply!r}"
    return ""
