"""A made-up platform behind the real ChannelAdapter interface, to test the shared plumbing."""

from __future__ import annotations

import hashlib
import hmac
import json

from shared.channels.adapter import (
    Capabilities,
    ChannelAdapter,
    DeliveryReceipt,
    InboundMessage,
    OutboundMessage,
    ParsedWebhook,
    SendError,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
)
from shared.errors import InvalidInputError

SECRET = b"fake-platform-secret"


def sign(body: bytes) -> str:
    return hmac.new(SECRET, body, hashlib.sha256).hexdigest()


class FakeChannelAdapter(ChannelAdapter):
    """Webhooks are JSON ``{"from", "text", "id"}`` signed in ``X-Fake-Signature``;
    sends are recorded, or fail with the errors queued in ``failures``."""

    name = "telegram"  # any channel Rapport knows
    capabilities = Capabilities(max_text_chars=50)

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self.failures: list[SendError] = []

    def verify(self, request: WebhookRequest) -> None:
        given = request.header("X-Fake-Signature") or ""
        if not hmac.compare_digest(given, sign(request.body)):
            raise SignatureError("bad signature")

    def parse(self, request: WebhookRequest) -> ParsedWebhook:
        try:
            data = json.loads(request.body)
            message = InboundMessage(self.name, data["from"], data["text"], data["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"unreadable webhook: {exc}") from exc
        return ParsedWebhook(messages=(message,), reply=WebhookResponse(200, b"ok"))

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return DeliveryReceipt(f"fake-{len(self.sent)}")
