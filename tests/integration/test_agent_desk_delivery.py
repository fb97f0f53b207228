"""An agent's reply through the real pieces, over a real Kafka broker: the desk (its HTTP
console, outbox relay and consumer), the orchestrator's agent-action handler, the SMS
adapter and the WhatsApp delivery with their guards, and the context service; Twilio and
the Graph API are the local fakes.

The desk's and the orchestrator's topics are private to each test (a publisher sends what
they address to the shared topics there instead); delivery reports travel on the shared
``rapport.delivery.v1``, as the adapters publish them, and the desk ignores the reports
of other tests' messages, as it ignores the bot's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import grpc
import httpx
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import AIOKafkaProducer
from google.protobuf.message import Message
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.events.v1 import agent_pb2, handoff_pb2, messages_pb2

from services.agent_desk.__main__ import build
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.http_app import DeskParts, create_app
from services.agent_desk.models import OutgoingMessage, Role
from services.agent_desk.security import hash_password
from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine as context_engine
from services.context.database import migrate as context_migrate
from services.orchestrator.agent_actions import AgentActionHandler
from services.social_adapter.__main__ import build as build_social
from services.social_adapter.__main__ import deliver_replies
from services.social_adapter.config import SocialAdapterSettings
from shared.conversations import thread_conversation_id
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher, Publisher
from shared.kafka.topics import AGENT_ACTIONS, DELIVERY, outbound_topic
from tests.conftest import unique
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.twilio_server import FakeTwilio, signed_webhook, status_params
from tests.grpc_probe import running
from tests.integration.test_agent_desk_http import (
    PASSWORD,
    hidden_action,
    hidden_token,
    sign_in,
)
from tests.integration.test_agent_desk_http import read_until as read_stream
from tests.integration.test_sms_adapter import (
    ACCOUNT,
    PUBLIC,
    TOKEN,
    Sms,
    new_number,
    sms_adapter,
)
from tests.kafka_helpers import create_private_topic, eventually, eventually_async

pytestmark = pytest.mark.integration

CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
SMS, WA = envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WHATSAPP
WA_TOKEN, PHONE_ID = "desk-wa-token", "106540352242922"
DELIVERIES = "rapport_desk_message_deliveries_total"


@dataclass
class Redirected:
    """Publishes what is addressed to a shared topic on this test's private one."""

    publisher: Publisher
    topics: dict[str, str]

    async def publish(self, topic: str, event: Message) -> None:
        await self.publisher.publish(self.topics.get(topic, topic), event)


