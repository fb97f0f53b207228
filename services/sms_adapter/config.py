"""Settings of the SMS adapter (``RAPPORT_SMS_*``).

The defaults let ``make run`` start on a laptop without a Twilio account: they name a
clearly fake account (``AC000…``, a development-only token, Twilio's magic test sender
``+15005550006``), so webhooks can be exercised locally with signatures computed from that
token, while sends to the real Twilio fail with an authentication error and end on the
dead-letter topic. Production sets the real account SID and auth token; an empty token
is refused at start-up, because an empty key would make every signature check meaningless.
"""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from shared.channels.origins import AllowedOrigins
from shared.config import MediaSettings, shared_name

DEVELOPMENT_ACCOUNT_SID = "AC00000000000000000000000000000000"
DEVELOPMENT_AUTH_TOKEN = "development-only-twilio-auth-token"
DEVELOPMENT_FROM_NUMBER = "+15005550006"  # Twilio's "valid sender" test number
TWILIO_API_BASE_URL = "https://api.twilio.com"

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_MESSAGING_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


class SmsSettings(MediaSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_SMS_")
    service_name: ClassVar[str] = "sms_adapter"

    http_port: int = Field(8081, ge=0, le=65535)
    metrics_port: int = Field(9105, ge=0, le=65535)
    context_address: str = Field("127.0.0.1:50052", validation_alias=shared_name("CONTEXT_ADDRESS"))
    consumer_group: str = "rapport-sms-adapter"

    account_sid: str = DEVELOPMENT_ACCOUNT_SID
    auth_token: SecretStr = SecretStr(DEVELOPMENT_AUTH_TOKEN)
    # Send from one number, or from a Messaging Service's sender pool (which wins if set).
    from_number: str = DEVELOPMENT_FROM_NUMBER
    messaging_service_sid: str = ""
    api_base_url: str = TWILIO_API_BASE_URL
    send_timeout_seconds: float = Field(10.0, gt=0)
    # Where Twilio's MediaUrl may redirect an agent's /media request (its media CDN, and
    # the S3 host of media stored before HTTP auth was enforced); the API is always allowed.
    media_origins: tuple[str, ...] = (
        "https://mms.twiliocdn.com",
        "https://s3-external-1.amazonaws.com",
    )

    # The URL Twilio calls, e.g. https://hooks.example.com (what Twilio signs). When empty,
    # X-Forwarded-Proto/-Host are believed from ``trusted_proxies`` only.
    public_base_url: str = ""
    trusted_proxies: tuple[str, ...] = ()
    # Twilio gives up on a webhook after 15 s; answer 503 well before if Kafka is slow.
    publish_timeout_seconds: float = Field(5.0, gt=0, le=14)

    # The name the answers to STOP, START and HELP are signed with (carriers require the
    # business to be named); their wording, in each language, is the brand voice's
    # (shared/voice/voice.yaml, `sms`).
    business_name: str = Field("Rapport", min_length=1, max_length=60)
    # Eight UCS-2 segments (536 characters) hold the longest reply of the voice library in
    # accented languages, a first message with its disclosure; English fits in three.
    max_segments: int = Field(8, ge=1, le=10)

    @field_validator("auth_token")
    @classmethod
    def _token_not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError(
                "RAPPORT_SMS_AUTH_TOKEN is empty: set the Twilio account's auth token "
                "(webhook signatures cannot be checked without it)"
            )
        return value

    @field_validator("business_name")
    @classmethod
    def _business_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("RAPPORT_SMS_BUSINESS_NAME is blank: carriers require the name")
        return value.strip()

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        if not _ACCOUNT_SID.match(value):
            raise ValueError("RAPPORT_SMS_ACCOUNT_SID must look like AC followed by 32 hex digits")
        return value

    @field_validator("from_number")
    @classmethod
    def _from_number(cls, value: str) -> str:
        if value and not E164.match(value):
            raise ValueError("RAPPORT_SMS_FROM_NUMBER must be an E.164 number like +14155550100")
        return value

    @field_validator("messaging_service_sid")
    @classmethod
    def _messaging_service_sid(cls, value: str) -> str:
        if value and not _MESSAGING_SERVICE_SID.match(value):
            raise ValueError("RAPPORT_SMS_MESSAGING_SERVICE_SID must be MG followed by 32 hex")
        return value

    @field_validator("api_base_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("media_origins")
    @classmethod
    def _media_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AllowedOrigins.of(value)  # ValueError names the entry that is not an origin
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _a_sender(self) -> SmsSettings:
        if not self.from_number and not self.messaging_service_sid:
            raise ValueError("set RAPPORT_SMS_FROM_NUMBER or RAPPORT_SMS_MESSAGING_SERVICE_SID")
        return self
