"""The Twilio adapter: signatures, what webhooks say, and sends against a local fake Twilio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import pytest

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.twilio import TwilioAdapter
from shared.channels.adapter import (
    Attachment,
    AttachmentKind,
    DeliveryState,
    OutboundMessage,
    SendError,
    SignatureError,
    TemporarySendError,
    WebhookRequest,
)
from shared.channels.admission import admit
from shared.errors import InvalidInputError
from tests.fakes.twilio_server import (
    FORM,
    FakeTwilio,
    inbound_params,
    message_sid,
    signature,
    signed_webhook,
    status_params,
)

SID = "AC" + "ab" * 16
TOKEN = "unit-test-auth-token"
URL = "https://hooks.example.test/twilio/sms"
CUSTOMER = "+14155550123"
POOL = "MG" + "cd" * 16


def settings(**overrides: object) -> SmsSettings:
    values: dict[str, object] = {"account_sid": SID, "auth_token": TOKEN, "metrics_port": 0}
    values.update(overrides)
    return SmsSettings(**values)  # type: ignore[arg-type]


def hook(
    url: str, body: bytes, headers: dict[str, str], content_type: str = FORM
) -> WebhookRequest:
    lowered = {k.lower(): v for k, v in headers.items()}
    lowered["content-type"] = content_type
    return WebhookRequest("POST", url, lowered, body)


def signed(url: str, params: list[tuple[str, str]], token: str = TOKEN) -> WebhookRequest:
    body, headers = signed_webhook(url, params, token)
    return hook(url, body, headers)


ADAPTER = TwilioAdapter(settings())


# -- signatures ---------------------------------------------------------------------------


def test_a_request_twilio_signed_is_accepted() -> None:
    ADAPTER.verify(signed(URL, inbound_params(CUSTOMER, "hello")))


def test_a_query_string_is_part_of_what_is_signed() -> None:
    url = URL + "?tenant=acme&region=eu"
    ADAPTER.verify(signed(url, inbound_params(CUSTOMER, "hello")))
    request = signed(url, inbound_params(CUSTOMER, "hello"))
    with pytest.raises(SignatureError):
        ADAPTER.verify(WebhookRequest("POST", URL + "?tenant=other", request.headers, request.body))


def test_messaging_service_numbers_are_accepted_whatever_the_to_number() -> None:
    for pool_number in ("+15005550006", "+15005550001", "+447700900123"):
        params = inbound_params(CUSTOMER, "hi", to=pool_number, messaging_service_sid=POOL)
        ADAPTER.verify(signed(URL, params))


def test_twilio_may_sign_with_the_default_port_in_the_url() -> None:
    params = inbound_params(CUSTOMER, "hello")
    body, headers = signed_webhook("https://hooks.example.test:443/twilio/sms", params, TOKEN)
    ADAPTER.verify(hook(URL, body, headers))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Twilio-Signature": ""},
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Twilio-Signature": "not base64 at all ü"},
    ],
)
def test_a_missing_or_forged_signature_is_refused(headers: dict[str, str]) -> None:
    body = urlencode(inbound_params(CUSTOMER, "hello")).encode()
    with pytest.raises(SignatureError):
        ADAPTER.verify(hook(URL, body, headers))


def test_a_signature_made_with_another_token_is_refused() -> None:
    with pytest.raises(SignatureError):
        ADAPTER.verify(signed(URL, inbound_params(CUSTOMER, "hello"), token="someone-else"))


def test_a_signature_replayed_with_another_body_is_refused() -> None:
    original = signed(URL, inbound_params(CUSTOMER, "hello", sid=message_sid()))
    tampered = urlencode(inbound_params(CUSTOMER, "STOP")).encode()
    with pytest.raises(SignatureError):
        ADAPTER.verify(WebhookRequest("POST", URL, original.headers, tampered))


def test_a_signature_for_another_url_is_refused() -> None:
    request = signed("https://evil.example.test/twilio/sms", inbound_params(CUSTOMER, "hi"))
    with pytest.raises(SignatureError):
        ADAPTER.verify(WebhookRequest("POST", URL, request.headers, request.body))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    params = inbound_params(CUSTOMER, "hello")
    headers = {"X-Twilio-Signature": signature(URL, params, TOKEN)}
    with pytest.raises(SignatureError):
        ADAPTER.verify(hook(URL, b"Body=\xff\xfe", headers))


# -- parsing ------------------------------------------------------------------------------


def test_an_sms_becomes_an_inbound_message_from_the_sender() -> None:
    sid = message_sid()
    parsed = ADAPTER.parse(signed(URL, inbound_params(CUSTOMER, "Where is my parcel?", sid=sid)))
    (message,) = parsed.messages
    assert (message.channel, message.address, message.text) == (
        "sms",
        CUSTOMER,
        "Where is my parcel?",
    )
    assert message.provider_message_id == sid
    assert parsed.statuses == ()
    assert parsed.reply.status == 200
    assert parsed.reply.content_type == "text/xml"
    assert b"<Response />" in parsed.reply.body


def test_an_mms_keeps_its_media_typed_by_its_mime_type() -> None:
    base = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media"
    media = (
        (f"{base}/ME1", "image/jpeg"),
        (f"{base}/ME2", "audio/amr"),
        (f"{base}/ME3", "video/3gpp"),
        (f"{base}/ME4", "text/vcard"),
    )
    parsed = ADAPTER.parse(signed(URL, inbound_params(CUSTOMER, "", media=media)))
    (message,) = parsed.messages
    assert message.attachments == (
        Attachment(f"{base}/ME1", AttachmentKind.IMAGE, "image/jpeg"),
        Attachment(f"{base}/ME2", AttachmentKind.AUDIO, "audio/amr"),
        Attachment(f"{base}/ME3", AttachmentKind.VIDEO, "video/3gpp"),
        Attachment(f"{base}/ME4", AttachmentKind.FILE, "text/vcard"),
    )
    assert message.text == ""


def test_a_caption_less_photo_is_admitted_as_an_image() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    parsed = ADAPTER.parse(signed(URL, inbound_params(CUSTOMER, "", media=((url, "image/png"),))))
    admitted = admit(parsed, max_text_chars=1600)
    assert admitted.rejections == ()
    [message] = admitted.webhook.messages
    assert message.attachments == (Attachment(url, AttachmentKind.IMAGE, "image/png"),)


def test_the_sms_sid_stands_in_for_a_missing_message_sid() -> None:
    sid = message_sid()
    params = [(k, v) for k, v in inbound_params(CUSTOMER, "hi", sid=sid) if k != "MessageSid"]
    (message,) = ADAPTER.parse(signed(URL, params)).messages
    assert message.provider_message_id == sid


@pytest.mark.parametrize(
    ("status", "error_code", "state"),
    [
        ("sent", "", DeliveryState.SENT),
        ("delivered", "", DeliveryState.DELIVERED),
        ("undelivered", "30003", DeliveryState.UNDELIVERED),
        ("failed", "30008", DeliveryState.FAILED),
    ],
)
def test_status_callbacks_become_status_updates(
    status: str, error_code: str, state: DeliveryState
) -> None:
    sid = message_sid()
    parsed = ADAPTER.parse(signed(URL, status_params(CUSTOMER, sid, status, error_code)))
    assert parsed.messages == ()
    (update,) = parsed.statuses
    assert (update.address, update.provider_message_id, update.state) == (CUSTOMER, sid, state)
    assert update.error_code == error_code


@pytest.mark.parametrize("status", ["queued", "sending", "accepted"])
def test_statuses_of_a_message_still_on_its_way_are_not_reported(status: str) -> None:
    parsed = ADAPTER.parse(signed(URL, status_params(CUSTOMER, message_sid(), status)))
    assert parsed.statuses == () and parsed.messages == ()


def _without(params: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params if k not in names]


def _with(params: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [*_without(params, name), (name, value)]


BASE = inbound_params(CUSTOMER, "hello")


@pytest.mark.parametrize(
    "params",
    [
        _without(BASE, "From"),
        _with(BASE, "From", "4155550123"),
        _with(BASE, "From", "whatsapp:+14155550123"),
        _without(BASE, "MessageSid", "SmsSid"),
        _with(_without(BASE, "SmsSid"), "MessageSid", "not-a-sid"),
        _with(BASE, "NumMedia", "two"),
        _with(BASE, "NumMedia", "1"),
        _with(BASE, "NumMedia", "11"),
        _with(BASE, "Body", ""),
        _with(BASE, "Body", "x" * 1601),
        _with(BASE, "MessageStatus", "exploded"),
    ],
)
def test_malformed_webhooks_are_refused(params: list[tuple[str, str]]) -> None:
    """Refused by the adapter itself, or by the edge rules every webhook's items pass."""
    try:
        parsed = ADAPTER.parse(signed(URL, params))
    except InvalidInputError:
        return
    assert admit(parsed, max_text_chars=ADAPTER.max_inbound_text_chars).refused_whole


