"""Twilio Programmable Messaging behind the :class:`ChannelAdapter` interface.

Signatures are checked with the Twilio library's own ``RequestValidator`` over the URL
Twilio called (``WebhookRequest.url``, the public one, query string included) and the
form parameters. Nothing else about the request is trusted before that: in particular
``To`` is not compared against a configured number, because a Messaging Service sends
from a pool of numbers and the signature already proves the request is Twilio's.

Sends go through Twilio's Python client on its aiohttp transport, with the API base URL
configurable so tests talk to a local fake. Twilio's 5xx, 429 and network failures are
temporary (retried by the shared delivery loop); any other refusal is permanent and
carries Twilio's error code (21610: the recipient replied STOP).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from multidict import MultiDict
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.metrics import SEGMENTS_SENT
from shared.channels import gsm
from shared.channels.adapter import (
    Attachment,
    Capabilities,
    ChannelAdapter,
    DeliveryReceipt,
    DeliveryState,
    Formatting,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    SendError,
    SignatureError,
    StatusUpdate,
    TemporarySendError,
    WebhookRequest,
    WebhookResponse,
)
from shared.channels.attachments import kind_of
from shared.channels.edge import Reason, RejectedInput, count
from shared.channels.registry import ChannelSpec
from shared.errors import InvalidInputError

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 1600  # Twilio's limit for one message body
MAX_MEDIA = 10  # Twilio's limit of media per MMS
SIGNATURE_HEADER = "x-twilio-signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
MESSAGES_PATH = "/twilio/sms"  # Twilio's webhook for the messages customers send
STATUS_PATH = "/twilio/status"  # Twilio's status callback for the messages we send


def sms_capabilities(settings: SmsSettings) -> Capabilities:
    """Plain text within Twilio's body limit and the configured segment budget."""
    return Capabilities(
        max_text_chars=MAX_TEXT_CHARS,
        formatting=Formatting.PLAIN,
        max_quick_replies=0,
        max_segments=settings.max_segments,
    )


CHANNEL = ChannelSpec(
    name="sms",
    service="sms_adapter",
    label="SMS",
    routes=(MESSAGES_PATH, STATUS_PATH),
    settings=SmsSettings,
    # The segment budget where it is read (RAPPORT_SMS_MAX_SEGMENTS).
    capabilities=lambda: sms_capabilities(SmsSettings()),
)

_MESSAGE_SID = re.compile(r"^(?:SM|MM)[0-9a-fA-F]{32}$")
_STATES = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
    "undelivered": DeliveryState.UNDELIVERED,
}
# Twilio's other statuses say the message is still on its way: nothing to report yet.
_IN_FLIGHT = frozenset(
    {"queued", "accepted", "scheduled", "sending", "receiving", "received", "canceled"}
)


class _AsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """Twilio's aiohttp transport, passing Basic credentials as a plain header.

    The stock transport wraps them in ``aiohttp.BasicAuth``, which aiohttp deprecates.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (Twilio's signature)
        allow_redirects: bool = False,
    ) -> Any:
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        return await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )


def twiml(*messages: str) -> WebhookResponse:
    """A TwiML answer sending ``messages`` back to the texter (none: an empty ``<Response/>``)."""
    response = MessagingResponse()
    for text in messages:
        response.message(text)
    return WebhookResponse(200, str(response).encode(), "text/xml")


def form(body: bytes) -> MultiDict[str]:
    """The form parameters of a webhook body; SignatureError if it is not UTF-8 at all."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignatureError("the body is not a UTF-8 form") from exc
    return MultiDict(parse_qsl(text, keep_blank_values=True))


