"""Both Twilio webhook endpoints under random bodies, headers and content types.

Half the requests carry a valid signature over whatever form the body decodes to, so the
fuzzing reaches parsing and the compliance path, not only the signature check. Whatever
arrives, the answer is 200 or a 4xx: never a 5xx, which Twilio would keep retrying. Texts
carry control characters and bytes that are not UTF-8 (percent-encoded lone surrogates),
counts thousands of digits; a message is published exactly once, or refused with a 400
and nothing published.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rapport.events.v1 import messages_pb2

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.http_app import create_app
from services.sms_adapter.twilio import TwilioAdapter
from tests.edge_strategies import BLANK, HUGE_DIGITS, NOISE, SAID, Said, assert_clean
from tests.fakes.ports import FakePublisher
from tests.fakes.twilio_server import inbound_params, signature, status_params
from tests.unit.test_sms_compliance import FakeConsent

TOKEN = "fuzz-auth-token"
PUBLIC = "https://hooks.example.test"

NAMES = [
    "From",
    "To",
    "Body",
    "MessageSid",
    "SmsSid",
    "AccountSid",
    "MessagingServiceSid",
    "NumMedia",
    "MediaUrl0",
    "MediaContentType0",
    "MessageStatus",
    "ErrorCode",
]


def _form(pairs: list[tuple[str, str]]) -> bytes:
    """A form body; a lone surrogate travels as the bytes it would be (%ED%A0%80), not UTF-8."""
    return urlencode(pairs, errors="surrogatepass").encode()


def _without(params: list[tuple[str, str]], name: str) -> list[tuple[str, str]]:
    return [(key, value) for key, value in params if key != name]


VALUES = st.one_of(
    st.sampled_from(
        [
            "+14155550123",
            "STOP",
            "start",
            "HELP",
            "yes",
            "SM" + "a" * 32,
            "MM" + "b" * 32,
            "1",
            "11",
            "-1",
            "delivered",
            "failed",
            "queued",
            "https://api.twilio.com/media/1",
            "",
        ]
    ),
    st.text(max_size=40),
    NOISE,
    HUGE_DIGITS,
)
FORM_BODY = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES), max_size=14
).map(_form)
# Twilio-shaped messages and status callbacks with fuzzed text and stray fields, so that
# many requests get past parsing into publishing and the compliance path.
TWILIO_FORM = st.builds(
    lambda text, extra, status, media: _form(
        [
            *(
                status_params("+14155550123", "SM" + "c" * 32, status)
                if status
                else inbound_params("+14155550123", text, media=media)
            ),
            *extra,
        ]
    ),
    st.one_of(st.sampled_from(["STOP", "yes", "HELP", "start", "stop texting me"]), NOISE),
    st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=2),
    st.sampled_from(["", "", "delivered", "failed", "sending", "bogus"]),
    st.lists(
        st.tuples(st.sampled_from(["https://api.twilio.com/m/1", "ftp://x"]), st.text()),
        max_size=2,
    ).map(tuple),
)
BODY = st.one_of(TWILIO_FORM, FORM_BODY, st.binary(max_size=300))
CONTENT_TYPE = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
)
HEADER_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(["/twilio/sms", "/twilio/status", "/twilio/sms?x=1"]),
    body=BODY,
    content_type=CONTENT_TYPE,
    sign=st.booleans(),
    forged=HEADER_TEXT,
    forwarded=st.dictionaries(
        st.sampled_from(["X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For"]),
        HEADER_TEXT,
    ),
)
@example(  # a count of 5,000 digits is more than int() takes
    path="/twilio/sms",
    body=_form(
        [*_without(inbound_params("+14155550123", "hi"), "NumMedia"), ("NumMedia", "9" * 5000)]
    ),
    content_type="application/x-www-form-urlencoded",
    sign=True,
    forged="",
    forwarded={},
)
def test_webhooks_answer_200_or_4xx_whatever_they_get(
    path: str,
    body: bytes,
    content_type: str,
    sign: bool,
    forged: str,
    forwarded: dict[str, str],
) -> None:
    headers = {**forwarded, "X-Twilio-Signature": forged}
    if content_type:
        headers["Content-Type"] = content_type
    if sign:
        try:
            params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            params = []
        headers["X-Twilio-Signature"] = signature(PUBLIC + path, params, TOKEN)
    status = RUNNER.run(CLIENT.post(path, data=body, headers=headers)).status
    assert status == 200 or 400 <= status < 500, status


def _signed(path: str, body: bytes) -> dict[str, str]:
    """The headers Twilio sends: its signature over the form as the server decodes it."""
    params = parse_qsl(body.decode("ascii"), keep_blank_values=True)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature(PUBLIC + path, params, TOKEN),
    }


VALID_NUMBERS = ["+14155550123", "+447911123456", "+4915112345678"]
IMPOSSIBLE_NUMBERS = ["+10000000", "+15551234567", "+999", "4155550123", "+1415555012345678"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    said=st.one_of(SAID, BLANK.map(lambda blank: Said(blank, ""))),
    sender=st.sampled_from(VALID_NUMBERS + IMPOSSIBLE_NUMBERS),
    num_media=st.one_of(st.just("0"), HUGE_DIGITS),
)
@example(said=Said("hello", "hello"), sender="+14155550123", num_media="9" * 5000)
@example(said=Said(" \t\x00 ", ""), sender="+14155550123", num_media="0")
@example(said=Said("hello", "hello"), sender="+10000000", num_media="0")
def test_an_sms_is_published_once_or_refused_with_a_400(
    said: Said, sender: str, num_media: str
) -> None:
    params = [
        *_without(inbound_params(sender, said.text, sid="SM" + uuid.uuid4().hex), "NumMedia"),
        ("NumMedia", num_media),
    ]
    body = _form(params)
    valid = bool(said.word) and sender in VALID_NUMBERS and num_media == "0"
    PUBLISHER.published.clear()
    for _ in range(2):  # Twilio retries what it did not see answered
        status = RUNNER.run(
            CLIENT.post("/twilio/sms", data=body, headers=_signed("/twilio/sms", body))
        ).status
        assert status == (200 if valid else 400)
    events = [e for t, e in PUBLISHER.published if isinstance(e, messages_pb2.MessageReceived)]
    assert len(events) == (1 if valid else 0)
    for event in events:
        assert said.word in event.text and event.envelope.customer.address == sender
        assert_clean(event.text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from(["delivered", "failed", "undelivered"]),
    to=st.sampled_from(VALID_NUMBERS + IMPOSSIBLE_NUMBERS),
    error=NOISE,
)
def test_a_status_callback_is_published_once_or_refused_with_a_400(
    status: str, to: str, error: str
) -> None:
    sid = "SM" + uuid.uuid4().hex
    body = _form([*status_params(to, sid, status), ("ErrorMessage", error)])
    valid = to in VALID_NUMBERS
    PUBLISHER.published.clear()
    for _ in range(2):
        answer = RUNNER.run(
            CLIENT.post("/twilio/status", data=body, headers=_signed("/twilio/status", body))
        )
        assert answer.status == (200 if valid else 400)
    updates = [
        e for t, e in PUBLISHER.published if isinstance(e, messages_pb2.MessageDeliveryUpdated)
    ]
    assert [u.provider_message_id for u in updates] == ([sid] if valid else [])
    for update in updates:
        assert_clean(update.error_message)


PUBLISHER = FakePublisher()


def _client() -> TestClient[Any, Any]:
    config = SmsSettings(auth_token=TOKEN, metrics_port=0, public_base_url=PUBLIC)  # type: ignore[arg-type]
    app = create_app(config, TwilioAdapter(config), PUBLISHER, FakeConsent())
    return TestClient(TestServer(app))


RUNNER: asyncio.Runner
CLIENT: TestClient[Any, Any]


def setup_module() -> None:
    global RUNNER, CLIENT
    RUNNER = asyncio.Runner()
    CLIENT = RUNNER.run(_make())


async def _make() -> TestClient[Any, Any]:
    client = _client()
    await client.start_server()
    return client


def teardown_module() -> None:
    RUNNER.run(CLIENT.close())
    RUNNER.close()
