"""The email adapter's part in customers' rights, and its retention.

The adapter keeps personal data of its own: each thread's customer address and subject
(the customer's words), the Message-IDs of the customer's mails and of the answers, and
the files customers attached (``email:attachment/<sha256>`` under ``MEDIA_DIR``). The
agent desk exports and erases them with the customer's other data, through
``POST /rights/export`` and ``POST /rights/erase`` (``shared.channels.customer_rights``),
signed under a key derived from ``MEDIA_SIGNING_KEY`` (``shared.signed_requests``): an
unsigned, wrongly signed or stale request is refused 403 and changes nothing.

The retention forgets threads and ids unused for ``RETENTION_DAYS`` and deletes files
received longer ago than that, every ``RETENTION_INTERVAL_MINUTES`` and once from
``python -m services.email_adapter apply-retention``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.exc import SQLAlchemyError

from services.email_adapter.config import EmailSettings
from services.email_adapter.intake import ATTACHMENT_PREFIX
from services.email_adapter.store import EmailStore
from shared.channels.customer_rights import ERASE_PATH, EXPORT_PATH, CustomerSubject
from shared.errors import InvalidInputError
from shared.media_store import UploadStore
from shared.signed_requests import RequestSignatureError, verify_request

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What one retention run or erasure deleted."""

    threads: int
    messages: int
    attachments: int


def _delete_files(paths: Iterable[Path]) -> int:
    deleted = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            deleted += 1
    return deleted


def _files_older_than(directory: Path, horizon: float) -> list[Path]:
    """Files in ``directory`` last written before ``horizon`` (Unix seconds); none when
    it does not exist yet. Unfinished writes left by a crash are among them."""
    if not directory.is_dir():
        return []
    return [p for p in directory.iterdir() if p.is_file() and p.stat().st_mtime < horizon]


class EmailRights:
    def __init__(
        self,
        store: EmailStore,
        uploads: UploadStore,
        media_dir: Path,
        retention: timedelta,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._media_dir = media_dir
        self._retention = retention
        self._clock = clock

    @classmethod
    def of(cls, settings: EmailSettings, store: EmailStore, uploads: UploadStore) -> EmailRights:
        """The rights and retention the settings promise."""
        return cls(store, uploads, settings.media_dir, timedelta(days=settings.retention_days))

    def _paths(self, references: Iterable[str]) -> list[Path]:
        """Where this adapter's files among ``references`` are; other references are skipped."""
        return [
            self._media_dir / reference.removeprefix(ATTACHMENT_PREFIX)
            for reference in references
            if self._uploads.owns(reference)
        ]

    async def apply_retention(self) -> Forgotten:
        """Forget the threads and ids unused, and delete the files received, before the
        retention period."""
        period = self._retention.total_seconds()
        rows = await self._store.forget_unused(period)
        old = await asyncio.to_thread(_files_older_than, self._media_dir, self._clock() - period)
        files = await asyncio.to_thread(_delete_files, old)
        return Forgotten(rows["threads"], rows["messages"], files)

    async def run(self, interval: timedelta, stop: asyncio.Event) -> None:
        """Apply the retention now and then every ``interval`` until ``stop`` is set; a run
        that fails is tried again at the next interval."""
        while not stop.is_set():
            try:
                report = await self.apply_retention()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("retention not applied, trying again later: %s", exc)
            else:
                log.info("retention removed %s", asdict(report))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval.total_seconds())

    async def export(self, subject: CustomerSubject) -> dict[str, Any]:
        """Every row about the customer, by table, and the files of theirs kept here."""
        document: dict[str, Any] = await self._store.customer_rows(
            subject.addresses, subject.conversation_ids
        )
        files = [await self._uploads.find(r) for r in subject.attachments]
        document["attachments"] = [
            {"reference": f.reference, "content_type": f.content_type, "size_bytes": f.size_bytes}
            for f in files
            if f is not None
        ]
        return document

    async def erase(self, subject: CustomerSubject) -> Forgotten:
        """Delete the customer's threads, ids and files."""
        rows = await self._store.erase_customer(subject.addresses, subject.conversation_ids)
        files = await asyncio.to_thread(_delete_files, self._paths(subject.attachments))
        return Forgotten(rows["threads"], rows["messages"], files)

    def routes(self, signing_key: SecretStr) -> list[web.RouteDef]:
        """``POST /rights/export`` and ``/rights/erase``, for the desk's signed requests."""
        key = signing_key.get_secret_value().encode()

        async def subject_of(request: web.Request) -> CustomerSubject:
            body = await request.read()
            verify_request(
                key, request.method, request.path, request.headers, body, now=self._clock()
            )
            return CustomerSubject.from_body(body)

        async def export(request: web.Request) -> web.Response:
            try:
                subject = await subject_of(request)
            except InvalidInputError as exc:
                return _refusal(exc)
            return web.json_response(await self.export(subject))

        async def erase(request: web.Request) -> web.Response:
            try:
                subject = await subject_of(request)
            except InvalidInputError as exc:
                return _refusal(exc)
            deleted = await self.erase(subject)
            log.info("a customer's email data erased: %s", asdict(deleted))
            return web.json_response({"deleted": asdict(deleted)})

        return [web.post(EXPORT_PATH, export), web.post(ERASE_PATH, erase)]


def _refusal(exc: InvalidInputError) -> web.Response:
    if isinstance(exc, RequestSignatureError):
        log.warning("a customers' rights request refused: %s", exc)
        return web.json_response({"error": exc.problem, "message": str(exc)}, status=403)
    return web.json_response({"error": "invalid_request", "message": str(exc)}, status=400)
