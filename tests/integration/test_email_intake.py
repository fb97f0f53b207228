"""Reading a support mailbox: a real Dovecot, the real reader and intake, a real Kafka.

Each test delivers mail into its own Dovecot as an MTA would and reads back what reached
``rapport.inbound.v1`` (and the dead-letter topic), counting records by event id so a
mail published twice would show.
"""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import ConsumerRecord
from imapclient import IMAPClient  # type: ignore[import-untyped]
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from infra.ports import free_port
from services.email_adapter.__main__ import serve
from services.email_adapter.config import EmailSettings, Mailbox
from services.email_adapter.imap import MailboxReader, heard_already
from services.email_adapter.intake import (
    ATTACHMENT_PREFIX,
    EmailIntake,
    attachment_store,
    oversized_note,
)
from services.email_adapter.store import EmailStore
from shared.channels.webhooks import inbound_event_id
from shared.kafka.codec import EVENT_ID_HEADER
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER, INBOUND
from shared.media_links import sign
from tests.dovecot import MAIL_PASSWORD, MAIL_USER, DovecotServer, running_dovecot
from tests.kafka_helpers import create_private_topic, eventually_async, read_all, read_until

pytestmark = pytest.mark.integration

SUPPORT = "support@shop.example"
USER, PASSWORD = MAIL_USER, MAIL_PASSWORD
PDF = b"%PDF-1.4\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass
class Reading:
    """A reader running on one mailbox, and what it published."""

    bootstrap: str
    server: DovecotServer
    media_dir: Path
    store: EmailStore | None = None

    def deliver(self, mail: EmailMessage) -> str:
        """Deliver ``mail``; returns the event id it must become."""
        self.server.deliver(USER, bytes(mail))
        return inbound_event_id("email", str(mail["Message-ID"]).strip("<>"))

    async def received(self, event_ids: list[str]) -> list[messages_pb2.MessageReceived]:
        """The events of ``event_ids``, once each has arrived; fails on any duplicate."""
        records = await eventually_async(
            lambda: read_all(self.bootstrap, INBOUND, lambda r: _event_id(r) in event_ids),
            lambda found: {_event_id(r) for r in found} >= set(event_ids),
            timeout=30,
        )
        published = [_event_id(record) for record in records]
        assert sorted(published) == sorted(event_ids), "each mail exactly once"
        by_id = {_event_id(r): messages_pb2.MessageReceived.FromString(r.value) for r in records}
        return [by_id[event_id] for event_id in event_ids]

    async def nothing_for(self, event_ids: list[str]) -> None:
        records = await read_all(self.bootstrap, INBOUND, lambda r: _event_id(r) in event_ids)
        assert records == []


def _event_of(raw: bytes) -> str:
    """The event id a raw mail would become, from its Message-ID header."""
    header = next(line for line in raw.split(b"\r\n") if line.startswith(b"Message-ID:"))
    return inbound_event_id("email", header.split(b"<")[1].split(b">")[0].decode())


def _event_id(record: ConsumerRecord[bytes, bytes]) -> str:
    return dict(record.headers).get(EVENT_ID_HEADER, b"").decode()


def support_mailbox(server: DovecotServer, security: str = "none", port: int = 0) -> Mailbox:
    return Mailbox(
        address=SUPPORT,
        imap_host="127.0.0.1",
        imap_port=port or server.port,
        imap_security=security,
        imap_user=USER,
        imap_password=PASSWORD,
        smtp_host="127.0.0.1",
        smtp_security="none",
    )


