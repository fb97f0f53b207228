"""Both Twilio webhook endpoints under random bodies, headers and content types.

Half the requests carry a valid signature over whatever form the body decodes to, so the
fuzzing reaches parsing and the compliance path, not only the signature check. Whatever
arrives, the answer is 200 or a 4xx: never a 5xx, which Twilio would keep retrying.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.http_app import create_app
from services.sms_adapter.twilio import TwilioAdapter
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
)
FORM_BODY = st.lists(
    st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES), max_size=14
).map(lambda pairs: urlencode(pairs).encode())
# Twilio-shaped messages and status callbacks with fuzzed text and stray fields, so that
# many requests get past parsing into publishing and the compliance path.
TWILIO_FORM = st.builds(
    lambda text, extra, status, media: urlencode(
        [
            *(
                status_params("+14155550123", "SM" + "c" * 32, status)
                if status
                else inbound_params("+14155550123", text, media=media)
            ),
            *extra,
        ]
    ).encode(),
    st.one_of(st.sampled_from(["STOP", "yes", "HELP", "start", "stop texting me"]), st.text()),
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


def _client() -> TestClient[Any, Any]:
    config = SmsSettings(auth_token=TOKEN, metrics_port=0, public_base_url=PUBLIC)  # type: ignore[arg-type]
    app = create_app(config, TwilioAdapter(config), FakePublisher(), FakeConsent())
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
