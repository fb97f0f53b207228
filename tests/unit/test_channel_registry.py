"""Every channel is whole: an enum value, rendering rules, a voice form, a consumer of its
replies, a row in docs/channels.md, a place in the context store; and the shared paths the
registry feeds (the inbound event, the outbound message) carry what every channel needs."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from infra.channels_doc import CHANNEL_TABLE, render
from services.agent_desk.config import AgentDeskSettings
from services.channels import BUILTIN_CHANNELS, channel_label, channel_spec, channels_of
from services.context import repository
from services.context.database import create_engine, migrate
from services.context.repository import ContextRepository, StorePolicy
from services.context.store import Store
from shared.channel_names import CHANNEL_NAMES, PHONE_CHANNELS, channel_number
from shared.channels.adapter import Capabilities, InboundMessage, QuickReply
from shared.channels.inbound import received_event
from shared.channels.outbound import OUTBOUND_EVENTS, OutboundDelivery
from shared.channels.registry import ChannelSpec
from shared.channels.rendering import render as render_reply
from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.voice.replies import DEFAULT_VOICE, VOICE
from tests.fakes.channel import FakeChannelAdapter
from tests.fakes.ports import FakePublisher

REGISTERED = [spec.name for spec in BUILTIN_CHANNELS]
SERVICES = sorted({spec.service for spec in BUILTIN_CHANNELS})


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_channel_has_a_value_in_the_proto_enum(name: str) -> None:
    assert name in CHANNEL_NAMES


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_every_channel_of_the_proto_enum_is_registered(name: str) -> None:
    assert name in REGISTERED


def test_a_channel_is_registered_once_and_found_by_name_and_service() -> None:
    assert len(REGISTERED) == len(set(REGISTERED))
    for spec in BUILTIN_CHANNELS:
        assert channel_spec(spec.name) is spec
        assert spec in channels_of(spec.service)
        assert channel_label(spec.name) == spec.label
    assert channels_of("no_such_service") == ()
    assert channel_label("pigeon") == "pigeon"


def test_an_unknown_channel_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="pigeon") as refused:
        channel_spec("pigeon")
    assert all(name in str(refused.value) for name in REGISTERED)


def test_a_declaration_without_an_enum_value_is_refused() -> None:
    with pytest.raises(ValueError, match="pigeon"):
        ChannelSpec("pigeon", "pigeon_adapter", "Pigeon", (), AgentDeskSettings, lambda: None)


def test_a_spec_gives_its_outbound_topic_and_its_own_service_for_media_by_default() -> None:
    spec = channel_spec("whatsapp")
    assert spec.outbound_topic == "rapport.outbound.whatsapp.v1"
    assert spec.media_service == spec.service == "social_adapter"


@pytest.mark.parametrize("spec", BUILTIN_CHANNELS, ids=REGISTERED)
@pytest.mark.parametrize("language", VOICE.languages)
def test_every_channel_renders_a_voice_reply_within_its_rules(
    spec: ChannelSpec, language: str
) -> None:
    capabilities = spec.capabilities()
    if capabilities is None:  # sent as written: only the web chat declares it
        assert spec.name == "web"
        return
    assert isinstance(capabilities, Capabilities)
    reply = VOICE.compose_reply(
        language=language,
        intent="track_order",
        emotion="frustration",
        intensity=0.8,
        first_bot_message=True,
        bot_name="Robin",
        handoff=True,
    )
    buttons = (QuickReply("Track my order", "track"), QuickReply("Talk to a person", "human"))
    text, shown = render_reply(reply.text, buttons, capabilities)
    assert text and len(text) <= capabilities.max_text_chars
    assert len(shown) <= capabilities.max_quick_replies


@pytest.mark.parametrize("name", REGISTERED)
def test_every_channel_has_the_voices_words_in_every_language(name: str) -> None:
    document = yaml.safe_load(DEFAULT_VOICE.read_text())
    assert name in document["channels"]
    for language, library in document["languages"].items():
        assert library["channel_words"].get(name), f"{language}.channel_words.{name}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_channels_replies_are_consumed_by_its_service(service: str) -> None:
    """The service's composition root builds a consumer of each of its channels' topics."""
    root = importlib.import_module(f"services.{service}.__main__")
    specs = channels_of(service)
    publisher = EventPublisher("127.0.0.1:9", client_id="registry-test")  # never started
    consumers = root.reply_consumers(specs[0].settings(), publisher)
    assert set(consumers) == {spec.name for spec in specs}
    for spec in specs:
        assert consumers[spec.name].topics == {spec.outbound_topic: OUTBOUND_EVENTS}


def test_the_agent_desk_reaches_every_service_that_opens_media() -> None:
    urls = AgentDeskSettings().adapter_urls
    for spec in BUILTIN_CHANNELS:
        assert urls.get(spec.media_service), f"no URL for {spec.media_service} ({spec.name})"


def test_docs_channels_md_is_generated_from_the_registry() -> None:
    expected = render(BUILTIN_CHANNELS)
    assert CHANNEL_TABLE.read_text() == expected, "run `python -m infra.channels_doc`"
    assert all(f"`{spec.outbound_topic}`" in expected for spec in BUILTIN_CHANNELS)


def _address(name: str) -> str:
    return "+16505551234" if channel_number(name) in PHONE_CHANNELS else f"{name}-customer-1"


@pytest.mark.parametrize("name", CHANNEL_NAMES)
async def test_the_context_store_keeps_every_channel(name: str, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'context.db'}")
    await migrate(engine)
    store = Store(engine, hash_key=b"k" * 32)
    contexts = ContextRepository(store, StorePolicy())
    try:
        first = await contexts.resolve_customer(channel_number(name), _address(name))
        again = await contexts.resolve_customer(channel_number(name), _address(name))
        context = await contexts.get_context(first.customer.id, max_turns=5)
    finally:
        await store.close()
        await engine.dispose()
    assert first.created and not again.created
    assert again.customer.id == first.customer.id
    assert [i.channel for i in context.customer.identities] == [channel_number(name)]
    assert f"({name})" in context.summary
    assert repository.CHANNEL_NAMES[int(channel_number(name))] == name


def test_an_inbound_message_becomes_the_event_with_the_ids_its_channel_chose() -> None:
    sent_at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    message = InboundMessage(
        channel="whatsapp",
        address="+16505551234",
        text="where is my order",
        provider_message_id="wamid.1",
        display_name="Ana",
        locale="es",
        sent_at=sent_at,
        compliance_keyword="",
    )
    event = received_event(
        message, conversation_id="conv-1", event_id="ev-1", full_text="all", subject="Order"
    )
    assert event.envelope.event_id == "ev-1"
    assert event.envelope.conversation_id == "conv-1"
    assert event.envelope.channel == envelope_pb2.CHANNEL_WHATSAPP
    assert event.envelope.customer.address == "+16505551234"
    assert event.envelope.customer.display_name == "Ana"
    assert event.envelope.occurred_at.ToDatetime(tzinfo=UTC) == sent_at
    assert (event.text, event.full_text, event.subject) == ("where is my order", "all", "Order")
    assert (event.provider_message_id, event.locale_hint) == ("wamid.1", "es")
    fresh = received_event(message, conversation_id="conv-1", event_id="")
    assert fresh.envelope.event_id and fresh.envelope.event_id != "ev-1"


@pytest.mark.parametrize(
    ("sender", "said"),
    [
        (messages_pb2.SENDER_BOT, "bot"),
        (messages_pb2.SENDER_AGENT, "agent"),
        (messages_pb2.SENDER_SYSTEM, "system"),
        (messages_pb2.SENDER_UNSPECIFIED, ""),
    ],
)
async def test_the_outbound_message_says_its_conversation_and_who_wrote_it(
    sender: messages_pb2.Sender, said: str
) -> None:
    adapter = FakeChannelAdapter()
    customer = envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_TELEGRAM, address="u-1")
    event = messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id="conv-7", channel=envelope_pb2.CHANNEL_TELEGRAM, customer=customer
        ),
        text="hello",
        sender=sender,
    )
    await OutboundDelivery(adapter, FakePublisher())(event)
    [sent] = adapter.sent
    assert (sent.conversation_id, sent.sender) == ("conv-7", said)