class TwilioAdapter(ChannelAdapter):
    name = CHANNEL.name
    max_inbound_text_chars = MAX_TEXT_CHARS

    def __init__(self, settings: SmsSettings) -> None:
        self.capabilities = sms_capabilities(settings)
        self._settings = settings
        self._validator = RequestValidator(settings.auth_token.get_secret_value())
        self._client: Client | None = None  # opened on the first send, inside the event loop
        self._status_callback = (
            f"{settings.public_base_url}{STATUS_PATH}" if settings.public_base_url else ""
        )

    # -- webhooks ------------------------------------------------------------------------

    def verify(self, request: WebhookRequest) -> None:
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            raise SignatureError("no X-Twilio-Signature header")
        params = form(request.body)
        try:
            valid = self._validator.validate(request.url, params, signature)
        except (ValueError, TypeError) as exc:  # fail closed on anything unexpected
            raise SignatureError(f"signature not checkable: {exc}") from exc
        if not valid:
            raise SignatureError(f"X-Twilio-Signature does not match {request.url}")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != FORM_CONTENT_TYPE:
            raise InvalidInputError(f"expected {FORM_CONTENT_TYPE}, got {content_type!r}")
        try:
            params = form(request.body)
        except SignatureError as exc:
            raise InvalidInputError(str(exc)) from exc
        if "MessageStatus" in params:
            return ParsedWebhook(statuses=_status(params), reply=twiml())
        message = _message(params, self._settings.api_base_url)
        return ParsedWebhook(messages=(message,), reply=twiml())

    # -- sending -------------------------------------------------------------------------

    def _open_client(self) -> Client:
        if self._client is None:
            client = Client(
                self._settings.account_sid,
                self._settings.auth_token.get_secret_value(),
                http_client=_AsyncHttpClient(),
            )
            client.api.base_url = self._settings.api_base_url
            self._client = client
        return self._client

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        client = self._open_client()
        params: dict[str, str] = {"to": message.address, "body": message.text}
        if self._settings.messaging_service_sid:
            params["messaging_service_sid"] = self._settings.messaging_service_sid
        else:
            params["from_"] = self._settings.from_number
        if self._status_callback:
            params["status_callback"] = self._status_callback
        try:
            async with asyncio.timeout(self._settings.send_timeout_seconds):
                created = await client.api.account.messages.create_async(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _send_error(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporarySendError(f"Twilio did not answer: {exc!r}") from exc
        segments = gsm.segments(message.text)
        SEGMENTS_SENT.labels(segments.encoding).inc(segments.count)
        return DeliveryReceipt(str(created.sid))

    async def close(self) -> None:
        """Close the Twilio client's HTTP connections, if it was opened."""
        client, self._client = self._client, None
        if client is not None and isinstance(client.http_client, AsyncTwilioHttpClient):
            await client.http_client.close()


def _send_error(exc: TwilioRestException | TwilioServiceException) -> SendError:
    if isinstance(exc, TwilioRestException):
        status, code, detail = exc.status, exc.code, exc.msg
    else:
        status, code, detail = exc.status, exc.code, exc.detail or exc.title
    text = f"Twilio answered HTTP {status}, error {code}: {detail}"
    if status == 429 or status >= 500:
        return TemporarySendError(text, code=str(code or status))
    return SendError(text, code=str(code or status))


def _required(params: MultiDict[str], *names: str) -> str:
    for name in names:
        value = params.get(name, "").strip()
        if value:
            return value
    raise RejectedInput(Reason.MISSING_FIELD, f"the webhook has no {' or '.join(names)}")


def _message_sid(params: MultiDict[str]) -> str:
    sid = _required(params, "MessageSid", "SmsSid")
    if not _MESSAGE_SID.match(sid):
        raise RejectedInput(Reason.BAD_ID, "MessageSid is not a Twilio message SID")
    return sid


def _message(params: MultiDict[str], api_base_url: str) -> InboundMessage:
    """An incoming SMS/MMS as Twilio describes it; the edge rules judge its text and sender.

    Media is referenced by its ``MediaUrl``: an https URL, or one on the configured Twilio
    API (a local stand-in may speak plain http).
    """
    media = count(params.get("NumMedia", "").strip() or "0", field="NumMedia", maximum=MAX_MEDIA)
    attachments = []
    for index in range(media):
        url = _required(params, f"MediaUrl{index}")
        if not url.startswith(("https://", f"{api_base_url}/")):
            raise RejectedInput(Reason.BAD_ATTACHMENT, f"MediaUrl{index} is not an https URL")
        content_type = params.get(f"MediaContentType{index}", "")
        attachments.append(Attachment(url, kind_of(content_type), content_type))
    return InboundMessage(
        channel=CHANNEL.name,
        address=params.get("From", ""),
        text=params.get("Body", ""),
        provider_message_id=_message_sid(params),
        attachments=tuple(attachments),
    )


def _status(params: MultiDict[str]) -> tuple[StatusUpdate, ...]:
    status = params.get("MessageStatus", "").strip().lower()
    if status in _IN_FLIGHT:
        return ()
    state = _STATES.get(status)
    if state is None:
        raise RejectedInput(Reason.UNKNOWN_STATUS, f"unknown MessageStatus {status[:40]!r}")
    return (
        StatusUpdate(
            channel=CHANNEL.name,
            address=params.get("To", ""),  # the customer we sent to
            provider_message_id=_message_sid(params),
            state=state,
            error_code=params.get("ErrorCode", ""),
            error_message=params.get("ErrorMessage", ""),
        ),
    )
