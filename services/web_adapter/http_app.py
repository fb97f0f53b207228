"""The web adapter's HTTP side: the chat page, its WebSocket, uploads, media, and health.

The socket path is verify → normalise → publish → ack: nothing else happens while the
visitor waits. Bad frames get an error frame and the socket stays open. Images a visitor
attaches come in at ``/upload`` first (see ``uploads.py``); agents open them at
``/media`` with a signed link (``shared.media_links``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import WSMsgType, web

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.handlers import PublisherPort, conversation_of, publish_inbound
from services.web_adapter.metrics import CONNECTIONS, FRAMES
from services.web_adapter.protocol import (
    FrameError,
    error_frame,
    parse_frame,
    pending_frame,
    visitor_token,
)
from services.web_adapter.sockets import VisitorSockets
from services.web_adapter.uploads import UploadEndpoint, attachments_of, upload_store
from shared.channels.edge import label
from shared.channels.media import MediaEndpoint
from shared.errors import DependencyUnavailableError
from shared.observability.http import http_metrics

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"


def create_app(
    settings: WebAdapterSettings,
    publisher: PublisherPort,
    sockets: VisitorSockets,
    replies_arrive: Callable[[], bool] = lambda: True,
) -> web.Application:
    """``replies_arrive`` says whether the replies' consumer is in its group yet: until
    then the health check answers 503, so nothing routes visitors here while their
    replies would wait unread."""

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def widget(_request: web.Request) -> web.FileResponse:
        """The one-line embed: ``<script src=".../widget.js" async></script>``."""
        return web.FileResponse(
            STATIC / "widget.js", headers={"Content-Type": "text/javascript; charset=utf-8"}
        )

    uploads = upload_store(settings)

    async def favicon(_request: web.Request) -> web.FileResponse:
        """What browsers ask for on every page, whatever the page links: the chat's icon."""
        return web.FileResponse(STATIC / "icon.svg", headers={"Content-Type": "image/svg+xml"})

    async def health(_request: web.Request) -> web.Response:
        if not replies_arrive():
            return web.json_response({"status": "starting"}, status=503)
        return web.json_response({"status": "ok", "connections": sockets.connected})

    async def chat_socket(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=settings.max_socket_message_bytes, heartbeat=30)
        await socket.prepare(request)
        visitor = visitor_token(request.query.get("visitor"))
        # aiohttp keeps header bytes that are not UTF-8 as lone surrogates: clean them.
        locale = label(request.headers.get("Accept-Language", "").split(",")[0], max_chars=16)
        await socket.send_json(
            {"type": "welcome", "visitor": visitor, "conversation_id": conversation_of(visitor)}
        )
        await sockets.attach(visitor, socket)
        CONNECTIONS.inc()
        try:
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    await _on_text(socket, visitor, locale, frame.data)
                elif frame.type == WSMsgType.BINARY:
                    FRAMES.labels("binary_frame").inc()
                    await socket.send_json(
                        error_frame("binary_frame", "send JSON text frames, not binary")
                    )
        finally:
            sockets.detach(visitor, socket)
            CONNECTIONS.dec()
        return socket

    async def _on_text(socket: web.WebSocketResponse, visitor: str, locale: str, data: str) -> None:
        try:
            message = parse_frame(
                data,
                max_frame_bytes=settings.max_frame_bytes,
                max_text_chars=settings.max_text_chars,
            )
            attachments = await attachments_of(uploads, message)
        except FrameError as exc:
            FRAMES.labels(exc.code).inc()
            await socket.send_json(error_frame(exc.code, str(exc)))
            return
        try:
            event_id = await publish_inbound(publisher, visitor, message, locale, attachments)
        except DependencyUnavailableError as exc:
            log.warning("a visitor's message waits for Kafka: %s", exc)
            FRAMES.labels("unavailable").inc()
            await socket.send_json(pending_frame(message.client_message_id))
            return
        FRAMES.labels("published").inc()
        await socket.send_json(
            {"type": "ack", "event_id": event_id, "client_message_id": message.client_message_id}
        )

    app = web.Application(middlewares=[http_metrics])
    app.router.add_get("/", index)
    app.router.add_get("/widget.js", widget)
    app.router.add_get("/healthz", health)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/ws", chat_socket)
    app.router.add_static("/static", STATIC)
    app.add_routes(
        [
            UploadEndpoint(uploads).route(),
            MediaEndpoint(settings.media_signing_key, uploads.open).route(),
        ]
    )
    return app
