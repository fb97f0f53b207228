"""Composition root of the agent desk: ``python -m services.agent_desk`` runs the console;
``python -m services.agent_desk create-admin --email ...`` creates the first admin
(``create-user`` and ``set-password`` in ``cli``)."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

from aiohttp import web
from rapport.events.v1 import feedback_pb2, handoff_pb2, messages_pb2
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from services.agent_desk import cli
from services.agent_desk.canned_store import CannedResponses
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.corrections_store import Corrections
from services.agent_desk.customer_data import CustomerData
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.desk import Clock, Desk, utc_now
from services.agent_desk.email_rights import EmailRightsClient
from services.agent_desk.empathy_store import EmpathySources
from services.agent_desk.feedback_store import FeedbackStore
from services.agent_desk.history import ContextHistory
from services.agent_desk.hours import configured_hours
from services.agent_desk.http_app import DeskParts, create_app
from services.agent_desk.live import LiveUpdates
from services.agent_desk.media import DeskMedia, upload_store
from services.agent_desk.notices import WaitingNotices
from services.agent_desk.outbox import Outbox, OutboxRelay
from services.agent_desk.outgoing import OutgoingMessages
from services.agent_desk.retention import retention_of
from services.agent_desk.rights import CustomerRights
from services.agent_desk.security import LoginThrottle, ThrottleRules
from services.agent_desk.store import DeskStore
from services.agent_desk.teams import configured_routing
from services.agent_desk.waiting import WaitingRules
from services.agent_desk.whole_emails import WholeEmails
from shared.channels.media import media_fetcher
from shared.channels.origins import AllowedOrigins
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher, Publisher
from shared.kafka.topics import DELIVERY, FEEDBACK, HANDOFF, INBOUND
from shared.runtime import observed, run

log = logging.getLogger(__name__)


def build(
    settings: AgentDeskSettings,
    engine: AsyncEngine,
    publisher: Publisher,
    context: ContextClient,
    clock: Clock = utc_now,
) -> tuple[DeskParts, OutboxRelay]:
    """The desk's parts on the given adapters (tests hand in their own), and the relay
    that publishes what the desk writes to its outbox."""
    outbox_ready = asyncio.Event()
    store = DeskStore(engine, outbox_ready)
    live = LiveUpdates()
    outgoing = OutgoingMessages(engine)
    media = DeskMedia(
        context=context,
        outgoing=outgoing,
        uploads=upload_store(settings.media_dir, settings.upload_max_bytes),
        fetcher=media_fetcher(settings),
        signing_key=settings.media_signing_key,
        adapter_urls=settings.adapter_urls,
        desk_url=settings.agent_desk_url,
        history_turns=settings.history_turns,
        clock=clock,
    )
    rules = WaitingRules(
        hours=configured_hours(settings.hours_file),
        gap=timedelta(seconds=settings.notice_gap_seconds),
        stale_after=timedelta(seconds=settings.stale_message_seconds),
        limit=timedelta(seconds=settings.wait_limit_seconds),
        estimate_window=timedelta(minutes=settings.wait_estimate_window_minutes),
        estimate_samples=settings.wait_estimate_samples,
    )
    notices = WaitingNotices(store=store, context=context, live=live, rules=rules, clock=clock)
    feedback = FeedbackStore(engine)
    desk = Desk(
        store=store,
        outgoing=outgoing,
        context=context,
        live=live,
        media=media,
        notices=notices,
        routing=configured_routing(settings.routing_file, settings.default_team),
        max_reply_chars=settings.max_reply_chars,
        feedback=feedback,
        emails=WholeEmails(engine),
        clock=clock,
    )
    throttle = LoginThrottle(
        ThrottleRules(
            free_per_account_address=settings.login_free_failures_per_account_address,
            free_per_address=settings.login_free_failures_per_address,
            window=settings.login_failure_window_seconds,
            max_delay=settings.login_max_delay_seconds,
        )
    )
    relay = OutboxRelay(
        Outbox(engine),
        publisher,
        ready=outbox_ready,
        poll_seconds=settings.outbox_poll_seconds,
        retention=timedelta(days=settings.outbox_retention_days),
        clock=clock,
    )
    parts = DeskParts(
        settings,
        desk,
        store,
        ContextHistory(context),
        throttle,
        live,
        clock,
        media,
        CannedResponses(engine),
        rights=CustomerRights(
            context=context,
            data=CustomerData(engine),
            email=EmailRightsClient(
                settings.email_adapter_url,
                settings.media_signing_key,
                timeout_seconds=settings.media_timeout_seconds,
            ),
            live=live,
            clock=clock,
        ),
        corrections=Corrections(engine),
        empathy=EmpathySources(context, engine),
        feedback=feedback,
    )
    return parts, relay


async def main(stop: asyncio.Event) -> None:
    settings = AgentDeskSettings()
    with observed(settings) as metrics:
        engine = create_engine(settings.database_url)
        publisher = EventPublisher(settings.kafka_bootstrap, client_id=settings.service_name)
        channel = open_channel(settings.context_address, token=settings.grpc_token)
        runner: web.AppRunner | None = None
        try:
            await migrate(engine)
            await publisher.start()
            parts, relay = build(
                settings, engine, publisher, ContextClient(channel, settings.grpc_deadline_seconds)
            )
            runner = web.AppRunner(create_app(parts), shutdown_timeout=5)
            await runner.setup()
            await web.TCPSite(runner, settings.bind_host, settings.http_port).start()
            if not settings.secure_cookies:
                log.warning("session cookies without Secure: fine on loopback, not behind TLS")
            if not AllowedOrigins.of(settings.outbound_media_origins).allows(
                URL(settings.agent_desk_url)
            ):
                log.warning(
                    "AGENT_DESK_URL %s is not among OUTBOUND_MEDIA_ORIGINS: the adapters will "
                    "refuse the images and files agents send",
                    settings.agent_desk_url,
                )
            log.info(
                "agent desk on http://%s:%d/, metrics on :%d",
                settings.bind_host,
                settings.http_port,
                metrics.port,
            )
            consumer = EventConsumer(
                bootstrap=settings.kafka_bootstrap,
                group_id=settings.consumer_group,
                group_instance_id=settings.instance_id,
                topics={
                    HANDOFF: handoff_pb2.HandoffRequested,
                    FEEDBACK: (feedback_pb2.SatisfactionRated, feedback_pb2.FeedbackGiven),
                    INBOUND: messages_pb2.MessageReceived,
                    DELIVERY: messages_pb2.MessageDeliveryUpdated,
                },
                dead_letters=publisher,
                client_id=settings.service_name,
            )
            async with asyncio.TaskGroup() as tasks:  # one failing stops the others
                tasks.create_task(relay.run(stop))
                tasks.create_task(consumer.run(parts.desk, stop))
                tasks.create_task(parts.desk.run_sweeps(settings.sweep_seconds, stop))
                tasks.create_task(
                    retention_of(settings, engine).run(
                        timedelta(minutes=settings.retention_interval_minutes), stop, utc_now
                    )
                )
        finally:
            if runner is not None:
                await runner.cleanup()
            await channel.close()
            await publisher.stop()
            await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(cli.main(sys.argv[1:]))
    run(main)