@dataclass
class World:
    parts: DeskParts
    server: TestServer
    context: context_grpc.ContextServiceStub
    twilio: FakeTwilio
    graph: FakeGraphApi
    sms: Sms

    def browser(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=str(self.server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )

    async def messages(self, ticket_id: str) -> list[OutgoingMessage]:
        ticket = await self.parts.store.ticket(ticket_id)
        return await self.parts.desk.messages_of(ticket)


@pytest.fixture
async def context_address(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    engine = context_engine(url)
    await context_migrate(engine)
    parts = build_context(ContextSettings(metrics_port=0, grpc_port=0, database_url=url), engine)
    try:
        async with running(
            lambda s: context_grpc.add_ContextServiceServicer_to_server(parts.servicer, s), CONTEXT
        ) as address:
            yield address
    finally:
        await parts.store.close()
        await engine.dispose()


@pytest.fixture
async def world(kafka_bootstrap: str, context_address: str, tmp_path: Path) -> AsyncIterator[World]:
    actions, sms_out, wa_out = [await create_private_topic(kafka_bootstrap) for _ in range(3)]
    await until_known(kafka_bootstrap, [actions, sms_out, wa_out])
    graph = FakeGraphApi(page_token="page", whatsapp_token=WA_TOKEN, phone_number_id=PHONE_ID)
    await graph.start()
    social = SocialAdapterSettings(
        kafka_bootstrap=kafka_bootstrap,
        context_address=context_address,
        http_port=0,
        metrics_port=0,
        consumer_group=unique("social"),
        whatsapp_access_token=WA_TOKEN,
        whatsapp_phone_number_id=PHONE_ID,
        graph_api_base_url=graph.base_url,
        send_attempts=1,
    )
    settings = AgentDeskSettings(
        metrics_port=0, http_port=0, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    )
    engine = create_engine(settings.database_url)
    await migrate(engine)
    stop = asyncio.Event()
    try:
        async with (
            FakeTwilio(ACCOUNT, TOKEN) as twilio,
            sms_adapter(kafka_bootstrap, context_address, twilio, sms_out) as sms,
            EventPublisher(kafka_bootstrap, client_id="desk-delivery-tests") as publisher,
            grpc.aio.insecure_channel(context_address) as channel,
            httpx.AsyncClient(timeout=5) as http,
        ):
            to_private = Redirected(
                publisher,
                {
                    AGENT_ACTIONS: actions,
                    outbound_topic("sms"): sms_out,
                    outbound_topic("whatsapp"): wa_out,
                },
            )
            context = ContextClient(channel, 5)
            parts, relay = build(settings, engine, to_private, context)
            await parts.store.create_agent(
                email="maria@example.org",
                name="Maria",
                password_hash=hash_password(PASSWORD, 12),
                role=Role.AGENT,
                team="support",
                languages=["en"],
                skills=[],
                now=datetime.now(UTC),
            )
            whatsapp = build_social(social, publisher, context, http).deliveries["whatsapp"]
            orchestrator = AgentActionHandler(context=context, publisher=to_private, bot_name="Ava")
            server = TestServer(create_app(parts), host="127.0.0.1")
            await server.start_server()
            running_parts = [
                relay.run(stop),
                consumer(
                    kafka_bootstrap, {DELIVERY: messages_pb2.MessageDeliveryUpdated}, publisher
                ).run(parts.desk, stop),
                consumer(kafka_bootstrap, {actions: agent_pb2.AgentActionTaken}, publisher).run(
                    orchestrator, stop
                ),
                deliver_replies(
                    social, publisher, {"whatsapp": whatsapp}, stop, topics={"whatsapp": wa_out}
                ),
            ]
            tasks = [asyncio.create_task(part) for part in running_parts]
            try:
                yield World(
                    parts, server, context_grpc.ContextServiceStub(channel), twilio, graph, sms
                )
            finally:
                stop.set()
                await asyncio.gather(*tasks)
                await server.close()
    finally:
        await graph.close()
        await engine.dispose()


async def until_known(bootstrap: str, topics: list[str]) -> None:
    """Wait until the broker's metadata names ``topics``: a consumer group that forms
    before would get none of their partitions until its next metadata refresh."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in topics:
            await producer.partitions_for(topic)
    finally:
        await producer.stop()


def consumer(
    bootstrap: str, topics: dict[str, type[Message]], dead_letters: EventPublisher
) -> EventConsumer:
    return EventConsumer(
        bootstrap=bootstrap,
        group_id=unique("desk-delivery"),
        topics=topics,
        dead_letters=dead_letters,
        client_id="desk-delivery-tests",
    )


async def customer_on(
    world: World, channel: envelope_pb2.Channel, address: str, wrote_ago: timedelta
) -> envelope_pb2.CustomerRef:
    """A customer who last wrote on ``channel`` ``wrote_ago``, in that channel's thread."""
    customer = (
        await world.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=channel, address=address), timeout=5
        )
    ).customer
    turn = context_pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=thread_conversation_id(name_of(channel), address),
        role=context_pb.ROLE_CUSTOMER,
        text="I want to talk to a person",
        channel=channel,
    )
    turn.occurred_at.FromDatetime(datetime.now(UTC) - wrote_ago)
    await world.context.AppendTurn(
        context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
    )
    return envelope_pb2.CustomerRef(
        customer_id=customer.customer_id, channel=channel, address=address
    )


