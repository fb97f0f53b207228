"""WhatsApp's 24-hour customer-service window: the rule, and the guard that enforces it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2, messages_pb2

from services.social_adapter.whatsapp import (
    WINDOW_CLOSED,
    ReplyWindowGuard,
    WhatsAppAdapter,
    last_customer_message,
    window_open,
)
from shared.channels.adapter import DeliveryReceipt, OutboundMessage
from shared.channels.outbound import OutboundDelivery
from shared.errors import RefusedError
from shared.kafka.codec import new_envelope
from shared.kafka.topics import DELIVERY, HANDOFF
from tests.fakes.ports import FakePublisher

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
WA, SMS = envelope_pb2.CHANNEL_WHATSAPP, envelope_pb2.CHANNEL_SMS


def turn(role: int, channel: int, at: datetime) -> context_pb.Turn:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return context_pb.Turn(role=role, channel=channel, occurred_at=stamp, text="t")


@pytest.mark.parametrize(
    ("age", "open_"),
    [
        (timedelta(0), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (DAY, False),
        (DAY + timedelta(seconds=1), False),
        (timedelta(days=30), False),
        (-timedelta(minutes=5), False),  # a clock from the future is not trusted
    ],
)
def test_the_window_is_open_for_24_hours_after_the_customers_message(
    age: timedelta, open_: bool
) -> None:
    assert window_open(NOW - age, NOW, DAY) is open_


def test_no_message_at_all_means_the_window_is_closed() -> None:
    assert window_open(None, NOW, DAY) is False


def test_only_the_customers_own_whatsapp_messages_count() -> None:
    turns = [
        turn(context_pb.ROLE_CUSTOMER, WA, NOW - timedelta(hours=30)),
        turn(context_pb.ROLE_CUSTOMER, SMS, NOW - timedelta(hours=1)),  # another channel
        turn(context_pb.ROLE_BOT, WA, NOW - timedelta(hours=1)),  # our own reply
        turn(context_pb.ROLE_AGENT, WA, NOW - timedelta(minutes=5)),
    ]
    assert last_customer_message(turns) == NOW - timedelta(hours=30)
    assert last_customer_message(turns[1:]) is None


class StubContext:
    def __init__(self, turns: list[context_pb.Turn], erased: bool = False) -> None:
        self.turns, self.erased = turns, erased
        self.asked: list[str] = []

    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.Customer:
        if self.erased:
            raise RefusedError("FAILED_PRECONDITION: erased")
        return context_pb.Customer(customer_id=f"resolved:{address}")

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse:
        self.asked.append(customer_id)
        return context_pb.GetContextResponse(
            recent_turns=self.turns, summary="Asked about a late parcel."
        )


class StubWhatsApp(WhatsAppAdapter):
    """The real adapter's rules, with sends recorded instead of made."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.templates: list[tuple[str, str]] = []

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.sent.append(message)
        return DeliveryReceipt(f"wamid.{len(self.sent)}")

    async def send_template(self, address: str, name: str) -> DeliveryReceipt:
        self.templates.append((address, name))
        return DeliveryReceipt("wamid.template")


def reply(
    customer_id: str = "cust-1", sender: messages_pb2.Sender = messages_pb2.SENDER_BOT
) -> messages_pb2.SendMessage:
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id="conv-1",
            channel=WA,
            customer=envelope_pb2.CustomerRef(
                customer_id=customer_id, channel=WA, address="+16505551234"
            ),
        ),
        text="Your parcel arrives **tomorrow**.",
        sender=sender,
    )


def wire(
    context: StubContext, template: str = ""
) -> tuple[OutboundDelivery, ReplyWindowGuard, StubWhatsApp, FakePublisher]:
    adapter, publisher = StubWhatsApp(), FakePublisher()
    guard = ReplyWindowGuard(
        context=context,
        publisher=publisher,
        adapter=adapter,
        reopen_template=template,
        clock=lambda: NOW,
    )
    return OutboundDelivery(adapter, publisher, guard=guard), guard, adapter, publisher


async def test_inside_the_window_the_reply_is_sent() -> None:
    context = StubContext([turn(context_pb.ROLE_CUSTOMER, WA, NOW - timedelta(hours=2))])
    delivery, guard, adapter, publisher = wire(context)
    await guard.guarding(delivery)(reply())
    [sent] = adapter.sent
    assert sent.text == "Your parcel arrives *tomorrow*."
    assert context.asked == ["cust-1"]
    assert [topic for topic, _ in publisher.published] == [DELIVERY]


async def test_outside_the_window_nothing_is_sent_and_a_person_is_asked_to_take_over() -> None:
    context = StubContext([turn(context_pb.ROLE_CUSTOMER, WA, NOW - timedelta(hours=25))])
    delivery, guard, adapter, publisher = wire(context)
    event = reply()
    await guard.guarding(delivery)(event)
    assert adapter.sent == [] and adapter.templates == []
    handoffs = [e for t, e in publisher.published if t == HANDOFF]
    [handoff] = handoffs
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    [reason] = handoff.reasons
    assert reason.code == WINDOW_CLOSED == "whatsapp_window_closed"
    assert "24 hours" in reason.explanation and "2025-06-19 11:00 UTC" in reason.explanation
    assert handoff.envelope.causation_id == event.envelope.event_id
    assert handoff.envelope.conversation_id == "conv-1"
    assert "late parcel" in handoff.summary and "tomorrow" in handoff.summary
    [report] = [e for t, e in publisher.published if t == DELIVERY]
    assert isinstance(report, messages_pb2.MessageDeliveryUpdated)
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert report.error_code == "window_closed"
    assert report.error_message == reason.explanation


async def test_a_configured_template_invites_the_customer_back() -> None:
    delivery, guard, adapter, publisher = wire(StubContext([]), template="care_follow_up")
    await guard.guarding(delivery)(reply())
    assert adapter.sent == [] and adapter.templates == [("+16505551234", "care_follow_up")]
    [handoff] = [e for t, e in publisher.published if t == HANDOFF]
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert "care_follow_up" in handoff.reasons[0].explanation


async def test_without_a_customer_id_the_customer_is_resolved_by_address() -> None:
    context = StubContext([turn(context_pb.ROLE_CUSTOMER, WA, NOW - timedelta(minutes=1))])
    delivery, guard, adapter, _ = wire(context)
    await guard.guarding(delivery)(reply(customer_id=""))
    assert context.asked == ["resolved:+16505551234"] and len(adapter.sent) == 1


async def test_an_erased_customer_gets_nothing_and_no_handoff() -> None:
    delivery, guard, adapter, publisher = wire(StubContext([], erased=True))
    await guard.guarding(delivery)(reply(customer_id=""))
    assert adapter.sent == []
    [(topic, report)] = publisher.published
    assert topic == DELIVERY and isinstance(report, messages_pb2.MessageDeliveryUpdated)
    assert report.error_code == "customer_erased"


async def test_an_agents_reply_outside_the_window_is_refused_without_another_handoff() -> None:
    context = StubContext([turn(context_pb.ROLE_CUSTOMER, WA, NOW - timedelta(hours=25))])
    delivery, guard, adapter, publisher = wire(context)
    await guard.guarding(delivery)(reply(sender=messages_pb2.SENDER_AGENT))
    assert adapter.sent == []
    [(topic, report)] = publisher.published  # the person holding it sees this in the desk
    assert topic == DELIVERY and isinstance(report, messages_pb2.MessageDeliveryUpdated)
    assert report.error_code == "window_closed" and "24 hours" in report.error_message