@asynccontextmanager
async def reading(
    server: DovecotServer,
    bootstrap: str,
    tmp_path: Path,
    security: str = "none",
    port: int = 0,
    **settings: Any,
) -> AsyncIterator[Reading]:
    mailbox = support_mailbox(server, security, port)
    quick = {
        "reconnect_seconds": 0.1,
        "max_reconnect_seconds": 0.4,
        "poll_seconds": 0.3,
        "timeout_seconds": 3,
    }
    config = EmailSettings(
        mailboxes=(mailbox,),
        database_url=f"sqlite:///{tmp_path / 'email.db'}",
        media_dir=tmp_path / "media",
        **(quick | settings),
    )
    store = await EmailStore.open(config.database_url)
    publisher = EventPublisher(bootstrap, client_id="email-intake-test")
    await publisher.start()
    intake = EmailIntake(store, publisher, attachment_store(config), group="email-intake-test")
    stop = asyncio.Event()
    reader = asyncio.create_task(MailboxReader(mailbox, config, store, intake).run(stop))
    try:
        yield Reading(bootstrap, server, config.media_dir, store)
    finally:
        stop.set()
        await asyncio.wait_for(reader, 5)
        await publisher.stop()
        await store.close()


def mail(
    text: str,
    *,
    subject: str = "My order",
    sender: str = "Ana Lima <ana@customer.example>",
    answers: tuple[str, ...] = (),
    **headers: str,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@customer.example>"
    if answers:
        message["In-Reply-To"] = f"<{answers[-1]}>"
        message["References"] = " ".join(f"<{i}>" for i in answers)
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def message_id(message: EmailMessage) -> str:
    return str(message["Message-ID"]).strip("<>")


async def test_a_customers_mail_becomes_one_event_and_its_thread_stays_together(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    first = mail(
        "Hello,\n\nthe zipper of my jacket broke after two days.\n\n-- \nAna Lima\n+1 555 0100",
        subject="Broken zipper",
    )
    first.add_attachment(PDF + b"receipt", maintype="application", subtype="pdf", filename="r.pdf")
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        first_id = mailbox.deliver(first)
        (received,) = await mailbox.received([first_id])

        reply = mail(
            "Any news?\n\nOn Monday Ana wrote:\n> the zipper of my jacket broke",
            subject="Re: Broken zipper",
            answers=(message_id(first),),
        )
        other = mail("Where is my parcel?", subject="Parcel 7")
        later = await mailbox.received([mailbox.deliver(reply), mailbox.deliver(other)])

    assert received.text == "Hello,\n\nthe zipper of my jacket broke after two days."
    assert "Ana Lima\n+1 555 0100" in received.full_text
    assert received.subject == "Broken zipper"
    assert received.provider_message_id == message_id(first)
    assert received.envelope.customer.address == "ana@customer.example"
    assert received.envelope.customer.display_name == "Ana Lima"
    (attachment,) = received.attachments
    assert attachment.reference.startswith(ATTACHMENT_PREFIX)
    assert (attachment.content_type, attachment.file_name) == ("application/pdf", "r.pdf")
    assert attachment.size_bytes == len(PDF + b"receipt")

    conversation = received.envelope.conversation_id
    assert later[0].envelope.conversation_id == conversation
    assert later[0].text == "Any news?"
    assert later[1].envelope.conversation_id != conversation


async def test_auto_replies_bounces_and_unreadable_mail_are_never_published(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    out_of_office = mail("I am away until Monday.", Auto_Submitted="auto-replied")
    bounce = (
        "From: MAILER-DAEMON@mx.customer.example\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.customer.example>\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        "Final-Recipient: rfc822; x@y.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b--\r\n"
    ).encode()
    nameless = b"Subject: no sender at all\r\nMessage-ID: <nameless@x.example>\r\n\r\nhello\r\n"
    person = mail("A real question after all that.")
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        dovecot.deliver(USER, bounce)
        silent = [mailbox.deliver(out_of_office), _event_of(bounce)]
        dovecot.deliver(USER, nameless)
        await mailbox.received([mailbox.deliver(person)])  # the mails before it are settled
        await mailbox.nothing_for(silent)
        (letter,) = await read_until(
            kafka_bootstrap, DEAD_LETTER, lambda r: r.value == nameless, timeout=30
        )
    headers = dict(letter.headers)
    assert headers["dead-letter-kind"] == b"unreadable_email"
    assert headers["dead-letter-topic"] == f"imap:{SUPPORT}/INBOX".encode()
    assert headers["dead-letter-error"].startswith(b"no_sender")


@pytest.mark.parametrize(
    ("first_read_days", "read", "left"),
    [(1, timedelta(hours=1), timedelta(days=3)), (7, timedelta(days=3), timedelta(days=10))],
    ids=["from-yesterday-by-default", "as-far-back-as-configured"],
)
async def test_a_mailbox_read_for_the_first_time_is_read_from_its_recent_mail_on(
    dovecot: DovecotServer,
    kafka_bootstrap: str,
    tmp_path: Path,
    first_read_days: int,
    read: timedelta,
    left: timedelta,
) -> None:
    old = mail("An old question, answered by hand long ago.")
    dovecot.deliver(USER, bytes(old), received_at=datetime.now(UTC) - left)
    recent = mail("A recent question.")
    dovecot.deliver(USER, bytes(recent), received_at=datetime.now(UTC) - read)
    async with reading(
        dovecot, kafka_bootstrap, tmp_path, first_read_days=first_read_days
    ) as mailbox:
        recent_id = inbound_event_id("email", message_id(recent))
        await mailbox.received([recent_id, mailbox.deliver(mail("A new one."))])
        await mailbox.nothing_for([inbound_event_id("email", message_id(old))])


async def test_a_renumbered_folder_is_read_again_without_answering_anything_twice(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        before = [mailbox.deliver(mail(f"before renumbering {n}")) for n in range(2)]
        await mailbox.received(before)
        dovecot.stop()
        # Dovecot gives the folder a new UIDVALIDITY when its UID list and indexes are gone.
        for kept in (dovecot.directory / "mail" / USER / "Maildir").glob("dovecot*"):
            kept.unlink()
        dovecot.start()
        after = mailbox.deliver(mail("after renumbering"))
        await mailbox.received([*before, after])


async def test_the_same_mail_delivered_twice_is_published_once(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    twice = mail("Please cancel order 1042.")
    after = mail("And refund it, please.")
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        event_id = mailbox.deliver(twice)
        mailbox.deliver(twice)
        await mailbox.received([event_id, mailbox.deliver(after)])


async def test_a_server_restarted_mid_run_loses_no_mail_and_repeats_none(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        expected = [mailbox.deliver(mail(f"before the outage {n}")) for n in range(3)]
        await mailbox.received(expected[:1])  # the reader is in the middle of its work
        dovecot.stop()
        held = [mail(f"during the outage {n}") for n in range(3)]  # waiting at the MTA
        await asyncio.sleep(0.5)  # the reader notices and backs off
        dovecot.start()
        expected += [mailbox.deliver(message) for message in held]
        expected += [mailbox.deliver(mail(f"after the outage {n}")) for n in range(3)]
        await mailbox.received(expected)
        dovecot.restart()  # once more, with nothing new: nothing is read twice
        last = mailbox.deliver(mail("after the second restart"))
        await mailbox.received([*expected, last])


async def test_a_20_mb_attachment_is_kept_whole(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    big = PDF + os.urandom(20 * 1024 * 1024)
    with_big = mail("The manual you asked for.")
    with_big.add_attachment(big, maintype="application", subtype="pdf", filename="manual.pdf")
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:  # 25 MB limit
        (kept,) = await mailbox.received([mailbox.deliver(with_big)])

    (attachment,) = kept.attachments
    assert attachment.size_bytes == len(big) and attachment.file_name == "manual.pdf"
    stored = mailbox.media_dir / attachment.reference.removeprefix(ATTACHMENT_PREFIX)
    assert stored.read_bytes() == big


async def test_files_over_the_limit_or_of_a_refused_type_are_named_for_the_agent(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    too_big = mail("Here are the scan and the archive.")
    too_big.add_attachment(
        PDF + bytes(1024 * 1024), maintype="application", subtype="pdf", filename="scan.pdf"
    )
    too_big.add_attachment(
        b"MZ\x90\x00 a Windows program", maintype="application", subtype="zip", filename="x.zip"
    )
    async with reading(
        dovecot, kafka_bootstrap, tmp_path, max_attachment_bytes=1024 * 1024
    ) as mailbox:
        (named,) = await mailbox.received([mailbox.deliver(too_big)])

    # Still the customer's files, with nothing to open: the bot hands them to a person.
    described = {
        a.file_name: (a.reference, a.content_type, a.size_bytes) for a in named.attachments
    }
    assert described == {
        "scan.pdf": ("", "application/pdf", len(PDF) + 1024 * 1024),
        "x.zip": ("", "application/zip", len(b"MZ\x90\x00 a Windows program")),
    }
    assert "Attachment not kept: scan.pdf" in named.full_text
    assert "over the limit of 1048576 bytes" in named.full_text
    assert "Attachment not kept: x.zip" in named.full_text
    assert named.text == "Here are the scan and the archive."
    assert not list(mailbox.media_dir.glob("*"))


def _word_document() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as document:
        document.writestr("[Content_Types].xml", "<Types/>")
        document.writestr("_rels/.rels", "<Relationships/>")
        document.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


async def test_office_documents_and_logs_are_kept_whatever_the_sender_called_them(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    document, log = _word_document(), b"06:00:01 ERROR card declined\n06:00:02 retry\n"
    with_files = mail("The contract and the app's log.")
    with_files.add_attachment(
        document, maintype="application", subtype="octet-stream", filename="contract.docx"
    )
    with_files.add_attachment(log, maintype="text", subtype="plain", filename="app.log")
    async with reading(dovecot, kafka_bootstrap, tmp_path) as mailbox:
        (received,) = await mailbox.received([mailbox.deliver(with_files)])

    kept = {a.file_name: (a.content_type, a.size_bytes) for a in received.attachments}
    assert kept == {
        "contract.docx": (DOCX, len(document)),
        "app.log": ("text/plain", len(log)),
    }
    assert "not kept" not in received.full_text
    for attachment in received.attachments:
        stored = mailbox.media_dir / attachment.reference.removeprefix(ATTACHMENT_PREFIX)
        assert stored.read_bytes() in (document, log)


async def test_a_mail_over_the_size_limit_reaches_the_agent_as_a_note_from_its_headers(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    video = mail("Here is the video of the drone falling.", subject="Drone crash")
    video.add_attachment(os.urandom(300_000), maintype="video", subtype="mp4", filename="a.mp4")
    after = mail("And one more question.")
    async with reading(
        dovecot, kafka_bootstrap, tmp_path, max_attachment_bytes=100_000, max_mail_bytes=200_000
    ) as mailbox:
        big_id = mailbox.deliver(video)
        (big, small) = await mailbox.received([big_id, mailbox.deliver(after)])

    size = len(bytes(video).replace(b"\n", b"\r\n"))  # as the server stores it
    # No words of the customer for the bot to read: the mail itself, unread, for a person.
    assert big.text == ""
    assert big.full_text == oversized_note(size, 200_000)
    assert big.full_text.startswith("[The email was 0.4 MB, over the 0.2 MB this mailbox takes")
    assert big.subject == "Drone crash"
    assert big.envelope.customer.address == "ana@customer.example"
    (unread,) = big.attachments
    assert (unread.reference, unread.kind) == ("", envelope_pb2.ATTACHMENT_KIND_FILE)
    assert (unread.content_type, unread.file_name) == ("message/rfc822", "Drone crash.eml")
    assert unread.size_bytes == size
    assert not list(mailbox.media_dir.glob("*"))
    assert small.text == "And one more question."
    dead = await read_all(kafka_bootstrap, DEAD_LETTER, lambda r: b"Drone crash" in r.value)
    assert dead == []


async def test_idle_wakes_the_reader_at_once(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    # Polling would take a minute: only IDLE can be this quick.
    async with reading(dovecot, kafka_bootstrap, tmp_path, poll_seconds=60) as mailbox:
        await mailbox.received([mailbox.deliver(mail("wake up"))])
        await asyncio.sleep(0.3)  # the reader is idling now
        started = time.monotonic()
        awake = mail("are you there?")
        uid = dovecot.deliver(USER, bytes(awake))
        store = mailbox.store
        assert store is not None
        await eventually_async(lambda: store.cursor(SUPPORT, "INBOX"), lambda at: at[1] == uid)
        # Settled long before the next poll (60 s), with room for a busy machine.
        assert time.monotonic() - started < 20
        await mailbox.received([inbound_event_id("email", message_id(awake))])


def test_mail_announced_as_idle_begins_ends_idle_at_once(dovecot: DovecotServer) -> None:
    """Dovecot announces mail that came before IDLE began right behind "+ idling", and
    imaplib reads both lines into its buffer, where polling the socket cannot see the
    second: the reader must look there before it waits."""
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False, timeout=10) as client:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        client.idle()
        time.sleep(0.3)
        assert not heard_already(client)  # nothing new: IDLE may wait
        client.idle_done()

        dovecot.deliver(USER, bytes(mail("before IDLE began")))
        client.idle()
        deadline = time.monotonic() + 5
        while not heard_already(client):
            assert time.monotonic() < deadline, "the announcement was lost"
            time.sleep(0.05)
        _, announced = client.idle_done()  # still there to be parsed: nothing consumed
        assert (1, b"EXISTS") in announced


async def test_a_server_without_idle_is_polled(kafka_bootstrap: str, tmp_path: Path) -> None:
    with running_dovecot({USER: PASSWORD}, idle=False) as server:
        async with reading(server, kafka_bootstrap, tmp_path, poll_seconds=0.3) as mailbox:
            await mailbox.received([mailbox.deliver(mail("first"))])
            await asyncio.sleep(0.5)
            await mailbox.received([mailbox.deliver(mail("second"))])


async def test_the_service_reads_its_mailboxes_and_serves_the_attachments_to_agents(
    dovecot: DovecotServer, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = EmailSettings(
        mailboxes=(support_mailbox(dovecot),),
        database_url=f"sqlite:///{tmp_path / 'email.db'}",
        media_dir=tmp_path / "media",
        kafka_bootstrap=kafka_bootstrap,
        http_port=free_port(),
    )
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
    with_photo = mail("Here is the broken zipper.")
    with_photo.add_attachment(photo, maintype="image", subtype="png", filename="zipper.png")
    document = _word_document()
    with_photo.add_attachment(
        document, maintype="application", subtype="octet-stream", filename="order.docx"
    )
    stop = asyncio.Event()
    replies = await create_private_topic(kafka_bootstrap)
    service = asyncio.create_task(serve(settings, stop, topic=replies))
    try:
        dovecot.deliver(USER, bytes(with_photo))
        mailbox = Reading(kafka_bootstrap, dovecot, media_dir=settings.media_dir)
        event_id = inbound_event_id("email", message_id(with_photo))
        (received,) = await mailbox.received([event_id])
        base = f"http://127.0.0.1:{settings.http_port}"
        key = settings.media_signing_key.get_secret_value().encode()
        link, document_link = (sign(key, a.reference).url(base) for a in received.attachments)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/healthz") as health:
                assert health.status == 200
            async with http.get(link) as opened:
                assert opened.status == 200
                assert opened.content_type == "image/png"
                assert await opened.read() == photo
                assert opened.headers["Content-Disposition"] == "inline"
            async with http.get(document_link) as download:
                assert download.status == 200
                assert (download.content_type, await download.read()) == (DOCX, document)
                assert download.headers["Content-Disposition"] == "attachment"
                assert download.headers["X-Content-Type-Options"] == "nosniff"
            async with http.get(link.replace("sig=", "sig=x")) as forged:
                assert forged.status == 403
    finally:
        stop.set()
        await asyncio.wait_for(service, 15)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_a_mailbox_is_read_over_tls_trusting_the_configured_ca(
    security: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    with running_dovecot({USER: PASSWORD}, tls=True) as server:
        port = server.tls_port if security == "tls" else server.port
        async with reading(
            server,
            kafka_bootstrap,
            tmp_path,
            ca_file=server.cert_file,
            security=security,
            port=port,
        ) as mailbox:
            await mailbox.received([mailbox.deliver(mail(f"sent over {security}"))])
