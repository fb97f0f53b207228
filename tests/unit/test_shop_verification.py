"""Who may be told an order's details: the pure decision and its comparisons."""

from __future__ import annotations

import itertools

import pytest

from services.orchestrator.shop.order import (
    Order,
    clean_reference,
    email_key,
    phone_key,
    postal_code_key,
)
from services.orchestrator.shop.verification import ProvenIdentity, Verification, verify

ORDER = Order(
    reference="#1001",
    status="shipped",
    email="Jane.Doe@Example.com",
    phone="06 12 34 56 78",
    billing_postal_code="75011",
    shipping_postal_code="SW1A 1AA",
    country="FR",
)


@pytest.mark.parametrize(
    "phone",
    ["+33612345678", "+33 6 12 34 56 78", "0033 6-12-34-56-78", "+33 (6) 12.34.56.78"],
)
def test_a_proven_phone_in_any_spelling_discloses(phone: str) -> None:
    decision = verify(ORDER, ProvenIdentity(phones=(phone,)))
    assert decision == Verification(allowed=True, proof="phone")


def test_a_national_number_is_read_in_the_orders_country() -> None:
    assert phone_key("06 12 34 56 78", "FR") == "+33612345678"
    assert phone_key("06 12 34 56 78", "fr") == "+33612345678"
    assert phone_key("06 12 34 56 78") is None  # no country: cannot be compared


def test_a_phone_is_never_matched_on_its_last_digits_or_an_other_country() -> None:
    for other in ("+44612345678", "+3361234567", "612345678", "+336123456789"):
        assert not verify(ORDER, ProvenIdentity(phones=(other,))).allowed, other


def test_an_order_without_phone_is_not_disclosed_to_a_phone_without_number() -> None:
    order = Order(reference="1", status="pending", phone=None)
    assert not verify(order, ProvenIdentity(phones=("",))).allowed
    assert not verify(order, ProvenIdentity(phones=("not a number",))).allowed


@pytest.mark.parametrize("email", ["jane.doe@example.com", "  JANE.DOE@EXAMPLE.COM "])
def test_a_proven_email_discloses_whatever_its_case(email: str) -> None:
    decision = verify(ORDER, ProvenIdentity(emails=("other@example.com", email)))
    assert decision == Verification(allowed=True, proof="email")


def test_an_empty_email_proves_nothing() -> None:
    order = Order(reference="1", status="pending", email="  ")
    assert not verify(order, ProvenIdentity(emails=("", " "))).allowed
    assert email_key("  ") is None


@pytest.mark.parametrize("postal_code", ["75011", "sw1a1aa", " SW1A 1AA "])
def test_the_orders_email_and_either_postal_code_disclose(postal_code: str) -> None:
    given = ProvenIdentity(given_email=" jane.doe@example.COM", given_postal_code=postal_code)
    assert verify(ORDER, given) == Verification(allowed=True, proof="email_and_postal_code")


def test_a_typed_email_alone_is_not_enough() -> None:
    decision = verify(ORDER, ProvenIdentity(given_email="jane.doe@example.com"))
    assert decision == Verification(allowed=False, needs=("postal_code",))


def test_a_typed_postal_code_alone_is_not_enough() -> None:
    decision = verify(ORDER, ProvenIdentity(given_postal_code="75011"))
    assert decision == Verification(allowed=False, needs=("email",))


def test_nothing_proven_asks_for_email_and_postal_code() -> None:
    assert verify(ORDER, ProvenIdentity()) == Verification(
        allowed=False, needs=("email", "postal_code")
    )


def test_a_typed_email_does_not_count_as_proven() -> None:
    """Typing the order's email is not owning it: it still takes the postal code."""
    assert not verify(ORDER, ProvenIdentity(given_email=ORDER.email)).allowed


def test_a_wrong_answer_never_says_which_value_was_wrong() -> None:
    right_email, right_code = "jane.doe@example.com", "75011"
    wrong_email, wrong_code = "someone@example.com", "99999"
    failed = [
        verify(ORDER, ProvenIdentity(given_email=email, given_postal_code=code))
        for email, code in [
            (right_email, wrong_code),
            (wrong_email, right_code),
            (wrong_email, wrong_code),
        ]
    ]
    assert all(decision == failed[0] for decision in failed)
    assert failed[0] == Verification(
        allowed=False, needs=("email", "postal_code"), attempt_failed=True
    )


def test_what_is_asked_for_depends_only_on_what_was_given() -> None:
    """A single typed value gets the same answer whether it is right or wrong."""
    for right, wrong, field in [
        ("jane.doe@example.com", "x@example.com", "given_email"),
        ("75011", "00000", "given_postal_code"),
    ]:
        assert verify(ORDER, ProvenIdentity(**{field: right})) == verify(
            ORDER, ProvenIdentity(**{field: wrong})
        )


def test_an_order_without_email_cannot_be_claimed_by_typing_nothing() -> None:
    order = Order(reference="1", status="pending", email=None, billing_postal_code="75011")
    decision = verify(order, ProvenIdentity(given_email=" ", given_postal_code="75011"))
    assert not decision.allowed
    assert decision.needs == ("email",)


def test_an_order_without_postal_code_cannot_be_claimed_by_email_and_blank() -> None:
    order = Order(reference="1", status="pending", email="a@example.com")
    for code in ("", "  "):
        decision = verify(
            order, ProvenIdentity(given_email="a@example.com", given_postal_code=code)
        )
        assert not decision.allowed


def test_every_combination_is_allowed_exactly_when_a_rule_holds() -> None:
    emails = (None, "jane.doe@example.com", "x@example.com")
    codes = (None, "75011", "11111")
    phones = ((), ("+33612345678",), ("+33700000000",))
    for email, code, phone, proven_email in itertools.product(emails, codes, phones, emails):
        proven = ProvenIdentity(
            phones=phone,
            emails=(proven_email,) if proven_email else (),
            given_email=email,
            given_postal_code=code,
        )
        expected = (
            proven_email == "jane.doe@example.com"
            or phone == ("+33612345678",)
            or (email == "jane.doe@example.com" and code == "75011")
        )
        decision = verify(ORDER, proven)
        assert decision.allowed is expected, proven
        assert (decision.needs == ()) is expected


def test_postal_codes_compare_without_case_or_spaces() -> None:
    assert postal_code_key(" sw1a 1aa ") == postal_code_key("SW1A1AA") == "SW1A1AA"
    assert postal_code_key("   ") is None


@pytest.mark.parametrize(
    ("given", "cleaned"),
    [("#1001", "1001"), (" 1001 ", "1001"), ("# WC-12", "WC-12"), ("ab_3", "ab_3")],
)
def test_references_are_cleaned(given: str, cleaned: str) -> None:
    assert clean_reference(given) == cleaned


@pytest.mark.parametrize("given", ["", "#", "../1001", "1001 OR 1", 'name:"x"', "1" * 65])
def test_text_that_cannot_be_a_reference_is_never_sent(given: str) -> None:
    assert clean_reference(given) is None
