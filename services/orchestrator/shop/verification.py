"""Whether an order's details may be told to the person asking: a pure decision.

An order is disclosed to whoever has *proven* the order's email or phone number (an SMS
or WhatsApp sender number, a verified linked identity), or has *typed* both the order's
email and one of its postal codes. Anything else asks for what is still missing, and
what it asks never depends on whether a typed value was right: a wrong guess gets the
same answer as no guess, so the check cannot be used to learn which detail was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from services.orchestrator.shop.order import Order, email_key, phone_key, postal_code_key

Proof = Literal["phone", "email", "email_and_postal_code"]
Need = Literal["email", "postal_code"]


@dataclass(frozen=True, slots=True)
class ProvenIdentity:
    """What the customer has shown about themselves.

    ``phones`` and ``emails`` are proven by the channel or a verified linked identity;
    proven phones are international (``+`` or ``00`` and the country code), as channels
    give them, and are never read in the order's country. ``given_email`` and
    ``given_postal_code`` are only what the customer typed in the conversation.
    """

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    given_email: str | None = None
    given_postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """The decision: ``allowed`` with the ``proof`` that allowed it, or what to ask for.

    ``attempt_failed`` says a typed email and postal code did not both match, without
    saying which; ``needs`` is then both again.
    """

    allowed: bool
    proof: Proof | None = None
    needs: tuple[Need, ...] = ()
    attempt_failed: bool = False


def _any_equal(wanted: str | None, candidates: Iterable[str | None]) -> bool:
    return wanted is not None and any(candidate == wanted for candidate in candidates)


def verify(order: Order, proven: ProvenIdentity) -> Verification:
    """May ``order`` be disclosed to the customer who proved ``proven``?"""
    if _any_equal(email_key(order.email), map(email_key, proven.emails)):
        return Verification(allowed=True, proof="email")
    order_phone = phone_key(order.phone, order.country)
    if _any_equal(order_phone, map(phone_key, proven.phones)):
        return Verification(allowed=True, proof="phone")
    email = email_key(proven.given_email)
    postal_code = postal_code_key(proven.given_postal_code)
    if email is None or postal_code is None:
        needs: list[Need] = []
        if email is None:
            needs.append("email")
        if postal_code is None:
            needs.append("postal_code")
        return Verification(allowed=False, needs=tuple(needs))
    postal_codes = (
        postal_code_key(order.billing_postal_code),
        postal_code_key(order.shipping_postal_code),
    )
    if email == email_key(order.email) and _any_equal(postal_code, postal_codes):
        return Verification(allowed=True, proof="email_and_postal_code")
    return Verification(allowed=False, needs=("email", "postal_code"), attempt_failed=True)