def name_of(channel: envelope_pb2.Channel) -> str:
    return {SMS: "sms", WA: "whatsapp"}[channel]


async def handed_off(world: World, customer: envelope_pb2.CustomerRef, ago: timedelta) -> str:
    """The customer's conversation handed to the desk ``ago``, when they last wrote (too
    long ago for the desk's notice on a new handoff: these tests follow agents'
    replies); the ticket's id."""
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=thread_conversation_id(name_of(customer.channel), customer.address),
            channel=customer.channel,
            customer=customer,
        ),
        reasons=[handoff_pb2.DecisionReason(code="human_requested", confidence=1.0)],
        priority=0.5,
        language="en",
    )
    packet.envelope.occurred_at.FromDatetime(datetime.now(UTC) - ago)
    await world.parts.desk(packet)
    return packet.envelope.event_id


async def claim_and_reply(browser: aiohttp.ClientSession, ticket_id: str, text: str) -> None:
    path = f"/conversations/{ticket_id}"
    async with browser.get(path) as page:
        html = await page.text()
    form = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
    async with browser.post(f"{path}/claim", data=form) as claimed:
        assert claimed.status == 200
        html = await claimed.text()
    form["action_id"] = hidden_action(html)
    async with browser.post(f"{path}/reply", data={**form, "text": text}) as replied:
        assert replied.status == 200
        assert text in await replied.text()  # shown at once, before the orchestrator stored it


async def page(browser: aiohttp.ClientSession, ticket_id: str) -> str:
    async with browser.get(f"/conversations/{ticket_id}") as response:
        assert response.status == 200
        return await response.text()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def settled(world: World, ticket_id: str, count: int) -> list[OutgoingMessage]:
    """The ticket's messages once ``count`` of them have a reported status."""
    return await eventually_async(
        lambda: world.messages(ticket_id),
        lambda found: sum(m.status != "pending" for m in found) >= count,
        timeout=60,
    )


async def test_a_reply_to_an_opted_out_number_shows_refused_live_with_the_reason(
    world: World,
) -> None:
    number = new_number()
    wrote = timedelta(minutes=5)
    customer = await customer_on(world, SMS, number, wrote)
    await world.context.UpdateConsent(
        context_pb.UpdateConsentRequest(customer_id=customer.customer_id, sms_opted_out=True),
        timeout=5,
    )
    ticket_id = await handed_off(world, customer, wrote)
    before = sample("rapport_desk_message_problems_total", channel="sms", problem="opted_out")
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get("/events") as stream:
            await claim_and_reply(maria, ticket_id, "Hello, this is Maria. Let me check.")
            [message] = await settled(world, ticket_id, 1)
            # The open page was told: the ticket's id under the "delivery" event.
            await read_stream(stream, f"event: delivery\r\ndata: {ticket_id}".encode())
        html = await page(maria, ticket_id)
    assert (message.status, message.problem, message.error_code) == (
        "refused",
        "opted_out",
        "opted_out",
    )
    assert 'data-delivery="refused" data-problem="opted_out"' in html
    assert 'Not sent</span>: <span class="delivery__problem">the customer opted out' in html
    assert "replied STOP" in html  # the guard's own words
    assert world.twilio.sent_to(number) == []
    assert (
        sample("rapport_desk_message_problems_total", channel="sms", problem="opted_out")
        == before + 1
    )


