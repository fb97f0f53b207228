"""Composition root of the email adapter: ``python -m services.email_adapter``.

Each configured mailbox is read over IMAP by a reader of its own (mail in →
``MessageReceived`` on Kafka, ``imap.py`` and ``intake.py``); replies for the email
channel (``SendMessage`` on ``rapport.outbound.email.v1``) go out over SMTP
(``adapter.py``); the HTTP side answers ``/healthz`` and ``/media``, where agents holding
a signed link open the files customers attached, and ``/rights/*``, where the desk
exports and erases a customer's data (``rights.py``, which also runs the retention every
``RETENTION_INTERVAL_MINUTES``). With no mailbox configured the readers are absent and the
channel is idle; replies that still reach it are dead-lettered.

``python -m services.email_adapter apply-retention`` applies the retention once and exits.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

from aiohttp import web

from services.email_adapter.adapter import CHANNEL, EmailAdapter
from services.email_adapter.config import EmailSettings
from services.email_adapter.imap import MailboxReader
from services.email_adapter.intake import EmailIntake, attachment_store
from services.email_adapter.rights import EmailRights, Forgotten
from services.email_adapter.store import EmailStore
from shared.channels.media import MediaEndpoint
from shared.channels.outbound import OutboundDelivery, reply_consumer
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.media_store import UploadStore
from shared.observability.http import http_metrics
from shared.runtime import observed, run

log = logging.getLogger(__name__)

READERS_STOP_SECONDS = 5.0
"""How long the readers get to finish the mail in hand once stopping."""


def reply_consumers(
    settings: EmailSettings, publisher: EventPublisher, *, topic: str = ""
) -> dict[str, EventConsumer]:
    """The consumer of each channel's replies this service delivers, by channel name;
    ``topic`` replaces the email outbound topic."""
    return {CHANNEL.name: reply_consumer(settings, publisher, topic or CHANNEL.outbound_topic)}


def create_app(
    settings: EmailSettings, uploads: UploadStore, rights: EmailRights
) -> web.Application:
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "mailboxes": len(settings.mailboxes)})

    app = web.Application(middlewares=[http_metrics])
    app.add_routes(
        [
            web.get("/healthz", health),
            MediaEndpoint(settings.media_signing_key, uploads.open).route(),
            *rights.routes(settings.media_signing_key),
        ]
    )
    return app


async def serve(settings: EmailSettings, stop: asyncio.Event, *, topic: str = "") -> None:
    """Read the mailboxes and deliver replies until ``stop`` is set, then close everything.

    ``topic`` replaces the email outbound topic (tests use a private one).
    """
    store = await EmailStore.open(settings.database_url)
    publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
    adapter = EmailAdapter(settings, store)
    uploads = attachment_store(settings)
    runner: web.AppRunner | None = None
    rights = EmailRights.of(settings, store, uploads)
    readers: list[asyncio.Task[None]] = []
    retention: asyncio.Task[None] | None = None
    try:
        await publisher.start()
        runner = web.AppRunner(create_app(settings, uploads, rights), shutdown_timeout=5)
        await runner.setup()
        await web.TCPSite(runner, settings.bind_host, settings.http_port).start()
        log.info("health and media on http://%s:%d", settings.bind_host, settings.http_port)
        retention = asyncio.create_task(
            rights.run(timedelta(minutes=settings.retention_interval_minutes), stop),
            name="retention",
        )
        if not settings.mailboxes:
            log.warning("no mailbox is configured (RAPPORT_EMAIL_MAILBOXES): email is idle")
        intake = EmailIntake(store, publisher, uploads, group=settings.consumer_group)
        readers = [
            asyncio.create_task(
                MailboxReader(mailbox, settings, store, intake).run(stop),
                name=f"imap-{mailbox.address}",
            )
            for mailbox in settings.mailboxes
        ]
        consumer = reply_consumers(settings, publisher, topic=topic)[CHANNEL.name]
        delivery = OutboundDelivery(
            adapter,
            publisher,
            attempts=settings.send_attempts,
            first_wait_seconds=settings.send_retry_wait_seconds,
        )
        await consumer.run(delivery, stop)
    finally:
        await _stop_readers(readers)
        if retention is not None:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        await adapter.close()
        await publisher.stop()
        await store.close()


async def _stop_readers(readers: list[asyncio.Task[None]]) -> None:
    """Let the readers finish their mail (they watch ``stop``); cancel what lingers, as
    when the consumer failed and ``stop`` was never set."""
    if not readers:
        return
    _done, lingering = await asyncio.wait(readers, timeout=READERS_STOP_SECONDS)
    for reader in lingering:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


async def main(stop: asyncio.Event) -> None:
    settings = EmailSettings()
    with observed(settings):
        await serve(settings, stop)


async def apply_retention(settings: EmailSettings) -> Forgotten:
    """One retention run on the migrated store, as the running adapter does every interval."""
    store = await EmailStore.open(settings.database_url)
    try:
        uploads = attachment_store(settings)
        return await EmailRights.of(settings, store, uploads).apply_retention()
    finally:
        await store.close()


def command(argv: list[str]) -> int:
    """The one command besides serving: ``apply-retention``."""
    if argv != ["apply-retention"]:
        print("usage: python -m services.email_adapter [apply-retention]", file=sys.stderr)
        return 2
    report = asyncio.run(apply_retention(EmailSettings()))
    print(f"threads={report.threads} messages={report.messages} attachments={report.attachments}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(command(sys.argv[1:]))
    run(main)
