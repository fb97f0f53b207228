"""SMS consent: STOP/START/HELP answered and recorded on the webhook, opt-outs never sent to.

Carrier rules make SMS the one channel where a customer's message changes what we may
send: after STOP nothing more may go to that number until START. Consent is kept by the
context service (``Consent.sms_opted_out``), so this is the one place where the webhook
path calls another service before answering: the opt-out must be stored *before* the
texter gets "you have been unsubscribed", or a reply already queued by the orchestrator
could still go out. When the context service cannot be reached the webhook answers 503
and Twilio retries, rather than confirm something that was not recorded. Only those
messages pay that cost; every other webhook stays verify → publish → answer. The
keyword messages are still published as inbound events, so the conversation keeps them,
marked with ``compliance_keyword`` so that the bot says nothing more.

Each is confirmed once per change of state: STOP from a number already opted out, or
START from one that is not, is recorded and published but gets no confirmation; HELP is
answered every time it is sent. A retry of a webhook already published never gets here
(the shared intake drops it), so a replayed MessageSid is silent.

On the way out, :func:`opt_out_guard` asks the context service before every send, so
nothing reaches an opted-out number whatever the orchestrator asks for.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.keywords import AMBIGUOUS_OPT_IN, Intent, classify
from services.sms_adapter.metrics import COMPLIANCE_KEYWORDS
from services.sms_adapter.twilio import twiml
from shared.channels.adapter import (
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
)
from shared.channels.outbound import Refusal, RefusalCode, SendGuard
from shared.channels.webhooks import BeforePublish
from shared.grpc.context_client import ContextClient

log = logging.getLogger(__name__)

OPTED_OUT = Refusal(
    RefusalCode.OPTED_OUT,
    "The customer opted out of SMS (replied STOP): nothing may be texted to them "
    "until they reply START.",
)

KEYWORD_NAMES = {Intent.OPT_OUT: "stop", Intent.OPT_IN: "start", Intent.HELP: "help"}
"""What ``MessageReceived.compliance_keyword`` says for each intent."""

ANSWERS_REMEMBERED = 10_000


class SmsConsent(Protocol):
    """Where SMS consent lives; :class:`ContextConsent` is the real one."""

    async def opted_out(self, address: str) -> bool: ...

    async def set_opted_out(self, address: str, opted_out: bool) -> bool:
        """Record the number's consent; whether it was opted out before."""
        ...


class ContextConsent:
    """SMS consent kept by the context service."""

    def __init__(self, context: ContextClient) -> None:
        self._context = context

    async def _customer(self, address: str) -> context_pb.Customer:
        seen_at = Timestamp()
        seen_at.FromDatetime(datetime.now(UTC))
        return await self._context.resolve_customer(envelope_pb2.CHANNEL_SMS, address, "", seen_at)

    async def opted_out(self, address: str) -> bool:
        return bool((await self._customer(address)).consent.sms_opted_out)

    async def set_opted_out(self, address: str, opted_out: bool) -> bool:
        customer = await self._customer(address)
        await self._context.update_consent(customer.customer_id, sms_opted_out=opted_out)
        return bool(customer.consent.sms_opted_out)


def opt_out_guard(consent: SmsConsent) -> SendGuard:
    """Refuses every send to a number that opted out (errors propagate: no answer, no send)."""

    async def guard(message: OutboundMessage) -> Refusal | None:
        return OPTED_OUT if await consent.opted_out(message.address) else None

    return guard


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
        self._help = settings.help_text
        self._opted_out = settings.opt_out_reply
        self._opted_in = settings.opt_in_reply
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
        intent, word = found
        if intent is Intent.HELP:
            confirmation: str | None = self._help
        elif intent is Intent.OPT_OUT:
            was_out = await self._consent.set_opted_out(message.address, True)
            confirmation = None if was_out else self._opted_out
        else:
            if word in AMBIGUOUS_OPT_IN and not await self._consent.opted_out(message.address):
                return None  # an everyday "yes" from someone who never opted out
            was_out = await self._consent.set_opted_out(message.address, False)
            confirmation = self._opted_in if was_out else None
        COMPLIANCE_KEYWORDS.labels(intent.value).inc()
        log.info(
            "sms %s recorded for message %s (%s)",
            intent.value,
            message.provider_message_id,
            "confirmed" if confirmation else "nothing changed, not confirmed",
        )
        return Answer(confirmation, KEYWORD_NAMES[intent] if word else "")


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
