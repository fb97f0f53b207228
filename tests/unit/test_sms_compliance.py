"""STOP, START and HELP over the webhook, in the customer's language, public URLs behind
proxies, and the opt-out guard, per number."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.message import Message
from rapport.events.v1 import messages_pb2

from services.sms_adapter.compliance import (
    ComplianceResponder,
    NumberConsent,
    answer_language,
    confirmation,
    opt_out_guard,
)
from services.sms_adapter.config import SmsSettings
from services.sms_adapter.http_app import create_app
from services.sms_adapter.keywords import Intent
from services.sms_adapter.twilio import TwilioAdapter
from shared.channels.adapter import InboundMessage, OutboundMessage
from shared.channels.outbound import RefusalCode
from shared.errors import DependencyUnavailableError
from shared.kafka.topics import DELIVERY, INBOUND
from tests.fakes.ports import FakePublisher
from tests.fakes.twilio_server import inbound_params, message_sid, signed_webhook, status_params

TOKEN = "unit-test-auth-token"
PUBLIC = "https://hooks.example.test"
CUSTOMER = "+14155550123"


class FakeConsent:
    """Each number's consent, as the context service keeps it, and the languages known of
    the customer behind each."""

    def __init__(self) -> None:
        self.opted_out_numbers: set[str] = set()
        self.languages: dict[str, tuple[str, ...]] = {}
        self.available = True
        self.writes: list[tuple[str, bool]] = []

    def _check(self) -> None:
        if not self.available:
            raise DependencyUnavailableError("UNAVAILABLE: context is down")

    async def of(self, address: str) -> NumberConsent:
        self._check()
        return NumberConsent(address in self.opted_out_numbers, self.languages.get(address, ()))

    async def record(self, address: str, opted_out: bool) -> tuple[NumberConsent, bool]:
        self._check()
        changed = (address in self.opted_out_numbers) != opted_out
        self.writes.append((address, opted_out))
        (self.opted_out_numbers.add if opted_out else self.opted_out_numbers.discard)(address)
        return await self.of(address), changed


class HangingPublisher(FakePublisher):
    async def publish(self, topic: str, event: Message) -> None:
        await asyncio.sleep(60)


class FailingOncePublisher(FakePublisher):
    """Kafka down for the first publish, as when Twilio's webhook is answered 503."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def publish(self, topic: str, event: Message) -> None:
        if self.down:
            self.down = False
            raise DependencyUnavailableError("Kafka did not take the record")
        await super().publish(topic, event)


def settings(**overrides: object) -> SmsSettings:
    values: dict[str, object] = {
        "auth_token": TOKEN,
        "metrics_port": 0,
        "public_base_url": PUBLIC,
        "business_name": "Acme",
    }
    values.update(overrides)
    return SmsSettings(**values)  # type: ignore[arg-type]


Start = Callable[..., Coroutine[Any, Any, TestClient[Any, Any]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    clients: list[TestClient[Any, Any]] = []

    async def starting(
        publisher: FakePublisher, consent: FakeConsent, **overrides: object
    ) -> TestClient[Any, Any]:
        config = settings(**overrides)
        client = TestClient(
            TestServer(create_app(config, TwilioAdapter(config), publisher, consent))
        )
        await client.start_server()
        clients.append(client)
        return client

    yield starting
    for client in clients:
        await client.close()


async def post(
    client: TestClient[Any, Any],
    params: list[tuple[str, str]],
    *,
    path: str = "/twilio/sms",
    signed_url: str = PUBLIC + "/twilio/sms",
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    body, signed_headers = signed_webhook(signed_url, params, TOKEN)
    response = await client.post(path, data=body, headers={**signed_headers, **(headers or {})})
    return response.status, await response.text()


def inbound(publisher: FakePublisher) -> list[messages_pb2.MessageReceived]:
    return [e for t, e in publisher.published if t == INBOUND]  # type: ignore[misc]


async def test_stop_is_recorded_confirmed_and_still_published(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "Stop"))

    assert status == 200
    assert "<Message>Acme: you are unsubscribed" in text and "Reply START" in text
    assert consent.writes == [(CUSTOMER, True)]
    (event,) = inbound(publisher)
    assert (event.text, event.envelope.customer.address) == ("Stop", CUSTOMER)
    assert event.compliance_keyword == "stop"


async def test_a_second_stop_is_recorded_and_published_but_not_confirmed_again(
    start: Start,
) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    _, first = await post(client, inbound_params(CUSTOMER, "STOP"))
    status, second = await post(client, inbound_params(CUSTOMER, "stop"))

    assert "unsubscribed" in first
    assert status == 200 and "<Message>" not in second and "<Response />" in second
    assert consent.writes == [(CUSTOMER, True), (CUSTOMER, True)]
    assert [e.compliance_keyword for e in inbound(publisher)] == ["stop", "stop"]


async def test_start_from_a_number_that_never_opted_out_gets_no_confirmation(
    start: Start,
) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "START"))

    assert status == 200 and "<Message>" not in text
    (event,) = inbound(publisher)
    assert event.compliance_keyword == "start"  # still the channel's: the bot says nothing


