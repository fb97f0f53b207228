"""The email adapter's data under the customers' rights, on SQLite and on a real
PostgreSQL server, through its real HTTP app: a signed export shows a customer's threads,
ids and files; a signed erasure deletes every row and file of theirs and nothing of
another customer's; unsigned, wrongly signed or stale requests are refused 403; the
retention forgets what is unused for its period, and only that."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from services.email_adapter.__main__ import apply_retention, create_app
from services.email_adapter.config import EmailSettings
from services.email_adapter.intake import attachment_store
from services.email_adapter.rights import EmailRights, Forgotten
from services.email_adapter.store import EmailStore
from shared.channels.customer_rights import ERASE_PATH, EXPORT_PATH, CustomerSubject
from shared.database import create_engine
from shared.media_store import UploadStore
from shared.signed_requests import MAX_SKEW, SIGNATURE_HEADER, signed_headers
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.integration

KEY = "a media signing key for the rights tests"
SUPPORT = "support@shop.example"
DAY = 24 * 3600.0
PNG = b"\x89PNG\r\n\x1a\n" + b"ana's photo of the zipper"
PDF = b"%PDF-1.4 ben's invoice"


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Adapter:
    settings: EmailSettings
    store: EmailStore
    uploads: UploadStore
    rights: EmailRights
    server: TestServer
    clock: Clock

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        signed = signed_headers(KEY.encode(), "POST", path, body, now=self.clock())
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.server.make_url(path), data=body, headers=headers or signed
            ) as answer,
        ):
            return answer.status, json.loads(await answer.text())


@pytest.fixture
async def adapter(email_database: str, tmp_path: Path) -> AsyncIterator[Adapter]:
    settings = EmailSettings(
        database_url=email_database,
        media_dir=tmp_path / "media",
        media_signing_key=SecretStr(KEY),
        retention_days=30,
        http_port=0,
        metrics_port=0,
    )
    clock = Clock(1_900_000_000.0)
    store = await EmailStore.open(email_database, clock)
    uploads = attachment_store(settings)
    rights = EmailRights(
        store, uploads, settings.media_dir, timedelta(days=settings.retention_days), clock=clock
    )
    server = TestServer(create_app(settings, uploads, rights), host="127.0.0.1")
    await server.start_server()
    try:
        yield Adapter(settings, store, uploads, rights, server, clock)
    finally:
        await server.close()
        await store.close()


@dataclass(frozen=True)
class Customer:
    address: str
    conversation_id: str
    attachment: str
    secrets: tuple[str, ...]


async def writes(adapter: Adapter, name: str, data: bytes) -> Customer:
    """A customer's mail with a file, the bot's answer, and their reply to it."""
    address = f"{name}@customer.example"
    conversation_id = f"conversation-{name}"
    first, answer, reply = (f"{name}-{n}@customer.example" for n in ("first", "answer", "reply"))
    subject = f"{name.title()}'s broken zipper"
    stored = await adapter.uploads.put(data)
    await adapter.store.remember_inbound(
        message_id=first,
        conversation_id=conversation_id,
        mailbox=SUPPORT,
        customer=address,
        subject=subject,
        references=(),
    )
    await adapter.store.remember_sent(message_id=answer, conversation_id=conversation_id)
    await adapter.store.remember_inbound(
        message_id=reply,
        conversation_id=conversation_id,
        mailbox=SUPPORT,
        customer=address,
        subject=f"Re: {subject}",
        references=(first, answer),
    )
    secrets = (address, conversation_id, first, answer, reply, subject)
    return Customer(address, conversation_id, stored.reference, secrets)


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


async def test_an_export_shows_the_customers_threads_ids_and_files(adapter: Adapter) -> None:
    ana = await writes(adapter, "ana", PNG)
    await writes(adapter, "ben", PDF)
    # Ana's address in another case still finds her thread.
    subject = CustomerSubject((ana.address.upper(),), (), (ana.attachment,))

    status, document = await adapter.post(EXPORT_PATH, subject.body())

    assert status == 200
    assert [t["customer"] for t in document["threads"]] == [ana.address]
    assert sorted(m["message_id"] for m in document["messages"]) == sorted(ana.secrets[2:5])
    assert document["attachments"] == [
        {"reference": ana.attachment, "content_type": "image/png", "size_bytes": len(PNG)}
    ]
    assert "ben" not in json.dumps(document)


async def test_an_erasure_deletes_every_row_and_file_of_the_customer_and_no_other(
    adapter: Adapter, email_database: str
) -> None:
    ana = await writes(adapter, "ana", PNG)
    ben = await writes(adapter, "ben", PDF)
    # A conversation Ana started elsewhere, answered by email: found by its id alone.
    await adapter.store.remember_sent(message_id="ana-web@shop.example", conversation_id="ana-web")
    subject = CustomerSubject((ana.address,), ("ana-web",), (ana.attachment,))

    status, answer = await adapter.post(ERASE_PATH, subject.body())

    assert status == 200
    assert answer == {"deleted": {"threads": 1, "messages": 4, "attachments": 1}}
    engine = create_engine(email_database)
    try:
        rows = await every_row(engine)
    finally:
        await engine.dispose()
    assert holding(rows, (*ana.secrets, "ana-web")) == {}
    assert set(holding(rows, ben.secrets)) == {"threads", "messages"}
    assert files_in(adapter.settings.media_dir) == {ben.attachment.rpartition("/")[2]}
    # Asked again (a retried erasure), nothing is left to delete.
    assert await adapter.post(ERASE_PATH, subject.body()) == (
        200,
        {"deleted": {"threads": 0, "messages": 0, "attachments": 0}},
    )


async def test_unsigned_wrongly_signed_and_stale_requests_are_refused(adapter: Adapter) -> None:
    ana = await writes(adapter, "ana", PNG)
    body = CustomerSubject((ana.address,), (), (ana.attachment,)).body()
    media_signed = {"X-Rapport-Timestamp": str(int(adapter.clock())), SIGNATURE_HEADER: "x"}
    other_key = signed_headers(b"another key entirely, 16+", "POST", ERASE_PATH, body)
    for_export = signed_headers(KEY.encode(), "POST", EXPORT_PATH, body, now=adapter.clock())
    stale = signed_headers(
        KEY.encode(), "POST", ERASE_PATH, body, now=adapter.clock() - MAX_SKEW.total_seconds() - 1
    )
    for headers, problem in [
        ({}, "unsigned_request"),
        (media_signed, "bad_signature"),
        (other_key, "bad_signature"),
        (for_export, "bad_signature"),  # signed for another path
        (stale, "stale_request"),
    ]:
        status, answer = await adapter.post(ERASE_PATH, body, headers or {"X-None": ""})
        assert (status, answer["error"]) == (403, problem)
    tampered = CustomerSubject(("ben@customer.example",), (), ()).body()
    signed = signed_headers(KEY.encode(), "POST", ERASE_PATH, body, now=adapter.clock())
    assert (await adapter.post(ERASE_PATH, tampered, signed))[0] == 403
    assert (await adapter.post(ERASE_PATH, b'{"addresses": "ana"}'))[0] == 400
    assert (await adapter.post(ERASE_PATH, b'{"who": []}'))[0] == 400
    assert await adapter.store.thread(ana.conversation_id) is not None
    assert files_in(adapter.settings.media_dir) == {ana.attachment.rpartition("/")[2]}


async def test_the_retention_forgets_only_what_is_unused_for_its_period(
    adapter: Adapter,
) -> None:
    old = await writes(adapter, "ana", PNG)
    adapter.clock.now += 20 * DAY
    recent = await writes(adapter, "ben", PDF)
    adapter.clock.now += 11 * DAY  # Ana's thread is 31 days old, Ben's 11
    media = adapter.settings.media_dir
    leftover = media / "tmpabc123"  # a crash's unfinished write, as old as Ana's file
    leftover.write_bytes(b"half a file")
    for file, age in [(old.attachment, 31), (recent.attachment, 11), ("x/tmpabc123", 31)]:
        written = adapter.clock() - age * DAY
        os.utime(media / file.rpartition("/")[2], (written, written))

    assert await adapter.rights.apply_retention() == Forgotten(1, 3, 2)

    assert await adapter.store.thread(old.conversation_id) is None
    assert await adapter.store.conversation_of([old.secrets[2]]) is None
    assert await adapter.store.thread(recent.conversation_id) is not None
    assert await adapter.store.conversation_of([recent.secrets[3]]) == recent.conversation_id
    assert files_in(adapter.settings.media_dir) == {recent.attachment.rpartition("/")[2]}
    assert await adapter.rights.apply_retention() == Forgotten(0, 0, 0)


async def test_an_answer_keeps_the_whole_thread_in_use(adapter: Adapter) -> None:
    ana = await writes(adapter, "ana", PNG)
    adapter.clock.now += 29 * DAY
    await adapter.store.remember_sent(
        message_id="late-answer@shop", conversation_id="conversation-ana"
    )
    adapter.clock.now += 2 * DAY

    forgotten = await adapter.rights.apply_retention()

    assert (forgotten.threads, forgotten.messages) == (0, 0)
    assert await adapter.store.conversation_of([ana.secrets[2]]) == ana.conversation_id


async def test_the_command_applies_the_retention_once(email_database: str, tmp_path: Path) -> None:
    settings = EmailSettings(
        database_url=email_database, media_dir=tmp_path / "media", retention_days=1
    )
    store = await EmailStore.open(email_database, lambda: 1_000_000.0)  # long ago
    try:
        await store.remember_sent(message_id="old@shop.example", conversation_id="c-old")
    finally:
        await store.close()

    report = await apply_retention(settings)

    assert report == Forgotten(threads=0, messages=1, attachments=0)
