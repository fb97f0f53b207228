"""One message end to end through real processes, a real broker and real gRPC servers."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import agent_pb2, feedback_pb2, handoff_pb2, messages_pb2

from shared.conversations import thread_conversation_id
from shared.grpc.client import open_channel
from shared.kafka.codec import EVENT_TYPE_HEADER, new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import AGENT_ACTIONS, DEAD_LETTER, FEEDBACK, HANDOFF, INBOUND
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.grpc_probe import health_status, reflected_services
from tests.kafka_helpers import eventually, eventually_async, read_until

pytestmark = pytest.mark.e2e

AgentActions = Callable[..., agent_pb2.AgentActionTaken]


def metric_total(url: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def exchange(stack: Stack, text: str) -> dict[str, object]:
    """A new visitor says ``text``; returns the one reply they get."""
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say(text)
        await eventually(lambda: len(chat.replies) == 1)
    finally:
        await chat.close()
    return chat.replies[0]


async def test_a_customer_message_gets_the_bots_reply_and_both_are_stored(stack: Stack) -> None:
    """Behaviour only: how fast replies come is measured by ``bench.orchestrator``."""
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say("Hi, my order hasn't arrived")
        await eventually(lambda: len(chat.replies) == 1)
    finally:
        await chat.close()
    reply = chat.replies[0]
    assert reply["sender"] == "bot"
    assert "automated assistant" in reply["text"]
    assert reply["in_reply_to"] == chat.acks[0]["event_id"]

    async with open_channel(stack.context_address) as channel:
        turns = (
            await context_grpc.ContextServiceStub(channel).ListTurns(
                context_pb.ListTurnsRequest(conversation_id=chat.conversation_id), timeout=5
            )
        ).turns
    assert [(t.sequence, t.role, t.text) for t in turns] == [
        (1, context_pb.ROLE_CUSTOMER, "Hi, my order hasn't arrived"),
        (2, context_pb.ROLE_BOT, reply["text"]),
    ]
    assert turns[0].HasField("emotion") and turns[0].language == "en"  # analysed and stored


async def test_each_grpc_server_answers_health_and_lists_its_services(stack: Stack) -> None:
    expected = {
        stack.emotion_address: emotion_pb.DESCRIPTOR.services_by_name["EmotionService"].full_name,
        stack.context_address: context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name,
    }
    for address, service in expected.items():
        assert await health_status(address) == "SERVING"
        assert await health_status(address, service) == "SERVING"
        assert service in await reflected_services(address)


async def test_every_service_shows_counters_that_moved(stack: Stack) -> None:
    await exchange(stack, "Where is my order?")
    assert (
        metric_total(
            stack.metrics_url("web_adapter"), "rapport_web_frames_total", outcome="published"
        )
        >= 1
    )
    assert (
        metric_total(
            stack.metrics_url("web_adapter"), "rapport_web_replies_total", outcome="delivered"
        )
        >= 1
    )
    assert (
        metric_total(stack.metrics_url("orchestrator"), "rapport_orchestrator_replies_total") >= 1
    )
    assert (
        metric_total(
            stack.metrics_url("orchestrator"),
            "rapport_kafka_records_consumed_total",
            topic=INBOUND,
            outcome="handled",
        )
        >= 1
    )
    assert metric_total(stack.metrics_url("emotion"), "rapport_emotion_predictions_total") >= 1
    assert (
        metric_total(
            stack.metrics_url("context"), "rapport_grpc_server_handling_seconds_count", code="OK"
        )
        >= 3
    )


async def test_bad_frames_get_error_frames_and_the_socket_stays_up(stack: Stack) -> None:
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.send_raw("this is not json")
        await chat.send_raw('{"type": "message", "text": "' + "x" * 20_000 + '"}')
        await chat.socket.send_bytes(b"\x00\x01")
        await eventually(lambda: len(chat.errors) == 3)
        await chat.say("Still there?")
        await eventually(lambda: len(chat.replies) == 1)
    finally:
        await chat.close()
    assert [e["code"] for e in chat.errors] == ["invalid_json", "frame_too_large", "binary_frame"]
    assert all(e["message"] for e in chat.errors)


async def test_an_undecodable_inbound_record_is_dead_lettered_and_processing_goes_on(
    stack: Stack,
) -> None:
    marker = uuid.uuid4().hex.encode()
    async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
        await publisher.publish_raw(
            INBOUND,
            b"conv-garbage",
            b"\xff\xff" + marker,
            [(EVENT_TYPE_HEADER, b"rapport.events.v1.MessageReceived")],
        )
    # Every consumer group of the topic dead-letters it (the agent desk reads it too).
    await read_until(
        stack.kafka_bootstrap,
        DEAD_LETTER,
        lambda r: (
            r.value is not None
            and marker in r.value
            and dict(r.headers)["dead-letter-group"] == stack.orchestrator_group.encode()
        ),
    )

    await exchange(stack, "hello after the garbage")


async def test_a_reply_remembers_the_same_customer_on_another_channel(stack: Stack) -> None:
    phone = "+12025550143"
    sms = messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id=thread_conversation_id("sms", phone),
            channel=envelope_pb2.CHANNEL_SMS,
            customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_SMS, address=phone),
        ),
        text="My parcel is late",
    )
    async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
        await publisher.publish(INBOUND, sms)  # as the SMS adapter would

    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say("Hello")
        await eventually(lambda: len(chat.replies) == 1)
        assert "also contacted us" not in chat.replies[0]["text"]  # not linked yet

        async with open_channel(stack.context_address) as channel:
            context = context_grpc.ContextServiceStub(channel)
            web = await context.ResolveCustomer(
                context_pb.ResolveCustomerRequest(
                    channel=envelope_pb2.CHANNEL_WEB, address=chat.visitor
                ),
                timeout=5,
            )
            await eventually_async(
                lambda: context.ListTurns(
                    context_pb.ListTurnsRequest(conversation_id=sms.envelope.conversation_id),
                    timeout=5,
                ),
                lambda turns: len(turns.turns) == 2,
            )
            # The customer proves the number is theirs with the code sent to it by SMS.
            challenge = await context.StartIdentityLink(
                context_pb.StartIdentityLinkRequest(
                    customer_id=web.customer.customer_id,
                    channel=envelope_pb2.CHANNEL_SMS,
                    address=phone,
                ),
                timeout=5,
            )
            linked = await context.ConfirmIdentityLink(
                context_pb.ConfirmIdentityLinkRequest(
                    challenge_id=challenge.challenge_id,
                    customer_id=web.customer.customer_id,
                    code=challenge.code,
                ),
                timeout=5,
            )
            assert linked.merged

        await chat.say("Any news about it?")
        await eventually(lambda: len(chat.replies) == 2)
    finally:
        await chat.close()
    assert "also contacted us by text message on" in chat.replies[1]["text"]


async def test_asking_for_a_person_hands_off_and_the_bot_steps_back(stack: Stack) -> None:
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say("I want to talk to a real person please")
        await eventually(lambda: len(chat.replies) == 1)
        [handoff_record] = await read_until(
            stack.kafka_bootstrap,
            HANDOFF,
            lambda r: r.key == chat.conversation_id.encode(),
        )
        # The desk tells the waiting customer their place in line at once (the bot is
        # quiet; waiting is never silence).
        await eventually(lambda: len(chat.replies) == 2)
        await chat.say("Hello? Is someone coming?")
        await eventually(lambda: len(chat.acks) == 2)
        await asyncio.sleep(1.5)  # the bot's reply would arrive in this window
    finally:
        await chat.close()
    assert "member of our team" in chat.replies[0]["text"]
    assert "You are number" in chat.replies[1]["text"]  # the desk's, not the bot's
    assert len(chat.replies) == 2  # the desk answers the next one after its burst guard
    handoff = handoff_pb2.HandoffRequested.FromString(handoff_record.value)
    assert handoff.reasons[0].code == "human_requested"
    assert handoff.reasons[0].explanation == "The customer asked to talk to a person."
    assert handoff.summary


async def handed_to_an_agent(stack: Stack, chat: ChatClient) -> AgentActions:
    """The visitor asks for a person (the bot's hand-over, then the desk's place in line);
    returns a maker of that agent's actions on the chat."""
    await chat.say("I want to talk to a real person please")
    await eventually(lambda: len(chat.replies) == 2)
    async with open_channel(stack.context_address) as channel:
        customer = await context_grpc.ContextServiceStub(channel).ResolveCustomer(
            context_pb.ResolveCustomerRequest(
                channel=envelope_pb2.CHANNEL_WEB, address=chat.visitor
            ),
            timeout=5,
        )

    def action(
        kind: agent_pb2.AgentActionKind, agent: tuple[str, str], text: str = ""
    ) -> agent_pb2.AgentActionTaken:
        return agent_pb2.AgentActionTaken(
            envelope=new_envelope(
                conversation_id=chat.conversation_id,
                channel=envelope_pb2.CHANNEL_WEB,
                customer=envelope_pb2.CustomerRef(
                    customer_id=customer.customer.customer_id,
                    channel=envelope_pb2.CHANNEL_WEB,
                    address=chat.visitor,
                ),
            ),
            kind=kind,
            agent_id=agent[0],
            agent_name=agent[1],
            text=text,
        )

    return action


