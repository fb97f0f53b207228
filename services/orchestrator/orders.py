"""What the bot makes of an order the shop was asked about. Pure: the handler asks the
shop (``shop/``) and hands the answer here.

An order's details go only to a customer who proved it is theirs (``shop.verification``):
a phone number they write from or have verified that the order carries, or the order's
email and postal code typed in the conversation. Otherwise the bot asks for those two;
a wrong guess is told apart from no guess only as "could not confirm", never which
detail was wrong. A shop that cannot answer gets an honest sentence and a person.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from rapport.common.v1 import envelope_pb2

from services.orchestrator.dialogue import (
    EMAIL,
    ORDER_NOT_FOUND,
    ORDER_NOT_VERIFIED,
    ORDER_UNVERIFIED,
    POSTAL_CODE,
)
from services.orchestrator.shop.order import Order
from services.orchestrator.shop.verification import ProvenIdentity, verify
from shared.channel_names import PHONE_CHANNELS
from shared.voice.replies import VOICE

LOOKUP_INTENTS = frozenset({"track_order", "delivery_period", "track_refund"})
"""The requests an order's status in the shop answers."""

FOUND = "found"  # verified: the status is told
UNVERIFIED = ORDER_UNVERIFIED  # the order's email and postal code are asked for
NOT_VERIFIED = ORDER_NOT_VERIFIED  # the details given did not match: nothing told
NOT_FOUND = ORDER_NOT_FOUND
UNAVAILABLE = "unavailable"  # the shop could not say
MAX_FAILED_CHECKS = 3
"""Typed order details that did not match, per conversation, before they open nothing."""


@dataclass(frozen=True, slots=True)
class ShopAnswer:
    """What the shop said when asked for ``reference``: the order, none, or nothing at
    all (``unavailable``)."""

    reference: str
    order: Order | None
    unavailable: bool = False


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    outcome: str  # one of the constants above
    order: Order | None  # only when FOUND: what may be told


def proven_identity(
    channel: envelope_pb2.Channel,
    address: str,
    identities: Iterable[tuple[envelope_pb2.Channel, str, bool]],
    slots: Mapping[str, str],
) -> ProvenIdentity:
    """What the customer has shown: the phone they write from (a channel that proves
    it), their verified phone identities, and the email and postal code they typed."""
    phones = [address] if channel in PHONE_CHANNELS else []
    phones += [a for c, a, verified in identities if verified and c in PHONE_CHANNELS]
    return ProvenIdentity(
        phones=tuple(dict.fromkeys(phones)),
        given_email=slots.get(EMAIL) or None,
        given_postal_code=slots.get(POSTAL_CODE) or None,
    )


def order_outcome(
    answer: ShopAnswer, proven: ProvenIdentity, *, attempts_left: bool = True
) -> OrderOutcome:
    """What the bot may say of the order. Once typed details have failed to match
    ``MAX_FAILED_CHECKS`` times in a conversation, typed details open nothing (no
    guessing an email and postal code by trying); a proven phone still does."""
    if answer.unavailable:
        return OrderOutcome(UNAVAILABLE, None)
    if answer.order is None:
        return OrderOutcome(NOT_FOUND, None)
    if not attempts_left:
        proven = replace(proven, given_email=None, given_postal_code=None)
    verification = verify(answer.order, proven)
    if verification.allowed:
        return OrderOutcome(FOUND, answer.order)
    failed = verification.attempt_failed or not attempts_left
    return OrderOutcome(NOT_VERIFIED if failed else UNVERIFIED, None)


def order_answer(language: str, outcome: OrderOutcome, reference: str) -> str:
    """The bot's sentences on the order, in ``language``."""
    sentences = VOICE.order_sentences(language)
    if outcome.order is None:
        said = {
            UNVERIFIED: sentences.verify,
            NOT_VERIFIED: sentences.not_verified,
            NOT_FOUND: sentences.not_found,
            UNAVAILABLE: sentences.unavailable,
        }[outcome.outcome]
        return said.format(order_reference=reference)
    order = outcome.order
    parts = [sentences.status[order.status].format(order_reference=reference)]
    if order.status == "shipped" and order.carrier and order.tracking_number:
        parts.append(
            sentences.tracking.format(carrier=order.carrier, tracking_number=order.tracking_number)
        )
    if order.status == "shipped" and order.tracking_url:
        parts.append(sentences.tracking_link.format(tracking_url=order.tracking_url))
    return " ".join(parts)
