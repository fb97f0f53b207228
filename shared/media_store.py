"""Uploads kept on disk under the digest of their bytes, opened again by that reference.

The web chat keeps what a visitor attaches here (``web:upload/<sha256>``), and a service
where people upload (the agent desk) can keep theirs the same way under its own prefix.
A file's type is read from its bytes (``shared.file_types``), never taken from the
uploader's word, and only the types the store was given are kept; the same bytes uploaded
twice are one file. Files are written whole under a temporary name and then renamed, so a
reader never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from shared.channels.adapter import Attachment
from shared.channels.attachments import kind_of
from shared.channels.media import MediaError, MediaProblem, OpenedMedia
from shared.errors import InvalidInputError
from shared.file_types import sniff, sniff_file

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_CHUNK_BYTES = 64 * 1024
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class UploadProblem(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"


class UploadRefusedError(InvalidInputError):
    def __init__(self, problem: UploadProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class StoredUpload:
    reference: str
    content_type: str
    size_bytes: int

    def attachment(self, file_name: str) -> Attachment:
        """The message attachment of this file: described as stored, named as sent."""
        return Attachment(
            self.reference,
            kind_of(self.content_type),
            content_type=self.content_type,
            size_bytes=self.size_bytes,
            file_name=file_name,
        )


class UploadStore:
    """Files under ``directory`` named by the SHA-256 of their bytes; references are
    ``<prefix><hex digest>`` (``web:upload/…``)."""

    def __init__(
        self, directory: Path, *, prefix: str, max_bytes: int, content_types: Iterable[str]
    ) -> None:
        self._directory = directory
        self._prefix = prefix
        self.max_bytes = max_bytes
        self._content_types = frozenset(content_types)

    def _path(self, reference: str) -> Path | None:
        digest = reference.removeprefix(self._prefix)
        if digest == reference or not _DIGEST.match(digest):
            return None
        return self._directory / digest

    def owns(self, reference: str) -> bool:
        """Whether ``reference`` is in this store's form (it may still not exist)."""
        return self._path(reference) is not None

    async def put(self, data: bytes) -> StoredUpload:
        """Keep ``data``; :class:`UploadRefusedError` when it is empty, too large or not a
        type this store keeps."""
        if not data:
            raise UploadRefusedError(UploadProblem.EMPTY, "the upload is empty")
        if len(data) > self.max_bytes:
            raise UploadRefusedError(
                UploadProblem.TOO_LARGE, f"the upload is over the limit of {self.max_bytes} bytes"
            )
        content_type = sniff(data)
        if content_type not in self._content_types:
            kept = ", ".join(sorted(self._content_types))
            raise UploadRefusedError(UploadProblem.UNSUPPORTED_TYPE, f"only {kept} are taken")
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, self._directory / digest, data)
        return StoredUpload(self._prefix + digest, content_type, len(data))

    def _write(self, path: Path, data: bytes) -> None:
        if path.exists():
            return  # the same bytes again: the name is their digest
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as part:
            part.write(data)
        os.replace(part.name, path)

    async def find(self, reference: str) -> StoredUpload | None:
        """What ``reference`` names, if this store holds it."""
        path = self._path(reference)
        if path is None:
            return None
        try:
            content_type, size = await asyncio.to_thread(_type_and_size, path)
        except FileNotFoundError:
            return None
        return StoredUpload(reference, content_type, size)

    @asynccontextmanager
    async def open(self, reference: str) -> AsyncIterator[OpenedMedia]:
        """The stored file, for ``/media``; :class:`MediaError` when there is none."""
        found = await self.find(reference)
        if found is None:
            raise MediaError(MediaProblem.NOT_FOUND, "no such upload")
        path = self._directory / reference.removeprefix(self._prefix)
        # Opened and closed in the event loop's thread (both are quick on a local file):
        # awaited in a worker thread, a request cancelled meanwhile (the client went away)
        # left the file open until garbage collection.
        file = path.open("rb")
        try:
            yield OpenedMedia(found.content_type, found.size_bytes, _chunks(file))
        finally:
            file.close()


def _type_and_size(path: Path) -> tuple[str, int]:
    with path.open("rb") as file:
        return sniff_file(file), os.fstat(file.fileno()).st_size


async def _chunks(file: BinaryIO) -> AsyncIterator[bytes]:
    while chunk := await asyncio.to_thread(file.read, _CHUNK_BYTES):
        yield chunk
