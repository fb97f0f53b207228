"""The agent desk shows the whole of a customer's email, on a real context service and a
real database: the context service keeps only the new words, the desk the subject and the
rest (quotes, signature), shown escaped under the turn, on the page and live; it goes
with the customer's messages under retention and with the customer on an erasure.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2, messages_pb2
from sqlalchemy.ext.asyncio import AsyncEngine

from services.agent_desk.customer_data import Customer, CustomerData
from services.agent_desk.database import create_engine
from services.agent_desk.models import AuditAction, AuditEntry
from services.agent_desk.retention import DeskRetention, RetentionPolicy
from shared.conversations import thread_conversation_id
from shared.kafka.codec import new_envelope
from tests.integration.test_agent_desk_http import EVIL, Desk, read_until, running_desk, sign_in
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.integration

EMAIL = envelope_pb2.CHANNEL_EMAIL
ADDRESS = "zoe.quill@example.com"
NEW_WORDS = "Where is my parcel? I want to talk to a person."
SUBJECT = "Parcel 7731   still missing"
SIGNATURE = "Zoë Quill, Leeds"
QUOTED = f"> On Monday you wrote:\n> {EVIL} your parcel ships today\n\n-- \n{SIGNATURE}"
WHOLE = f"{NEW_WORDS}\n\n{QUOTED}"


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path) as running:
        yield running


@pytest.fixture
async def engine(desk: Desk) -> AsyncIterator[AsyncEngine]:
    """The desk's database, read and changed beside the running desk."""
    opened = create_engine(desk.parts.settings.database_url)
    yield opened
    await opened.dispose()


def email_received(
    conversation_id: str, customer_id: str, text: str, full_text: str, subject: str
) -> messages_pb2.MessageReceived:
    """What the email adapter publishes for one mail."""
    message = messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=EMAIL,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer_id, channel=EMAIL, address=ADDRESS
            ),
        ),
        text=text,
        full_text=full_text,
        subject=subject,
    )
    message.envelope.occurred_at.FromDatetime(datetime.now(UTC))
    return message


async def emailed_handoff(
    desk: Desk,
) -> tuple[handoff_pb2.HandoffRequested, messages_pb2.MessageReceived]:
    """A customer's email as the desk and the orchestrator see it (the turn stored under
    the message's event id, its new words only), then their handoff; the handoff and the
    email."""
    conversation_id = thread_conversation_id("email", f"{ADDRESS}/{uuid.uuid4()}")
    customer = (
        await desk.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=EMAIL, address=ADDRESS), timeout=5
        )
    ).customer
    message = email_received(conversation_id, customer.customer_id, NEW_WORDS, WHOLE, SUBJECT)
    await desk.parts.desk(message)  # before the handoff, as the topics deliver it
    turn = context_pb.Turn(
        event_id=message.envelope.event_id,
        conversation_id=conversation_id,
        role=context_pb.ROLE_CUSTOMER,
        text=NEW_WORDS,
        channel=EMAIL,
    )
    turn.occurred_at.CopyFrom(message.envelope.occurred_at)
    await desk.context.AppendTurn(
        context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
    )
    ref = envelope_pb2.CustomerRef(customer_id=customer.customer_id, channel=EMAIL, address=ADDRESS)
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(conversation_id=conversation_id, channel=EMAIL, customer=ref),
        reasons=[
            handoff_pb2.DecisionReason(
                code="human_requested", explanation="They asked for a person.", confidence=0.9
            )
        ],
        priority=0.7,
        language="en",
        identities=[ref],
    )
    packet.envelope.occurred_at.FromDatetime(datetime.now(UTC))
    await desk.parts.desk(packet)
    return packet, message


async def test_the_conversation_shows_an_emails_subject_and_the_whole_of_it_escaped(
    desk: Desk,
) -> None:
    packet, _ = await emailed_handoff(desk)
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get(f"/conversations/{packet.envelope.event_id}") as page:
            assert page.status == 200
            html = await page.text()
    assert "Subject: Parcel 7731 still missing" in html  # one line
    assert NEW_WORDS in html
    assert '<details class="whole-email">' in html and "Whole email" in html
    assert "&gt; &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; your parcel ships" in html
    assert SIGNATURE in html
    assert EVIL not in html


async def test_a_new_email_reaches_the_open_conversation_live_whole_and_escaped(
    desk: Desk,
) -> None:
    packet, _ = await emailed_handoff(desk)
    envelope = packet.envelope
    plain = email_received(
        envelope.conversation_id, envelope.customer.customer_id, "Thanks!", "Thanks!", ""
    )
    again = email_received(
        envelope.conversation_id,
        envelope.customer.customer_id,
        "Any news?",
        f"Any news?\n\n{QUOTED}",
        f"Re: {SUBJECT}",
    )
    async with desk.browser() as maria:
        assert await sign_in(maria, "maria@example.org") == 303
        async with maria.get("/events") as stream:
            await desk.parts.desk(plain)
            first = (await read_until(stream, b"event: message")).decode()
            await desk.parts.desk(again)
            second = (await read_until(stream, b"Any news?")).decode()
    assert "Thanks!" in first
    assert "Whole email" not in first and "Subject:" not in first  # nothing more to show
    assert "Subject: Re: Parcel 7731 still missing" in second
    assert "Whole email" in second and "&lt;script&gt;" in second
    assert "<script>" not in second


async def test_the_whole_email_is_kept_once_exported_and_erased_with_the_customer(
    desk: Desk, engine: AsyncEngine
) -> None:
    packet, message = await emailed_handoff(desk)
    await desk.parts.desk(message)  # redelivered
    ticket = await desk.parts.store.ticket(packet.envelope.event_id)
    assert list(await desk.parts.desk.emails_of(ticket)) == [message.envelope.event_id]
    assert holding(await every_row(engine), [SIGNATURE]).keys() == {"customer_emails"}
    envelope = packet.envelope
    customer = Customer(
        frozenset({envelope.customer.customer_id}), frozenset({envelope.conversation_id})
    )
    data = CustomerData(engine)
    exported = await data.rows(customer)
    assert [(e.subject, e.full_text) for e in exported.emails] == [
        ("Parcel 7731 still missing", WHOLE)
    ]

    erased = await data.erase(
        customer,
        lambda rows: AuditEntry(
            agent_id=desk.accounts["sue@example.org"],
            action=AuditAction.CUSTOMER_ERASED.value,
            changes=rows.counts(),
            at=datetime.now(UTC),
        ),
    )
    assert len(erased.emails) == 1
    assert not holding(await every_row(engine), [SIGNATURE])


async def test_retention_removes_the_whole_email_with_the_messages(
    desk: Desk, engine: AsyncEngine
) -> None:
    await emailed_handoff(desk)
    retention = DeskRetention(engine, RetentionPolicy(timedelta(days=1), timedelta(days=2)))
    now = datetime.now(UTC)
    assert (await retention.apply(now + timedelta(days=1, hours=12))).emails_removed == 0
    assert (await retention.apply(now + timedelta(days=2, minutes=1))).emails_removed == 1
    assert not holding(await every_row(engine), [SIGNATURE])
