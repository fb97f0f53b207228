from __future__ import annotations

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import messages_pb2

from services.orchestrator.handlers import InboundHandler
from shared.kafka.codec import derived_event_id, new_envelope
from shared.kafka.topics import outbound_topic
from tests.fakes.ports import FakePublisher, InMemoryContext, StubEmotion


def _inbound(text: str, visitor: str = "visitor-1") -> messages_pb2.MessageReceived:
    return messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=f"conv-{visitor}",
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_WEB, address=visitor),
        ),
        text=text,
    )


def _handler(
    context: InMemoryContext, publisher: FakePublisher, emotion: StubEmotion | None = None
) -> InboundHandler:
    return InboundHandler(
        emotion=emotion or StubEmotion(),
        context=context,
        publisher=publisher,
        bot_name="Robin",
        context_turns=20,
    )


async def test_a_message_gets_one_reply_on_its_channel_and_both_turns_are_stored() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    inbound = _inbound("Hi, my order hasn't arrived")

    await _handler(context, publisher)(inbound)

    [(topic, reply)] = publisher.published
    assert topic == outbound_topic("web")
    assert isinstance(reply, messages_pb2.SendMessage)
    assert reply.envelope.event_id == derived_event_id(inbound.envelope.event_id, "reply")
    assert reply.envelope.customer.address == "visitor-1"
    assert reply.in_reply_to == inbound.envelope.event_id
    assert "automated assistant" in reply.text
    assert "order number" in reply.text
    roles = [t.role for t in context.turns.values()]
    assert roles == [context_pb.ROLE_CUSTOMER, context_pb.ROLE_BOT]
    customer_turn = context.turns[inbound.envelope.event_id]
    assert customer_turn.emotion.dominant_emotion == "frustration"


async def test_the_disclosure_is_only_in_the_first_bot_message() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    await handler(_inbound("Hi"))
    await handler(_inbound("Where is my order?"))
    first, second = (event.text for _, event in publisher.published)
    assert "automated assistant" in first
    assert "automated assistant" not in second


async def test_a_redelivered_message_republishes_the_same_reply_and_stores_nothing_new() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    inbound = _inbound("I want a refund")
    await handler(inbound)
    await handler(inbound)

    first, second = (event for _, event in publisher.published)
    assert first.envelope.event_id == second.envelope.event_id
    assert first.text == second.text
    assert len(context.turns) == 2


async def test_it_still_answers_when_the_emotion_service_is_down() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _handler(context, publisher, StubEmotion(available=False))(_inbound("hello?"))
    [(_, reply)] = publisher.published
    assert reply.text
    assert not context.turns[next(iter(context.turns))].HasField("emotion")