async def test_a_replayed_help_is_answered_once_and_published_once(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)
    params = inbound_params(CUSTOMER, "HELP")

    _, first = await post(client, params)
    status, replayed = await post(client, params)  # Twilio's retry: the same MessageSid

    assert "<Message>Acme customer service" in first
    assert status == 200 and "<Message>" not in replayed
    (event,) = inbound(publisher)
    assert event.compliance_keyword == "help"


async def test_help_sent_twice_is_answered_twice(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    answers = [(await post(client, inbound_params(CUSTOMER, "help")))[1] for _ in range(2)]

    assert all("<Message>Acme customer service" in answer for answer in answers)
    assert len(inbound(publisher)) == 2


async def test_a_stop_answered_503_is_still_confirmed_when_twilio_retries(start: Start) -> None:
    publisher, consent = FailingOncePublisher(), FakeConsent()
    client = await start(publisher, consent)
    params = inbound_params(CUSTOMER, "STOP")

    refused, _ = await post(client, params)
    status, text = await post(client, params)  # the consent was already changed

    assert (refused, status) == (503, 200) and "unsubscribed" in text
    assert consent.writes == [(CUSTOMER, True)] * 2  # recorded again: what is confirmed is stored
    (event,) = inbound(publisher)
    assert event.compliance_keyword == "stop"


async def test_only_whole_message_keywords_are_marked_for_the_bot(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    await post(client, inbound_params(CUSTOMER, "please stop texting me"))
    await post(client, inbound_params(CUSTOMER, "where is my parcel?"))

    # An opt-out in plain words may say more ("...I can't take this anymore"): the bot
    # still reads it, even though the channel confirmed the opt-out.
    assert [e.compliance_keyword for e in inbound(publisher)] == ["", ""]


async def test_start_resubscribes(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.opted_out_numbers.add(CUSTOMER)
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "START"))

    assert status == 200 and "<Message>Acme: you are resubscribed" in text
    assert consent.writes == [(CUSTOMER, False)]


async def test_an_opt_out_in_plain_words_is_honoured_in_the_words_language(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.languages[CUSTOMER] = ("de",)  # what the message says wins over what is known
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "por favor deja de escribirme"))

    assert status == 200 and "<Message>Acme: te has dado de baja" in text
    assert "Responde START" in text
    assert consent.writes == [(CUSTOMER, True)]


async def test_keywords_are_answered_in_the_customers_known_language(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.languages[CUSTOMER] = ("it", "pt")  # Italian is not spoken by the voice
    client = await start(publisher, consent)

    answers = [
        (await post(client, inbound_params(CUSTOMER, text)))[1]
        for text in ("STOP", "START", "HELP")
    ]

    assert "Acme: seu descadastro foi feito" in answers[0] and "START" in answers[0]
    assert "Acme: seu cadastro foi reativado" in answers[1] and "STOP" in answers[1]
    assert "Atendimento ao cliente de Acme" in answers[2] and "STOP" in answers[2]


async def test_arret_is_canadas_french_stop_and_is_confirmed_in_french(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "Arrêt"))

    assert status == 200 and "Acme : votre désabonnement est confirmé" in text
    assert consent.writes == [(CUSTOMER, True)]
    (event,) = inbound(publisher)
    assert event.compliance_keyword == "stop"