async def test_outside_the_whatsapp_window_a_reply_is_refused_and_goes_by_sms_instead(
    world: World,
) -> None:
    phone, number = f"+1650555{uuid.uuid4().int % 10**4:04d}", new_number()
    wrote = timedelta(hours=30)
    customer = await customer_on(world, WA, phone, wrote)
    challenge = await world.context.StartIdentityLink(
        context_pb.StartIdentityLinkRequest(
            customer_id=customer.customer_id, channel=SMS, address=number
        ),
        timeout=5,
    )
    await world.context.ConfirmIdentityLink(
        context_pb.ConfirmIdentityLinkRequest(
            challenge_id=challenge.challenge_id,
            customer_id=customer.customer_id,
            code=challenge.code,
        ),
        timeout=5,
    )
    ticket_id = await handed_off(world, customer, wrote)
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        await claim_and_reply(maria, ticket_id, "Your refund is on its way.")
        [refused] = await settled(world, ticket_id, 1)
        html = await page(maria, ticket_id)
        assert (refused.status, refused.problem) == ("refused", "window_closed")
        assert "24 hours" in refused.error_message and "24 hours" in html
        assert world.graph.to(phone[1:]) == []
        assert f'<option value="sms:{number}">' in html  # the verified identity it may use

        form = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
        resend = f"/conversations/{ticket_id}/messages/{refused.send_event_id}/resend"
        async with maria.post(resend, data={**form, "identity": f"sms:{number}"}) as sent:
            assert sent.status == 200
        async with maria.post(resend, data={**form, "identity": f"sms:{number}"}) as again:
            assert again.status == 200  # the same form twice: one message
        await eventually(lambda: len(world.twilio.sent_to(number)) == 1, timeout=30)
        by_sms = next(m for m in await settled(world, ticket_id, 2) if m.resend_of)
        assert (by_sms.channel, by_sms.address, by_sms.status) == (SMS, number, "sent")

        [twilio_sms] = world.twilio.sent_to(number)
        assert twilio_sms.body == "Your refund is on its way."
        counted = {s: sample(DELIVERIES, channel="sms", outcome=s) for s in ("sent", "read")}
        # Twilio's receipts, in one partition: a late "sent" after "delivered" is stale.
        for status in ("delivered", "sent", "read"):
            body, headers = signed_webhook(
                PUBLIC + "/twilio/status", status_params(number, twilio_sms.sid, status), TOKEN
            )
            assert (await world.sms.webhook(body, headers, "/twilio/status"))[0] == 200
        await eventually_async(
            lambda: world.messages(ticket_id),
            lambda found: any(m.status == "read" for m in found),
            timeout=30,
        )
        html = await page(maria, ticket_id)
    assert [m.status for m in await world.messages(ticket_id)] == ["refused", "read"]
    assert sample(DELIVERIES, channel="sms", outcome="sent") == counted["sent"]  # not again
    assert sample(DELIVERIES, channel="sms", outcome="read") == counted["read"] + 1
    assert "Sent again below." in html and 'data-delivery="read"' in html


async def test_a_platform_error_shows_the_platforms_words_and_a_retry_gets_through(
    world: World,
) -> None:
    number = new_number()
    wrote = timedelta(minutes=5)
    customer = await customer_on(world, SMS, number, wrote)
    ticket_id = await handed_off(world, customer, wrote)
    world.twilio.fail_next(1, 400, 21211, "The 'To' number is not a valid phone number.")
    async with world.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        await claim_and_reply(maria, ticket_id, "Hello from Maria")
        [failed] = await settled(world, ticket_id, 1)
        assert (failed.status, failed.problem, failed.error_code) == (
            "failed",
            "platform_error",
            "21211",
        )
        html = await page(maria, ticket_id)
        assert 'Not delivered</span>: <span class="delivery__problem">the platform did not' in html
        assert "error 21211: Unable to create record" in html  # the platform's code and words
        form = {"csrf_token": hidden_token(html), "action_id": hidden_action(html)}
        resend = f"/conversations/{ticket_id}/messages/{failed.send_event_id}/resend"
        async with maria.post(resend, data={**form, "identity": ""}) as retried:
            assert retried.status == 200
        await eventually(lambda: len(world.twilio.sent_to(number)) == 1, timeout=30)
        await settled(world, ticket_id, 2)
    statuses = [(m.status, m.resend_of) for m in await world.messages(ticket_id)]
    assert statuses == [("failed", None), ("sent", failed.send_event_id)]
