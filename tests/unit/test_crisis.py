"""A customer who writes of harming themselves: crisis resources for their country, the
highest priority, and an answer even while a person is in charge."""

from __future__ import annotations

from pathlib import Path

import pytest
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from services.orchestrator.crisis import CrisisResources, CrisisResourcesError, country_of
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.policy import Action, Facts, Policy
from shared.kafka.topics import HANDOFF, outbound_topic
from tests.fakes.ports import FakePublisher, InMemoryContext, StubEmotion, inbound_message

POLICY = Policy.load()
RESOURCES = CrisisResources.load()


@pytest.mark.parametrize(
    "text",
    [
        "honestly i dont want to live anymore",
        "I don’t want to be alive",  # a phone's apostrophe
        "everyone would be better off without me",
        "Ya no quiero vivir",
        "j'ai envie d'en finir",
        "Ich will nicht mehr leben",
        "às vezes penso em tirar minha vida",
    ],
)
def test_words_of_self_harm_are_read_as_such_in_every_language(text: str) -> None:
    assert POLICY.sensitive_topic(text) == "self_harm"


@pytest.mark.parametrize(
    "text",
    ["this delay is killing me", "50 kms from Lyon", "I could die laughing at this"],
)
def test_everyday_exaggeration_is_not_a_crisis(text: str) -> None:
    assert POLICY.sensitive_topic(text) != "self_harm"


def test_a_crisis_is_answered_over_a_person_and_first_in_line() -> None:
    facts = Facts(
        emotion_available=True, sensitive_topic="self_harm", conversation_state="with_agent"
    )
    decision = POLICY.decide(facts)
    assert decision.action is Action.ESCALATE
    assert decision.codes()[:2] == ["agent_in_charge", "crisis"]
    assert decision.priority == 1.0
    quiet = POLICY.decide(
        Facts(
            emotion_available=True, sensitive_topic="bereavement", conversation_state="with_agent"
        )
    )
    assert quiet.action is Action.STAY_QUIET


@pytest.mark.parametrize(
    ("channel", "address", "identities", "locale", "country"),
    [
        (envelope_pb2.CHANNEL_SMS, "+447700900123", (), "", "GB"),
        (envelope_pb2.CHANNEL_WHATSAPP, "+5511987654321", (), "en-US", "BR"),
        (
            envelope_pb2.CHANNEL_WEB,
            "visitor-1",
            ((envelope_pb2.CHANNEL_SMS, "+33612345678"),),
            "",
            "FR",
        ),
        (envelope_pb2.CHANNEL_WEB, "visitor-1", (), "pt_PT", "PT"),
        (envelope_pb2.CHANNEL_WEB, "visitor-1", (), "fr", ""),
        (envelope_pb2.CHANNEL_TELEGRAM, "12345", (), "", ""),
    ],
)
def test_the_country_comes_from_a_phone_number_then_the_locale(
    channel: envelope_pb2.Channel,
    address: str,
    identities: tuple[tuple[envelope_pb2.Channel, str], ...],
    locale: str,
    country: str,
) -> None:
    assert country_of(channel, address, identities, locale) == country


def test_an_unlisted_country_gets_the_default_helplines() -> None:
    assert RESOURCES.for_country("GB").resources == ("Samaritans: 116 123",)
    assert RESOURCES.for_country("JP") == RESOURCES.for_country("")
    assert RESOURCES.for_country("").resources


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("US: {emergency: '911', resources: [x]}", "needs a 'default' entry"),
        ("default: {emergency: '112'}", "default.resources"),
        (
            "default: {emergency: '112', resources: [a]}\n"
            "France: {emergency: '112', resources: [b]}",
            "France: a country is a two-letter ISO code",
        ),
        ("default: {emergency: 112, resources: [a]}", "default.emergency"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "crisis.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CrisisResourcesError, match=problem):
        CrisisResources.load(path)


def _handler(context: InMemoryContext, publisher: FakePublisher) -> InboundHandler:
    return InboundHandler(
        emotion=StubEmotion(),
        context=context,
        publisher=publisher,
        policy=POLICY,
        bot_name="Robin",
        context_turns=20,
        crisis=RESOURCES,
    )


async def test_a_customer_in_crisis_gets_their_countrys_helplines_and_a_person_at_once() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    message = inbound_message(
        "I can't do this anymore, I want to end my life", "+447700900123", envelope_pb2.CHANNEL_SMS
    )
    await _handler(context, publisher)(message)
    (topic, reply), (_, handoff) = publisher.published
    assert topic == outbound_topic("sms")
    assert "Samaritans: 116 123" in reply.text and "call 999" in reply.text
    assert "automated assistant" in reply.text
    assert handoff.priority == 1.0
    assert [r.code for r in handoff.reasons][:2] == ["crisis", "sensitive_topic"]
    assert context.states[message.envelope.conversation_id] == (
        context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
    )


async def test_a_crisis_while_an_agent_holds_the_conversation_is_answered_and_stays_theirs() -> (
    None
):
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    first = inbound_message("I want to talk to a real person", locale_hint="de-DE")
    await handler(first)
    context.states[first.envelope.conversation_id] = context_pb.CONVERSATION_STATE_WITH_AGENT
    await handler(inbound_message("Ich will nicht mehr leben", locale_hint="de-DE"))
    topics = [topic for topic, _ in publisher.published]
    assert topics == [outbound_topic("web"), HANDOFF, outbound_topic("web"), HANDOFF]
    crisis = publisher.published[2][1]
    assert "TelefonSeelsorge" in crisis.text and "112" in crisis.text
    assert context.states[first.envelope.conversation_id] == (
        context_pb.CONVERSATION_STATE_WITH_AGENT
    )