async def test_an_agent_takes_over_replies_as_a_person_and_hands_back(stack: Stack) -> None:
    chat = await ChatClient.connect(stack.web_url)
    maria = ("agent-7", "Maria")
    try:
        action = await handed_to_an_agent(stack, chat)
        async with EventPublisher(stack.kafka_bootstrap, client_id="agent-desk") as desk:
            await desk.publish(AGENT_ACTIONS, action(agent_pb2.AGENT_ACTION_KIND_CLAIMED, maria))
            await desk.publish(
                AGENT_ACTIONS,
                action(agent_pb2.AGENT_ACTION_KIND_REPLIED, maria, "Hi, I'm Maria."),
            )
            await eventually(lambda: len(chat.replies) == 3)
            await desk.publish(
                AGENT_ACTIONS, action(agent_pb2.AGENT_ACTION_KIND_RETURNED_TO_BOT, maria)
            )
        await asyncio.sleep(1)  # the return is applied before the customer writes again
        await chat.say("Thanks! Where is my order?")
        await eventually(lambda: len(chat.replies) == 4)
    finally:
        await chat.close()
    agent_reply, bot_again = chat.replies[2], chat.replies[3]
    assert (agent_reply["sender"], agent_reply["sender_name"], agent_reply["text"]) == (
        "agent",
        "Maria",
        "Hi, I'm Maria.",
    )
    assert bot_again["sender"] == "bot"