async def test_yes_is_an_ordinary_answer_unless_the_number_opted_out(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "yes"))
    assert status == 200 and "<Message>" not in text and consent.writes == []

    consent.opted_out_numbers.add(CUSTOMER)
    status, text = await post(client, inbound_params(CUSTOMER, "yes"))
    assert status == 200 and "resubscribed" in text and consent.writes == [(CUSTOMER, False)]
    assert len(inbound(publisher)) == 2


async def test_help_is_answered_in_english_while_the_context_service_is_down(
    start: Start,
) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.languages[CUSTOMER] = ("es",)
    consent.available = False  # HELP changes nothing: it never waits for the context
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "HELP"))

    assert status == 200
    assert "<Message>Acme customer service: reply to this message to reach us." in text
    assert "Reply STOP" in text
    assert consent.writes == [] and len(inbound(publisher)) == 1


async def test_an_ordinary_message_gets_an_empty_twiml_answer(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.available = False  # ordinary messages never wait on the context service
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "where is my parcel?"))

    assert status == 200 and "<Response />" in text
    assert len(inbound(publisher)) == 1


async def test_stop_while_consent_cannot_be_recorded_is_503_and_not_published(
    start: Start,
) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    consent.available = False
    client = await start(publisher, consent)

    status, text = await post(client, inbound_params(CUSTOMER, "STOP"))

    assert status == 503 and "unsubscribed" not in text
    assert publisher.published == []


async def test_a_forged_stop_changes_nothing(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)
    body, headers = signed_webhook(PUBLIC + "/twilio/sms", inbound_params(CUSTOMER, "STOP"), "x")

    response = await client.post("/twilio/sms", data=body, headers=headers)

    assert response.status == 403
    assert consent.writes == [] and publisher.published == []


async def test_status_callbacks_are_published_as_delivery_updates(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)
    sid = message_sid()

    status, _ = await post(
        client,
        status_params(CUSTOMER, sid, "undelivered", "30003"),
        path="/twilio/status",
        signed_url=PUBLIC + "/twilio/status",
    )

    assert status == 200
    ((topic, event),) = publisher.published
    assert topic == DELIVERY
    assert isinstance(event, messages_pb2.MessageDeliveryUpdated)
    assert (event.provider_message_id, event.error_code) == (sid, "30003")
    assert event.state == messages_pb2.DELIVERY_STATE_UNDELIVERED


async def test_a_broker_that_hangs_gets_a_503_before_twilio_gives_up(start: Start) -> None:
    client = await start(HangingPublisher(), FakeConsent(), publish_timeout_seconds=0.2)

    status, _ = await post(client, inbound_params(CUSTOMER, "hello"))

    assert status == 503


async def test_healthz(start: Start) -> None:
    client = await start(FakePublisher(), FakeConsent())
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


# -- the URL Twilio signed, behind a TLS-terminating reverse proxy ---------------------------


async def test_the_configured_public_url_is_what_is_verified(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)
    internal = str(client.make_url("/twilio/sms?tenant=acme"))

    ok, _ = await post(
        client,
        inbound_params(CUSTOMER, "hi"),
        path="/twilio/sms?tenant=acme",
        signed_url=PUBLIC + "/twilio/sms?tenant=acme",
    )
    refused, _ = await post(
        client, inbound_params(CUSTOMER, "hi"), path="/twilio/sms?tenant=acme", signed_url=internal
    )

    assert (ok, refused) == (200, 403)


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.test"}


