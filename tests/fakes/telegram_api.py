"""A local stand-in for the Telegram Bot API's ``sendMessage`` (and ``answerCallbackQuery``).

``POST /bot<token>/<method>`` with a wrong token is 401, an unknown method 404, as on
api.telegram.org. Calls are checked against the method's fields in the Bot API subset
copied to ``tests/fixtures/telegram`` (required present, nothing unknown), MarkdownV2
text must be correctly escaped (Telegram answers "can't parse entities" otherwise), and
inline keyboards must be well formed. Accepted calls are recorded; the next calls can be
made to fail with 5xx, 429 (with ``retry_after``) or a 4xx error.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

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


@dataclass
class FakeTelegramApi:
    token: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
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

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
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
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Bad Request: invalid JSON")
        if not isinstance(body, dict):
            return self._error(400, "Bad Request: parameters must be an object")
        problems = field_problems(self._methods[method]["fields"], body)
        if method == "sendMessage" and not problems:
            problems = _send_message_problems(body)
        if problems:
            return self._error(400, f"Bad Request: {problems[0]}")
        if self._failures:
            status, error = self._failures.pop(0)
            return web.json_response(error, status=status)
        self.received.append((method, body))
        if method != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        chat_id = body["chat_id"]
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": next(self._ids),
                    "from": {"id": 5000000001, "is_bot": True, "first_name": "Rapport"},
                    "chat": {"id": chat_id, "type": "private"},
                    "date": int(time.time()),
                    "text": body["text"],
                },
            }
        )


def _send_message_problems(body: dict[str, Any]) -> list[str]:
    text = body["text"]
    if not isinstance(body["chat_id"], int | str) or isinstance(body["chat_id"], bool):
        return ["chat_id must be an integer or a string"]
    if not isinstance(text, str) or not 0 < len(text) <= 4096:
        return ["message text must be 1-4096 characters"]
    parse_mode = body.get("parse_mode")
    if parse_mode not in (None, "MarkdownV2", "HTML", "Markdown"):
        return [f"unsupported parse_mode {parse_mode!r}"]
    if parse_mode == "MarkdownV2":
        found = markdown_v2_problems(text)
        if found:
            return [f"can't parse entities: {found[0]}"]
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
