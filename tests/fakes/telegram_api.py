"""A local stand-in for the Telegram Bot API: ``sendMessage``, ``sendPhoto``,
``sendDocument``, ``getFile`` (and ``answerCallbackQuery``), and the file server.

``/bot<token>/<method>`` with a wrong token is 401, an unknown method 404, as on
api.telegram.org; parameters come as the Bot API takes them: a query string (GET), JSON,
a URL-encoded form or ``multipart/form-data`` (how files are uploaded). Calls are checked
against the method's fields in the Bot API subset copied to ``tests/fixtures/telegram``
(required present, nothing unknown), MarkdownV2 text and captions must be correctly
escaped (Telegram answers "can't parse entities" otherwise), and inline keyboards must be
well formed. Accepted calls are recorded, uploaded files with their bytes; the next calls
can be made to fail with 5xx, 429 (with ``retry_after``) or a 4xx error.

Files kept with :meth:`FakeTelegramApi.add_file` (a customer's photo, voice note…) are
described by ``getFile`` and served at ``/file/bot<token>/<file_path>``, with the token.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.web_request import FileField

SPEC = Path(__file__).resolve().parents[1] / "fixtures/telegram/bot_api_subset.json"
MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def bot_api() -> dict[str, Any]:
    return dict(json.loads(SPEC.read_text()))


def markdown_v2_problems(text: str) -> list[str]:
    """Why Telegram would refuse ``text`` as MarkdownV2 (the subset Rapport produces).

    Every reserved character must be escaped, except the markers of bold (``*``), italic
    (``_``), underline (``__``), strikethrough (``~``) and spoiler (``||``), which must
    be balanced. Links, code and quotes are not expected and count as unescaped.
    """
    problems: list[str] = []
    open_markers: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                problems.append("a lone backslash at the end")
            index += 2
            continue
        marker = ""
        if text.startswith("__", index) or text.startswith("||", index):
            marker = text[index : index + 2]
        elif char in "*_~":
            marker = char
        if marker:
            if open_markers and open_markers[-1] == marker:
                open_markers.pop()
            else:
                open_markers.append(marker)
            index += len(marker)
            continue
        if char in MARKDOWN_V2_RESERVED:
            problems.append(f"character '{char}' is reserved and must be escaped (at {index})")
        index += 1
    if open_markers:
        problems.append(f"can't find end of the entity starting with {open_markers[0]!r}")
    return problems


def field_problems(fields: list[dict[str, Any]], body: dict[str, Any]) -> list[str]:
    """Required fields missing and unknown fields present, per the Bot API spec."""
    names = {f["name"] for f in fields}
    missing = [f["name"] for f in fields if f["required"] and f["name"] not in body]
    return [f"missing {name}" for name in missing] + [
        f"unknown field {name}" for name in sorted(set(body) - names)
    ]


@dataclass(frozen=True)
class Upload:
    """A file sent in a ``multipart/form-data`` call."""

    file_name: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class StoredFile:
    file_path: str
    body: bytes
    content_type: str


@dataclass
class FakeTelegramApi:
    token: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    downloads: int = 0
    attempts: int = 0
    _failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _server: TestServer | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _methods: dict[str, Any] = field(default_factory=lambda: bot_api()["methods"])

    def fail_next(
        self,
        count: int,
        status: int = 500,
        description: str = "Internal Server Error",
        retry_after: int | None = None,
    ) -> None:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        self._failures.extend([(status, body)] * count)

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        return [b for m, b in self.received if m == "sendMessage" and b.get("chat_id") == chat_id]

    def files_sent_to(self, chat_id: str) -> list[tuple[str, dict[str, Any]]]:
        """``(method, parameters)`` of the photos and documents sent to ``chat_id``."""
        return [
            (method, body)
            for method, body in self.received
            if method in _FILE_FIELDS and str(body.get("chat_id")) == chat_id
        ]

    def add_file(self, body: bytes, content_type: str, kind: str = "photos") -> str:
        """Keep a file a customer sent; its ``file_id``."""
        file_id = f"AgAC{next(self._ids)}"
        extension = {"image/jpeg": "jpg", "audio/ogg": "oga"}.get(content_type, "bin")
        self.files[file_id] = StoredFile(f"{kind}/file_{file_id}.{extension}", body, content_type)
        return file_id

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._call)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self.base_url

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @staticmethod
    def _error(status: int, description: str) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": status, "description": description}, status=status
        )

    async def _call(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        if method not in self._methods:
            return self._error(404, "Not Found")
        body = await _parameters(request)
        if body is None:
            return self._error(400, "Bad Request: parameters must be a JSON object or a form")
        problems = field_problems(self._methods[method]["fields"], body)
        if not problems:
            problems = _PROBLEMS.get(method, _no_problems)(body)
        if problems:
            return self._error(400, f"Bad Request: {problems[0]}")
        if self._failures:
            status, error = self._failures.pop(0)
            return web.json_response(error, status=status)
        if method == "getFile":
            return self._get_file(str(body["file_id"]))
        self.received.append((method, body))
        if method == "answerCallbackQuery":
            return web.json_response({"ok": True, "result": True})
        sent: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": {"id": 5000000001, "is_bot": True, "first_name": "Rapport"},
            "chat": {"id": body["chat_id"], "type": "private"},
            "date": int(time.time()),
        }
        if method == "sendMessage":
            sent["text"] = body["text"]
        else:
            field_name = _FILE_FIELDS[method]
            sent[field_name] = _sent_file(field_name, body[field_name])
            if "caption" in body:
                sent["caption"] = body["caption"]
        return web.json_response({"ok": True, "result": sent})

    def _get_file(self, file_id: str) -> web.Response:
        stored = self.files.get(file_id)
        if stored is None:
            return self._error(400, "Bad Request: invalid file_id")
        result = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(stored.body),
            "file_path": stored.file_path,
        }
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        path = request.match_info["file_path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None:
            return self._error(404, "Not Found")
        self.downloads += 1
        return web.Response(body=stored.body, headers={"Content-Type": stored.content_type})


_FILE_FIELDS = {"sendPhoto": "photo", "sendDocument": "document"}


async def _parameters(request: web.Request) -> dict[str, Any] | None:
    """A call's parameters, however the Bot API allows them to come; files as Uploads."""
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.post()
        return {
            name: Upload(value.filename, value.content_type, value.file.read())
            if isinstance(value, FileField)
            else value
            for name, value in form.items()
        }
    return None


