"""SMS consent: STOP/START/HELP answered and recorded on the webhook, opt-outs never sent to.

Carrier rules make SMS the one channel where a customer's message changes what we may
send: after STOP nothing more may go to that number until START from it. Consent is kept
by the context service per number (``Identity.opted_out``, ``UpdateAddressConsent``):
STOP from one number is never undone by START from another of the same customer, linked
or merged. This is the one place where the webhook path calls another service before
answering: the opt-out must be stored *before* the texter gets "you are unsubscribed",
or a reply already queued by the orchestrator could still go out. When the context
service cannot be reached the webhook answers 503 and Twilio retries, rather than
confirm something that was not recorded. Only those messages pay that cost; every other
webhook stays verify → publish → answer. The keyword messages are still published as
inbound events, so the conversation keeps them, marked with ``compliance_keyword`` so
that the bot says nothing more.

Each is confirmed once per change of state: STOP from a number already opted out, or
START from one that is not, is recorded and published but gets no confirmation; HELP is
answered every time it is sent. A retry of a webhook already published never gets here
(the shared intake drops it), so a replayed MessageSid is silent. The answers are the
brand voice's (``shared/voice``), signed with the business's name, in the language of
the message when it is in one, else the customer's (:func:`answer_language`).

On the way out, :func:`opt_out_guard` asks the context service about the number being
texted before every send, so nothing reaches an opted-out number whatever the
orchestrator asks for.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1.envelope_pb2 import CHANNEL_SMS
from rapport.context.v1 import context_service_pb2 as context_pb

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.keywords import AMBIGUOUS_OPT_IN, Intent, Request, classify
from services.sms_adapter.metrics import COMPLIANCE_KEYWORDS
from services.sms_adapter.twilio import twiml
from shared.channels.adapter import (
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
)
from shared.channels.outbound import Refusal, RefusalCode, SendGuard
from shared.channels.webhooks import BeforePublish
from shared.errors import DependencyUnavailableError
from shared.grpc.context_client import ContextClient
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)

OPTED_OUT = Refusal(
    RefusalCode.OPTED_OUT,
    "This number opted out of SMS (replied STOP): nothing may be texted to it until it "
    "replies START.",
)

KEYWORD_NAMES = {Intent.OPT_OUT: "stop", Intent.OPT_IN: "start", Intent.HELP: "help"}
"""What ``MessageReceived.compliance_keyword`` says for each intent."""

ANSWERS_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class NumberConsent:
    """One number's own consent, and the languages known of the customer behind it (their
    preference, then the one they last wrote in)."""

    opted_out: bool
    languages: tuple[str, ...] = ()


class SmsConsent(Protocol):
    """Where each number's SMS consent lives; :class:`ContextConsent` is the real one."""

    async def of(self, address: str) -> NumberConsent: ...

    async def record(self, address: str, opted_out: bool) -> tuple[NumberConsent, bool]:
        """Record what the number asked; its consent after, and whether that changed."""
        ...


class ContextConsent:
    """SMS consent kept by the context service, per number."""

    def __init__(self, context: ContextClient) -> None:
        self._context = context

    async def of(self, address: str) -> NumberConsent:
        found = await self._context.resolve_address(CHANNEL_SMS, address, "", _now())
        return _number(found.customer, found.identity)

    async def record(self, address: str, opted_out: bool) -> tuple[NumberConsent, bool]:
        done = await self._context.update_address_consent(
            CHANNEL_SMS, address, opted_out=opted_out, seen_at=_now()
        )
        return _number(done.customer, done.identity), done.changed


def _now() -> Timestamp:
    moment = Timestamp()
    moment.FromDatetime(datetime.now(UTC))
    return moment


def _number(customer: context_pb.Customer, identity: context_pb.Identity) -> NumberConsent:
    known = (customer.preferred_language, customer.last_language)
    return NumberConsent(identity.opted_out, tuple(language for language in known if language))


def opt_out_guard(consent: SmsConsent) -> SendGuard:
    """Refuses every send to a number that opted out (errors propagate: no answer, no send)."""

    async def guard(message: OutboundMessage) -> Refusal | None:
        return OPTED_OUT if (await consent.of(message.address)).opted_out else None

    return guard


def answer_language(said_in: str, known: Sequence[str]) -> str:
    """The language to answer a compliance message in: the message's own when it is in one
    (ARRET, an opt-out in words), else the first the customer is known by that the voice
    speaks, else the voice's default."""
    for language in (said_in, *known):
        used, fallback = VOICE.resolve(language)
        if language and not fallback:
            return used
    return VOICE.default_language


