"""A chat widget client for tests: one visitor on one WebSocket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp


class ChatClient:
    """Speaks the widget's JSON protocol; collects replies (and the word that one is
    being prepared) as they arrive."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        socket: aiohttp.ClientWebSocketResponse,
        welcome: dict[str, Any],
    ) -> None:
        self._session = session
        self.socket = socket
        self.visitor: str = welcome["visitor"]
        self.conversation_id: str = welcome["conversation_id"]
        self.replies: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.typing: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, web_url: str, visitor: str = "") -> ChatClient:
        session = aiohttp.ClientSession()
        url = f"{web_url.replace('http', 'ws', 1)}/ws?visitor={visitor}"
        socket = await session.ws_connect(url, max_msg_size=4 * 1024 * 1024)
        welcome = await socket.receive_json(timeout=5)
        assert welcome["type"] == "welcome", welcome
        return cls(session, socket, welcome)

    async def _read(self) -> None:
        async for frame in self.socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            frames = {
                "reply": self.replies,
                "ack": self.acks,
                "error": self.errors,
                "typing": self.typing,
            }
            frames[data["type"]].append(data)

    async def say(self, text: str, client_message_id: str = "") -> None:
        await self.socket.send_json(
            {"type": "message", "text": text, "client_message_id": client_message_id}
        )

    async def send_raw(self, data: str) -> None:
        await self.socket.send_str(data)

    async def close(self) -> None:
        await self.socket.close()
        await self._session.close()
        await self._reader
