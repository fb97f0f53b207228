"""Signed internal requests, the customers' rights request body, and whom the desk asks
the email adapter about."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk.email_rights import email_subject
from shared.channels.customer_rights import MAX_ITEMS, CustomerSubject
from shared.errors import InvalidInputError
from shared.media_links import signature as media_signature
from shared.signed_requests import (
    MAX_SKEW,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    RequestProblem,
    RequestSignatureError,
    signed_headers,
    verify_request,
)

KEY = b"the media signing key of the stack"
NOW = 1_800_000_000.0


def refused(headers: dict[str, str], body: bytes = b"{}", path: str = "/rights/erase") -> str:
    with pytest.raises(RequestSignatureError) as refusal:
        verify_request(KEY, "POST", path, headers, body, now=NOW)
    return refusal.value.problem


@given(st.binary(max_size=200), st.floats(min_value=-300, max_value=300))
def test_a_request_signed_within_the_skew_is_accepted(body: bytes, late: float) -> None:
    headers = signed_headers(KEY, "POST", "/rights/erase", body, now=NOW - late)
    verify_request(KEY, "post", "/rights/erase", headers, body, now=NOW)


def test_a_changed_body_path_method_key_or_time_is_refused() -> None:
    headers = signed_headers(KEY, "POST", "/rights/erase", b"{}", now=NOW)
    assert refused(headers, b'{"addresses":["x@y.example"]}') == RequestProblem.BAD_SIGNATURE
    assert refused(headers, path="/rights/export") == RequestProblem.BAD_SIGNATURE
    with pytest.raises(RequestSignatureError):
        verify_request(KEY, "PUT", "/rights/erase", headers, b"{}", now=NOW)
    other = signed_headers(KEY + b"!", "POST", "/rights/erase", b"{}", now=NOW)
    assert refused(other) == RequestProblem.BAD_SIGNATURE
    later = {**headers, TIMESTAMP_HEADER: str(int(NOW) + 1)}
    assert refused(later) == RequestProblem.BAD_SIGNATURE


def test_a_stale_or_future_request_is_refused_even_when_signed() -> None:
    skew = MAX_SKEW.total_seconds()
    for when in (NOW - skew - 1, NOW + skew + 1):
        headers = signed_headers(KEY, "POST", "/rights/erase", b"{}", now=when)
        assert refused(headers) == RequestProblem.STALE


def test_a_missing_or_malformed_header_is_unsigned() -> None:
    good = signed_headers(KEY, "POST", "/rights/erase", b"{}", now=NOW)
    assert refused({}) == RequestProblem.UNSIGNED
    assert refused({TIMESTAMP_HEADER: good[TIMESTAMP_HEADER]}) == RequestProblem.UNSIGNED
    assert refused({**good, TIMESTAMP_HEADER: "-5"}) == RequestProblem.UNSIGNED
    assert refused({**good, TIMESTAMP_HEADER: "9" * 13}) == RequestProblem.UNSIGNED


def test_a_media_link_signature_never_passes_as_a_request() -> None:
    """Both are HMACs under the same stack key: the derived key keeps them apart."""
    stamp = str(int(NOW))
    forged = media_signature(KEY, "POST\n/rights/erase\n" + stamp + "\n{}", int(NOW))
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: forged}
    assert refused(headers) == RequestProblem.BAD_SIGNATURE


@given(
    st.lists(st.text(min_size=1, max_size=30), max_size=5),
    st.lists(st.text(min_size=1, max_size=30), max_size=5),
    st.lists(st.text(min_size=1, max_size=30), max_size=5),
)
def test_a_subject_reads_back_from_its_body(
    addresses: list[str], conversations: list[str], files: list[str]
) -> None:
    subject = CustomerSubject(
        tuple(dict.fromkeys(addresses)),
        tuple(dict.fromkeys(conversations)),
        tuple(dict.fromkeys(files)),
    )
    assert CustomerSubject.from_body(subject.body()) == subject


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff",
        b"[]",
        b'{"names": []}',
        b'{"addresses": "ana@x.example"}',
        b'{"addresses": [""]}',
        b'{"conversation_ids": [7]}',
        b'{"attachments": ["' + b"x" * 4097 + b'"]}',
        b'{"addresses": [' + b",".join([b'"a"'] * (MAX_ITEMS + 1)) + b"]}",
    ],
)
def test_a_bad_body_is_refused_saying_why(body: bytes) -> None:
    with pytest.raises(InvalidInputError):
        CustomerSubject.from_body(body)


def record(*identities: tuple[envelope_pb2.Channel, str]) -> context_pb.CustomerRecord:
    customer = context_pb.Customer(
        identities=[context_pb.Identity(channel=c, address=a) for c, a in identities]
    )
    return context_pb.CustomerRecord(
        customer=customer, customer_ids=["cust-1"], conversation_ids=["c-sms", "c-mail"]
    )


def turn(channel: envelope_pb2.Channel, conversation: str, *references: str) -> context_pb.Turn:
    attachments = [envelope_pb2.Attachment(reference=r) for r in references]
    return context_pb.Turn(conversation_id=conversation, channel=channel, attachments=attachments)


def test_a_customer_who_never_wrote_by_email_needs_no_call() -> None:
    sms = (envelope_pb2.CHANNEL_SMS, "+447911123456")
    turns = [turn(envelope_pb2.CHANNEL_SMS, "c-sms", "https://api.twilio.com/media/1")]
    assert not email_subject(record(sms), turns)


def test_an_email_customer_is_named_by_addresses_conversations_and_email_files() -> None:
    email = envelope_pb2.CHANNEL_EMAIL
    subject = email_subject(
        record((envelope_pb2.CHANNEL_SMS, "+447911123456"), (email, "ana@customer.example")),
        [
            turn(envelope_pb2.CHANNEL_SMS, "c-sms", "https://api.twilio.com/media/1"),
            turn(email, "c-mail", "email:attachment/" + "a" * 64, ""),
        ],
    )
    assert subject == CustomerSubject(
        ("ana@customer.example",), ("c-sms", "c-mail"), ("email:attachment/" + "a" * 64,)
    )
    # Known by an email turn alone (their address since unlinked): still asked.
    assert email_subject(record(), [turn(email, "c-mail")])