async def test_after_an_agent_resolves_the_customer_rates_the_help_and_says_what_could_be_better(
    stack: Stack,
) -> None:
    chat = await ChatClient.connect(stack.web_url)
    sam = ("agent-9", "Sam")
    try:
        action = await handed_to_an_agent(stack, chat)
        async with EventPublisher(stack.kafka_bootstrap, client_id="agent-desk") as desk:
            for kind in (agent_pb2.AGENT_ACTION_KIND_CLAIMED, agent_pb2.AGENT_ACTION_KIND_RESOLVED):
                await desk.publish(AGENT_ACTIONS, action(kind, sam))
        await eventually(lambda: len(chat.replies) == 3)
        await chat.say("4 - quick and kind")
        await eventually(lambda: len(chat.replies) == 4)
        await chat.say("I am really annoyed that my parcel arrived two weeks late.")
        await eventually(lambda: len(chat.replies) == 5)
        records = await read_until(
            stack.kafka_bootstrap,
            FEEDBACK,
            lambda r: r.key == chat.conversation_id.encode(),
            count=2,
        )
    finally:
        await chat.close()
    question, follow_up, thanks = chat.replies[2:5]
    assert question["sender"] == "bot" and "from 1 (poor) to 5 (excellent)" in question["text"]
    assert "Is there anything we could do better?" in follow_up["text"]
    assert thanks["text"] == "Thank you for telling us; we will use it to improve."
    rating = feedback_pb2.SatisfactionRated.FromString(records[0].value)
    assert (rating.score, rating.comment, rating.agent_id) == (4, "quick and kind", "agent-9")
    assert rating.scale == feedback_pb2.RATING_SCALE_CSAT_5
    assert rating.envelope.channel == envelope_pb2.CHANNEL_WEB
    feedback = feedback_pb2.FeedbackGiven.FromString(records[1].value)
    assert feedback.text == "I am really annoyed that my parcel arrived two weeks late."
    assert (feedback.rating_event_id, feedback.score) == (rating.envelope.event_id, 4)
    # The emotion service's reading of the message, taken once for the reply and the event.
    assert feedback.dominant_emotion and feedback.dominant_emotion != "neutral"
    assert 0 < feedback.intensity <= 1 and feedback.sentiment_score < 0
    assert feedback.intent and feedback.language == "en"


async def test_replies_still_go_out_while_the_emotion_service_is_down(stack: Stack) -> None:
    stack.stop("emotion")
    try:
        # No hang on the dead dependency: the reply comes within exchange's bound.
        reply = await exchange(stack, "Where is my order?")
        assert reply["sender"] == "bot" and reply["text"]
    finally:
        stack.start("emotion")
        stack.wait_ready("emotion")


async def test_an_orchestrator_crash_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    visitors = [await ChatClient.connect(stack.web_url) for _ in range(10)]
    total = 100
    try:
        for i in range(total):
            await visitors[i % len(visitors)].say(f"message {i}: where is my order?")
            if i == total // 3:
                await eventually(lambda: sum(len(v.replies) for v in visitors) >= 10)
                stack.kill("orchestrator")
            await asyncio.sleep(0.01)
        await eventually(lambda: sum(len(v.acks) for v in visitors) == total)
        stack.start("orchestrator")
        await eventually(lambda: sum(len(v.replies) for v in visitors) >= total, timeout=60)
        await asyncio.sleep(2)  # a duplicate would arrive in this window
    finally:
        for visitor in visitors:
            await visitor.close()

    replies = [r for v in visitors for r in v.replies]
    acked = {a["event_id"] for v in visitors for a in v.acks}
    assert len(replies) == total
    assert {r["in_reply_to"] for r in replies} == acked
    assert len({r["event_id"] for r in replies}) == total
