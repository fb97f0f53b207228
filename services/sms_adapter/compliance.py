"""SMS consent: STOP/START/HELP answered and recorded on the webhook, opt-outs never sent to.

Carrier rules make SMS the one channel where a customer's message changes what we may
send: after STOP nothing more may go to that number until START. Consent is kept by the
context service (``Consent.sms_opted_out``), so this is the one place where the webhook
path calls another service before answering: the opt-out must be stored *before* the
texter gets "you have been unsubscribed", or a reply already queued by the orchestrator
could still go out. When the context service cannot be reached the webhook answers 503
and Twilio retries, rather than confirm something that was not recorded. Only those
messages pay that cost; every other webhook stays verify → publish → answer. The
keyword messages are still published as inbound events, so the conversation keeps them.

On the way out, :func:`opt_out_guard` asks the context service before every send, so
nothing reaches an opted-out number whatever the orchestrator asks for.
"""

from __future__ import annotations

import logging
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
    WebhookResponse,
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


class SmsConsent(Protocol):
    """Where SMS consent lives; :class:`ContextConsent` is the real one."""

    async def opted_out(self, address: str) -> bool: ...

    async def set_opted_out(self, address: str, opted_out: bool) -> None: ...


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

    async def set_opted_out(self, address: str, opted_out: bool) -> None:
        customer = await self._customer(address)
        await self._context.update_consent(customer.customer_id, sms_opted_out=opted_out)


def opt_out_guard(consent: SmsConsent) -> SendGuard:
    """Refuses every send to a number that opted out (errors propagate: no answer, no send)."""

    async def guard(message: OutboundMessage) -> Refusal | None:
        return OPTED_OUT if await consent.opted_out(message.address) else None

    return guard


class ComplianceResponder:
    """Records what a compliance message asks and says what to answer the texter."""

    def __init__(self, consent: SmsConsent, settings: SmsSettings) -> None:
        self._consent = consent
        self._help = settings.help_text
        self._opted_out = settings.opt_out_reply
        self._opted_in = settings.opt_in_reply

    async def respond(self, message: InboundMessage) -> str | None:
        """The confirmation to send back, once recorded; None for an ordinary message.

        Raises :class:`DependencyUnavailableError` when consent could not be recorded.
        """
        found = classify(message.text)
        if found is None:
            return None
        intent, word = found
        if intent is Intent.HELP:
            reply = self._help
        elif intent is Intent.OPT_OUT:
            await self._consent.set_opted_out(message.address, True)
            reply = self._opted_out
        else:
            if word in AMBIGUOUS_OPT_IN and not await self._consent.opted_out(message.address):
                return None  # an everyday "yes" from someone who never opted out
            await self._consent.set_opted_out(message.address, False)
            reply = self._opted_in
        COMPLIANCE_KEYWORDS.labels(intent.value).inc()
        log.info("sms %s recorded for message %s", intent.value, message.provider_message_id)
        return reply


def compliance_first(responder: ComplianceResponder) -> BeforePublish:
    """Record opt-outs and opt-ins before publishing; answer with the confirmations."""

    async def before_publish(parsed: ParsedWebhook) -> WebhookResponse | None:
        replies = []
        for message in parsed.messages:
            reply = await responder.respond(message)
            if reply is not None:
                replies.append(reply)
        return twiml(*replies) if replies else None

    return before_publish
