"""SMS compliance through the whole stack: Twilio's signed webhooks into the real SMS
adapter, the context service keeping each number's consent, the orchestrator deciding,
and the fake Twilio showing every text that went out.

A texter's STOP, START and HELP get exactly one answer per change of their number's
state (TwiML on the webhook) and nothing else: no bot greeting, no hand-over, whatever
the message. A second number of the same customer keeps its own consent.
"""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc

from shared.conversations import thread_conversation_id
from shared.grpc.client import open_channel
from shared.kafka.topics import HANDOFF, outbound_topic
from tests.e2e.stack import Stack
from tests.fakes.twilio_server import FakeTwilio, inbound_params, signed_webhook
from tests.kafka_helpers import eventually, eventually_async, read_all

pytestmark = pytest.mark.e2e

SMS = envelope_pb2.CHANNEL_SMS
QUIET_WINDOW = 3.0
"""How long after the last message is stored a reply or a hand-over would have shown."""

FLOW = [
    ("STOP", "Rapport: you are unsubscribed"),
    ("are you there?", None),
    ("START", "Rapport: you are resubscribed"),
    ("HELP", "Rapport customer service: reply to this message"),
    ("stop texting me please", "Rapport: you are unsubscribed"),
    ("STOP", None),  # sent again: a new MessageSid, the same text
]


def new_number() -> str:
    return f"+1202555{uuid.uuid4().int % 10_000:04d}"


async def stored_turns(
    context: context_grpc.ContextServiceStub, number: str, count: int
) -> list[context_pb.Turn]:
    """The turns of ``number``'s thread once ``count`` customer turns are stored."""
    request = context_pb.ListTurnsRequest(conversation_id=thread_conversation_id("sms", number))
    found = await eventually_async(
        lambda: context.ListTurns(request, timeout=5),
        lambda listed: sum(t.role == context_pb.ROLE_CUSTOMER for t in listed.turns) >= count,
        timeout=30,
    )
    return list(found.turns)


async def test_each_change_of_a_numbers_consent_is_confirmed_once_and_the_bot_keeps_silent(
    stack: Stack,
) -> None:
    account, token = "AC" + "78" * 16, "e2e-twilio-auth-token"
    number, other = new_number(), new_number()
    async with (
        FakeTwilio(account, token) as twilio,
        aiohttp.ClientSession() as http,
        open_channel(stack.context_address) as channel,
    ):
        public = stack.start_sms_adapter(twilio.base_url, account, token)
        context = context_grpc.ContextServiceStub(channel)

        async def text(sender: str, body: str) -> str:
            params = inbound_params(sender, body, account_sid=account)
            signed, headers = signed_webhook(public + "/twilio/sms", params, token)
            async with http.post(
                f"{stack.sms_url}/twilio/sms", data=signed, headers=headers
            ) as response:
                assert response.status == 200
                return await response.text()

        answers = [await text(number, body) for body, _ in FLOW]
        await stored_turns(context, number, len(FLOW))

        # A second number, proven to be the same customer's with the code sent to it.
        customer = await context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=SMS, address=number), timeout=5
        )
        started = await context.StartIdentityLink(
            context_pb.StartIdentityLinkRequest(
                customer_id=customer.customer.customer_id, channel=SMS, address=other
            ),
            timeout=5,
        )
        await context.ConfirmIdentityLink(
            context_pb.ConfirmIdentityLinkRequest(
                challenge_id=started.challenge_id,
                customer_id=customer.customer.customer_id,
                code=started.code,
            ),
            timeout=5,
        )
        # Its START changes nothing (it never opted out) and re-enables nothing else.
        other_answers = [await text(other, body) for body in ("START", "hello?")]
        await eventually(lambda: len(twilio.sent_to(other)) == 1, timeout=30)
        last = await text(number, "hello?")
        await stored_turns(context, number, len(FLOW) + 1)
        await asyncio.sleep(QUIET_WINDOW)  # time for a reply or a hand-over to show
        turns = await stored_turns(context, number, len(FLOW) + 1)
        conversation = thread_conversation_id("sms", number).encode()
        replies = await read_all(
            stack.kafka_bootstrap, outbound_topic("sms"), lambda r: r.key == conversation
        )
        handoffs = await read_all(stack.kafka_bootstrap, HANDOFF, lambda r: r.key == conversation)

    for (body, expected), answer in zip(FLOW, answers, strict=True):
        assert answer.count("<Message>") == (expected is not None), (body, answer)
        assert expected is None or f"<Message>{expected}" in answer, (body, answer)
    assert "<Message>" not in last and all("<Message>" not in a for a in other_answers)
    # Every message is kept; the bot said nothing to this number, and asked nobody to.
    assert [t.text for t in turns] == [body for body, _ in FLOW] + ["hello?"]
    assert {t.role for t in turns} == {context_pb.ROLE_CUSTOMER}
    assert replies == [] and handoffs == []
    assert twilio.sent_to(number) == []
    # The other number, opted in all along, is answered by the bot as usual.
    [greeting] = twilio.sent_to(other)
    assert "automated assistant" in greeting.body