def test_a_body_that_is_not_a_form_is_invalid_input() -> None:
    request = signed(URL, BASE)
    with pytest.raises(InvalidInputError):
        ADAPTER.parse(hook(URL, request.body, dict(request.headers), "application/json"))


# -- sending ------------------------------------------------------------------------------


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio(SID, TOKEN) as fake:
        yield fake


@pytest.fixture
async def adapter(twilio: FakeTwilio) -> AsyncIterator[TwilioAdapter]:
    adapter = TwilioAdapter(
        settings(
            api_base_url=twilio.base_url,
            public_base_url="https://hooks.example.test",
            send_timeout_seconds=1,
        )
    )
    yield adapter
    await adapter.close()


def reply(text: str = "Your parcel left the depot.") -> OutboundMessage:
    return OutboundMessage(channel="sms", address=CUSTOMER, text=text, event_id="e1")


async def test_a_send_reaches_twilio_from_the_configured_number(
    adapter: TwilioAdapter, twilio: FakeTwilio
) -> None:
    receipt = await adapter.send(reply())
    (sent,) = twilio.sent
    assert receipt.provider_message_id == sent.sid
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.form == {
        "To": [CUSTOMER],
        "From": ["+15005550006"],
        "Body": ["Your parcel left the depot."],
        "StatusCallback": ["https://hooks.example.test/twilio/status"],
    }
    assert twilio.contract_errors == []