async def test_forwarded_headers_from_a_trusted_proxy_name_the_public_url(start: Start) -> None:
    client = await start(
        FakePublisher(), FakeConsent(), public_base_url="", trusted_proxies=("127.0.0.0/8",)
    )

    status, _ = await post(
        client,
        inbound_params(CUSTOMER, "hi"),
        signed_url="https://sms.example.test/twilio/sms",
        headers=FORWARDED,
    )

    assert status == 200


async def test_forwarded_headers_from_anyone_else_are_ignored(start: Start) -> None:
    publisher = FakePublisher()
    client = await start(
        publisher, FakeConsent(), public_base_url="", trusted_proxies=("10.0.0.0/8",)
    )

    status, _ = await post(
        client,
        inbound_params(CUSTOMER, "STOP"),
        signed_url="https://sms.example.test/twilio/sms",
        headers=FORWARDED,
    )

    assert status == 403 and publisher.published == []


# -- the guard and the responder on their own -----------------------------------------------


async def test_the_guard_refuses_the_opted_out_number_only() -> None:
    consent = FakeConsent()
    consent.opted_out_numbers.add(CUSTOMER)
    guard = opt_out_guard(consent)

    refusal = await guard(OutboundMessage("sms", CUSTOMER, "hi"))
    assert refusal is not None and refusal.code == RefusalCode.OPTED_OUT == "opted_out"
    assert "STOP" in refusal.text
    # Another number (of the same customer or not) is texted on its own consent.
    assert await guard(OutboundMessage("sms", "+14155550999", "hi")) is None


async def test_the_guard_never_lets_a_send_through_when_it_cannot_ask() -> None:
    consent = FakeConsent()
    consent.available = False
    with pytest.raises(DependencyUnavailableError):
        await opt_out_guard(consent)(OutboundMessage("sms", CUSTOMER, "hi"))


async def test_the_responder_leaves_ordinary_messages_alone() -> None:
    consent = FakeConsent()
    responder = ComplianceResponder(consent, settings())
    message = InboundMessage("sms", CUSTOMER, "stop by the store tomorrow?", message_sid())
    assert await responder.respond(message) is None
    assert consent.writes == []


# -- the pure decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("said_in", "known", "expected"),
    [
        ("fr", ("es", "de"), "fr"),  # the message's own language first (ARRET, words)
        ("", ("es", "de"), "es"),  # else the customer's preference, then the last written
        ("", ("pt-BR",), "pt"),  # a regional preference is its language
        ("", ("it", "de"), "de"),  # a language the voice does not speak is passed over
        ("", ("it",), "en"),  # else the voice's default
        ("", (), "en"),
        ("und", ("es",), "es"),  # nothing to tell from the message itself
    ],
)
def test_the_answer_language_is_the_messages_then_the_customers_then_english(
    said_in: str, known: tuple[str, ...], expected: str
) -> None:
    assert answer_language(said_in, known) == expected


@pytest.mark.parametrize(
    ("intent", "changed", "expected"),
    [
        (Intent.OPT_OUT, True, "opted_out"),
        (Intent.OPT_OUT, False, None),  # already opted out: nothing new to confirm
        (Intent.OPT_IN, True, "opted_in"),
        (Intent.OPT_IN, False, None),
        (Intent.HELP, False, "help"),  # answered every time
    ],
)
def test_a_number_gets_one_confirmation_per_change_of_its_own_state(
    intent: Intent, changed: bool, expected: str | None
) -> None:
    assert confirmation(intent, changed) == expected


async def test_start_from_one_number_leaves_another_numbers_stop_alone(start: Start) -> None:
    publisher, consent = FakePublisher(), FakeConsent()
    client = await start(publisher, consent)
    other = "+14155550999"

    _, stopped = await post(client, inbound_params(CUSTOMER, "STOP"))
    _, started = await post(client, inbound_params(other, "START"))  # was never opted out

    assert "unsubscribed" in stopped and "<Message>" not in started
    assert consent.writes == [(CUSTOMER, True), (other, False)]
    assert consent.opted_out_numbers == {CUSTOMER}
