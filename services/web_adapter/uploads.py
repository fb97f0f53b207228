"""Images a visitor attaches: ``POST /upload`` keeps them, a frame then names them.

The page uploads the image's bytes first; the adapter reads its type from the bytes
(JPEG, PNG, GIF or WebP, nothing else), keeps it under ``RAPPORT_WEB_MEDIA_DIR`` named
by its SHA-256 and answers the reference (``web:upload/<sha256>``). The ``message`` frame
then names that reference; the attachment published is described from the stored file
(its type, its size), never from what the page said. Agents open it at ``/media`` with a
signed link, like any channel's media.
"""

from __future__ import annotations

from aiohttp import web

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.metrics import UPLOADS
from services.web_adapter.protocol import UPLOAD_PREFIX, ChatMessage, FrameError
from shared.channels.adapter import Attachment
from shared.media_store import IMAGE_TYPES, UploadProblem, UploadRefusedError, UploadStore

UPLOAD_PATH = "/upload"
_STATUS = {
    UploadProblem.EMPTY: 400,
    UploadProblem.TOO_LARGE: 413,
    UploadProblem.UNSUPPORTED_TYPE: 415,
}


def upload_store(settings: WebAdapterSettings) -> UploadStore:
    return UploadStore(
        settings.media_dir,
        prefix=UPLOAD_PREFIX,
        max_bytes=settings.upload_max_bytes,
        content_types=IMAGE_TYPES,
    )


async def attachments_of(store: UploadStore, message: ChatMessage) -> tuple[Attachment, ...]:
    """The uploads a message names, as stored; :class:`FrameError` for one there is not."""
    found = []
    for named in message.attachments:
        stored = await store.find(named.reference)
        if stored is None:
            raise FrameError("unknown_attachment", "no upload has that reference; upload it first")
        found.append(stored.attachment(named.file_name))
    return tuple(found)


async def _body(request: web.Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is over ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _refused(problem: UploadProblem, message: str) -> web.Response:
    UPLOADS.labels(problem).inc()
    return web.json_response({"error": problem, "message": message}, status=_STATUS[problem])


class UploadEndpoint:
    """``POST /upload``: the body is the image itself."""

    def __init__(self, store: UploadStore) -> None:
        self._store = store

    def route(self) -> web.RouteDef:
        return web.post(UPLOAD_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        body = await _body(request, self._store.max_bytes)
        if body is None:
            limit = self._store.max_bytes
            return _refused(UploadProblem.TOO_LARGE, f"images up to {limit} bytes are taken")
        try:
            stored = await self._store.put(body)
        except UploadRefusedError as exc:
            return _refused(exc.problem, str(exc))
        UPLOADS.labels("stored").inc()
        return web.json_response(
            {
                "reference": stored.reference,
                "content_type": stored.content_type,
                "size_bytes": stored.size_bytes,
            },
            status=201,
        )