async def test_a_messaging_service_sends_from_its_pool(twilio: FakeTwilio) -> None:
    adapter = TwilioAdapter(settings(api_base_url=twilio.base_url, messaging_service_sid=POOL))
    try:
        await adapter.send(reply("Hi"))
    finally:
        await adapter.close()
    (sent,) = twilio.sent
    assert sent.form["MessagingServiceSid"] == [POOL] and "From" not in sent.form
    assert twilio.contract_errors == []


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_and_throttling_are_temporary(
    adapter: TwilioAdapter, twilio: FakeTwilio, status: int
) -> None:
    twilio.fail_next(1, status)
    with pytest.raises(TemporarySendError):
        await adapter.send(reply())
    await adapter.send(reply())
    assert len(twilio.sent) == 1


async def test_an_opted_out_recipient_is_a_permanent_refusal_with_twilios_code(
    adapter: TwilioAdapter, twilio: FakeTwilio
) -> None:
    twilio.fail_next(1, 400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(SendError) as refused:
        await adapter.send(reply())
    assert not isinstance(refused.value, TemporarySendError)
    assert refused.value.code == "21610"
    assert "21610" in str(refused.value)


async def test_wrong_credentials_are_a_permanent_refusal(twilio: FakeTwilio) -> None:
    adapter = TwilioAdapter(settings(api_base_url=twilio.base_url, auth_token="wrong"))
    try:
        with pytest.raises(SendError) as refused:
            await adapter.send(reply())
    finally:
        await adapter.close()
    assert refused.value.code == "20003" and not isinstance(refused.value, TemporarySendError)
    assert twilio.sent == []


async def test_a_twilio_that_does_not_answer_in_time_is_temporary(
    adapter: TwilioAdapter, twilio: FakeTwilio
) -> None:
    twilio.delay_seconds = 3
    with pytest.raises(TemporarySendError):
        await adapter.send(reply())


async def test_an_unreachable_twilio_is_temporary() -> None:
    adapter = TwilioAdapter(settings(api_base_url="http://127.0.0.1:9"))
    try:
        with pytest.raises(TemporarySendError):
            await adapter.send(reply())
    finally:
        await adapter.close()


def test_capabilities_are_plain_text_within_the_segment_limit() -> None:
    adapter = TwilioAdapter(settings(max_segments=2))
    assert adapter.name == "sms"
    assert adapter.capabilities.max_segments == 2
    assert adapter.capabilities.max_quick_replies == 0
    assert adapter.capabilities.max_text_chars == 1600
    assert TwilioAdapter(settings()).capabilities.max_segments == 8