def confirmation(intent: Intent, changed: bool) -> str | None:
    """Which of the voice's SMS answers a request gets (an SMS_TEXTS key): HELP each time,
    STOP and START only when they changed the number's consent; None for no answer."""
    if intent is Intent.HELP:
        return "help"
    if not changed:
        return None
    return "opted_out" if intent is Intent.OPT_OUT else "opted_in"


@dataclass(frozen=True, slots=True)
class Answer:
    """What a compliance message gets: the confirmation to text back (None: nothing
    changed, so nothing to confirm) and the keyword its event is marked with ("" for an
    opt-out in plain words, which the bot still reads: it may say more than "stop")."""

    confirmation: str | None
    keyword: str


class ComplianceResponder:
    """Records what a compliance message asks and says what to answer the texter.

    The answer first worked out for a MessageSid is remembered (the last
    :data:`ANSWERS_REMEMBERED`, in this process only): Twilio retries a webhook answered
    503 (Kafka was down) after the consent was already changed, and the texter, who never
    got the confirmation, gets it then rather than silence. The consent is recorded again
    on every attempt, so what is confirmed is always what is stored.
    """

    def __init__(self, consent: SmsConsent, settings: SmsSettings) -> None:
        self._consent = consent
        self._business = settings.business_name
        self._answers: OrderedDict[str, Answer] = OrderedDict()

    async def respond(self, message: InboundMessage) -> Answer | None:
        """The answer, once recorded; None for an ordinary message.

        Raises :class:`DependencyUnavailableError` when consent could not be recorded.
        """
        answer = await self._work_out(message)  # recorded again on a retry: harmless
        remembered = self._answers.get(message.provider_message_id)
        if remembered is not None:
            return remembered
        if answer is not None:
            self._remember(message.provider_message_id, answer)
        return answer

    def _remember(self, message_id: str, answer: Answer) -> None:
        self._answers[message_id] = answer
        if len(self._answers) > ANSWERS_REMEMBERED:
            self._answers.popitem(last=False)

    async def _work_out(self, message: InboundMessage) -> Answer | None:
        found = classify(message.text)
        if found is None:
            return None
        if found.intent is Intent.HELP:
            known, changed = await self._languages_for_help(message.address), False
        else:
            recorded = await self._record(found, message.address)
            if recorded is None:
                return None  # an everyday "yes" from a number that never opted out
            known, changed = recorded[0].languages, recorded[1]
        key = confirmation(found.intent, changed)
        text = None
        if key is not None:
            language = answer_language(found.language, known)
            text = VOICE.sms_text(language, key, self._business).text
        COMPLIANCE_KEYWORDS.labels(found.intent.value).inc()
        log.info(
            "sms %s recorded for message %s (%s)",
            found.intent.value,
            message.provider_message_id,
            "confirmed" if text else "nothing changed, not confirmed",
        )
        return Answer(text, KEYWORD_NAMES[found.intent] if found.keyword else "")

    async def _record(self, found: Request, address: str) -> tuple[NumberConsent, bool] | None:
        """Record an opt-out or opt-in of the number; None for a YES from a number that is
        not opted out, which opts nothing in."""
        if found.keyword in AMBIGUOUS_OPT_IN and not (await self._consent.of(address)).opted_out:
            return None
        return await self._consent.record(address, found.intent is Intent.OPT_OUT)

    async def _languages_for_help(self, address: str) -> tuple[str, ...]:
        """The customer's known languages, to answer HELP in. HELP changes nothing, so it is
        answered (in the default language) even while the context service is unreachable."""
        try:
            return (await self._consent.of(address)).languages
        except DependencyUnavailableError as exc:
            log.warning("answering HELP in the default language: %s", exc)
            return ()


def compliance_first(responder: ComplianceResponder) -> BeforePublish:
    """Record opt-outs and opt-ins before publishing; mark the keywords, answer with the
    confirmations (an empty TwiML answer when there is nothing new to confirm)."""

    async def before_publish(parsed: ParsedWebhook) -> ParsedWebhook:
        messages, confirmations = [], []
        for message in parsed.messages:
            answer = await responder.respond(message)
            if answer is not None:
                message = replace(message, compliance_keyword=answer.keyword)
                if answer.confirmation is not None:
                    confirmations.append(answer.confirmation)
            messages.append(message)
        reply = twiml(*confirmations) if confirmations else parsed.reply
        return replace(parsed, messages=tuple(messages), reply=reply)

    return before_publish
