"""Agent actions change who is in charge; an agent's reply goes out on the customer's channel."""

from __future__ import annotations

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, messages_pb2

from services.orchestrator.agent_actions import AgentActionHandler
from services.orchestrator.ratings import Scale
from shared.errors import InvalidInputError
from shared.kafka.codec import new_envelope
from shared.kafka.topics import outbound_topic
from tests.fakes.ports import FakePublisher, InMemoryContext

CONVERSATION = "conv-sms-1"


def _action(kind: agent_pb2.AgentActionKind, text: str = "") -> agent_pb2.AgentActionTaken:
    return agent_pb2.AgentActionTaken(
        envelope=new_envelope(
            conversation_id=CONVERSATION,
            channel=envelope_pb2.CHANNEL_SMS,
            customer=envelope_pb2.CustomerRef(
                customer_id="cust-1", channel=envelope_pb2.CHANNEL_SMS, address="+12025550143"
            ),
        ),
        kind=kind,
        agent_id="agent-7",
        agent_name="Maria",
        text=text,
    )


async def test_claim_reply_return_and_resolve_switch_the_conversation() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handle = AgentActionHandler(context=context, publisher=publisher, bot_name="Robin")

    await handle(_action(agent_pb2.AGENT_ACTION_KIND_CLAIMED))
    assert context.states[CONVERSATION] == context_pb.CONVERSATION_STATE_WITH_AGENT
    assert context.assignees[CONVERSATION] == "agent-7"

    reply = _action(agent_pb2.AGENT_ACTION_KIND_REPLIED, "Hi, I'm Maria. I've found your order.")
    await handle(reply)
    await handle(reply)  # redelivered: the stored turn is not duplicated
    [(topic, sent), _] = publisher.published
    assert topic == outbound_topic("sms")
    assert isinstance(sent, messages_pb2.SendMessage)
    assert (sent.sender, sent.sender_name) == (messages_pb2.SENDER_AGENT, "Maria")
    assert sent.envelope.customer.address == "+12025550143"
    [turn] = context.turns.values()
    assert (turn.role, turn.author) == (context_pb.ROLE_AGENT, "agent-7")

    await handle(_action(agent_pb2.AGENT_ACTION_KIND_RETURNED_TO_BOT))
    assert context.states[CONVERSATION] == context_pb.CONVERSATION_STATE_BOT
    assert context.assignees[CONVERSATION] == "agent-7"  # who handed it back
    resolved = _action(agent_pb2.AGENT_ACTION_KIND_RESOLVED)
    await handle(resolved)
    await handle(resolved)  # redelivered: one question stored, the same one republished
    assert context.states[CONVERSATION] == context_pb.CONVERSATION_STATE_RATING_REQUESTED
    assert context.assignees[CONVERSATION] == "agent-7"  # the rating will be theirs
    first, again = (event for _, event in publisher.published[2:])
    assert first.sender == messages_pb2.SENDER_BOT and first.sender_name == "Robin"
    assert "from 1 (poor) to 5 (excellent)" in first.text
    assert again.envelope.event_id == first.envelope.event_id
    question = context.turns[first.envelope.event_id]
    assert (question.decision.template, question.decision.reasons[0].code) == (
        "rating/ask",
        "agent_resolved",
    )


async def test_a_business_that_chose_nps_asks_how_likely_the_customer_is_to_recommend_it() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handle = AgentActionHandler(
        context=context, publisher=publisher, bot_name="Robin", rating_scale=Scale.NPS_10
    )
    await handle(_action(agent_pb2.AGENT_ACTION_KIND_RESOLVED))
    [(_, question)] = publisher.published
    assert "recommend us" in question.text and "from 0 (not at all likely) to 10" in question.text
    assert context.states[CONVERSATION] == context_pb.CONVERSATION_STATE_RATING_REQUESTED


async def test_an_empty_reply_or_an_unknown_kind_is_refused() -> None:
    handle = AgentActionHandler(
        context=InMemoryContext(), publisher=FakePublisher(), bot_name="Robin"
    )
    with pytest.raises(InvalidInputError, match="no text or attachment"):
        await handle(_action(agent_pb2.AGENT_ACTION_KIND_REPLIED, "   "))
    with pytest.raises(InvalidInputError, match="kind"):
        await handle(_action(agent_pb2.AGENT_ACTION_KIND_UNSPECIFIED))


async def test_a_caption_less_image_goes_out_with_its_link_and_is_stored_with_the_turn() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handle = AgentActionHandler(context=context, publisher=publisher, bot_name="Robin")
    photo = envelope_pb2.Attachment(
        reference="http://127.0.0.1:8083/media?ref=desk%3Aupload%2Fab&exp=1&sig=s",
        content_type="image/png",
        kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
        file_name="parcel.png",
        size_bytes=68,
    )
    reply = _action(agent_pb2.AGENT_ACTION_KIND_REPLIED)
    reply.attachments.append(photo)

    await handle(reply)
    await handle(reply)  # redelivered: the same message, with the same attachment
    [(_, first), (_, again)] = publisher.published
    assert isinstance(first, messages_pb2.SendMessage)
    assert (first.text, list(first.attachments)) == ("", [photo])
    assert again.envelope.event_id == first.envelope.event_id
    assert list(again.attachments) == [photo]
    [turn] = context.turns.values()
    assert list(turn.attachments) == [photo] and turn.role == context_pb.ROLE_AGENT
