"""Media for tests: small files of real types, and a server of signed links to uploads.

:class:`LinkedUploads` serves uploads at ``/media`` the way a Rapport service that keeps
people's uploads does (the shared ``UploadStore`` behind the shared ``MediaEndpoint``),
and mints the signed links an outgoing attachment carries.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import TracebackType

from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from shared.channels.media import MediaEndpoint
from shared.media_links import OUTBOUND_LINK_TTL, sign
from shared.media_store import IMAGE_TYPES, UploadStore

SIGNING_KEY = "test-media-signing-key-0123456789"


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class LinkedUploads:
    """Uploads kept under ``directory`` and served at ``/media`` to signed links."""

    def __init__(self, directory: Path, key: str = SIGNING_KEY) -> None:
        self._key = key
        self._store = UploadStore(
            directory,
            prefix="desk:upload/",
            max_bytes=10 * 1024 * 1024,
            content_types=IMAGE_TYPES | {"application/pdf"},
        )
        app = web.Application()
        app.add_routes([MediaEndpoint(SecretStr(key), self._store.open).route()])
        self._server = TestServer(app, host="127.0.0.1")

    @property
    def origin(self) -> str:
        return str(self._server.make_url("")).rstrip("/")

    async def link(self, body: bytes, key: str = "") -> str:
        """Keep ``body``; a signed link to it (under ``key``, when another is wanted)."""
        stored = await self._store.put(body)
        signed = sign((key or self._key).encode(), stored.reference, ttl=OUTBOUND_LINK_TTL)
        return signed.url(self.origin)

    async def __aenter__(self) -> LinkedUploads:
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._server.close()