def _sent_file(field_name: str, value: object) -> Any:
    """The Message field of a sent photo (its sizes) or document."""
    size = len(value.body) if isinstance(value, Upload) else 0
    described = {"file_id": f"sent{uuid.uuid4().hex}", "file_unique_id": "u", "file_size": size}
    if field_name == "photo":
        return [{**described, "width": 800, "height": 600}]
    if isinstance(value, Upload):
        described |= {"file_name": value.file_name, "mime_type": value.content_type}
    return described


def _no_problems(_body: dict[str, Any]) -> list[str]:
    return []


def _markdown_problems(text: str, parse_mode: object) -> list[str]:
    if parse_mode not in (None, "MarkdownV2", "HTML", "Markdown"):
        return [f"unsupported parse_mode {parse_mode!r}"]
    if parse_mode == "MarkdownV2":
        found = markdown_v2_problems(text)
        if found:
            return [f"can't parse entities: {found[0]}"]
    return []


def _send_file_problems(field_name: str) -> Callable[[dict[str, Any]], list[str]]:
    def problems(body: dict[str, Any]) -> list[str]:
        value = body[field_name]
        if not isinstance(value, Upload | str) or (isinstance(value, Upload) and not value.body):
            return [f"{field_name} must be a file, a file_id or a URL"]
        caption = body.get("caption", "")
        if not isinstance(caption, str) or len(caption) > 1024:
            return ["message caption is too long"]
        return _markdown_problems(caption, body.get("parse_mode"))

    return problems


def _get_file_problems(body: dict[str, Any]) -> list[str]:
    return [] if isinstance(body["file_id"], str) and body["file_id"] else ["file_id is empty"]


def _send_message_problems(body: dict[str, Any]) -> list[str]:
    text = body["text"]
    if not isinstance(body["chat_id"], int | str) or isinstance(body["chat_id"], bool):
        return ["chat_id must be an integer or a string"]
    if not isinstance(text, str) or not 0 < len(text) <= 4096:
        return ["message text must be 1-4096 characters"]
    problems = _markdown_problems(text, body.get("parse_mode"))
    if problems:
        return problems
    markup = body.get("reply_markup")
    if markup is None:
        return []
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return ["reply_markup.inline_keyboard must be an array of arrays"]
    for button in itertools.chain.from_iterable(rows):
        if not isinstance(button, dict) or not button.get("text"):
            return ["inline keyboard button text is required"]
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= 64:
            return ["BUTTON_DATA_INVALID"]
        if set(button) - {"text", "callback_data", "url"}:
            return [f"unexpected button fields {sorted(set(button))}"]
    return []


_PROBLEMS = {
    "sendMessage": _send_message_problems,
    "sendPhoto": _send_file_problems("photo"),
    "sendDocument": _send_file_problems("document"),
    "getFile": _get_file_problems,
}
