"""Settings of the social adapter (``RAPPORT_SOCIAL_*``).

Every secret has a local-development default so ``make run`` starts without any Meta or
Telegram account; those defaults are public, so a deployment must set all of them (the
service logs a warning for each one left at its default).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from shared.channels.origins import AllowedOrigins
from shared.config import MediaSettings, shared_name

DEVELOPMENT_SECRETS: dict[str, str] = {
    "meta_app_secret": "development-meta-app-secret",
    "meta_verify_token": "development-meta-verify-token",
    "page_access_token": "development-page-access-token",
    "whatsapp_access_token": "development-whatsapp-access-token",
    "telegram_bot_token": "000000000:development-telegram-bot-token",
    "telegram_secret_token": "development-telegram-secret-token",
}


class SocialAdapterSettings(MediaSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_SOCIAL_")
    service_name: ClassVar[str] = "social_adapter"

    http_port: int = Field(8082, ge=0, le=65535)
    metrics_port: int = Field(9106, ge=0, le=65535)
    consumer_group: str = "rapport-social-adapter"
    context_address: str = Field("127.0.0.1:50052", validation_alias=shared_name("CONTEXT_ADDRESS"))

    # Meta app (Messenger, Instagram, WhatsApp webhooks are signed with the app secret).
    meta_app_secret: SecretStr = SecretStr(DEVELOPMENT_SECRETS["meta_app_secret"])
    meta_verify_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["meta_verify_token"])
    page_access_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["page_access_token"])
    whatsapp_phone_number_id: str = "000000000000000"
    whatsapp_access_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["whatsapp_access_token"])
    graph_api_base_url: str = "https://graph.facebook.com"
    graph_api_version: str = Field("v23.0", pattern=r"^v\d+\.\d+$")
    # An approved template sent when the 24-hour window is closed, to invite the customer
    # back (empty: send nothing, only hand the conversation to a person).
    whatsapp_reopen_template: str = ""
    whatsapp_template_language: str = "en_US"

    # Telegram bot.
    telegram_bot_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["telegram_bot_token"])
    telegram_secret_token: SecretStr = SecretStr(DEVELOPMENT_SECRETS["telegram_secret_token"])
    telegram_api_base_url: str = "https://api.telegram.org"

    # The URL platforms call (behind a proxy), or the proxies trusted to say it (JSON list
    # of networks, e.g. '["10.0.0.0/8"]').
    public_base_url: str = ""
    trusted_proxies: tuple[str, ...] = ()

    max_body_bytes: int = Field(1_048_576, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0)
    send_attempts: int = Field(4, gt=0)
    send_retry_wait_seconds: float = Field(0.5, ge=0)
    # How long to wait when Telegram says "retry after N" before retrying (at most).
    max_retry_after_seconds: float = Field(30.0, ge=0)

    # Where customers' media may be fetched from for an agent's /media request, beyond
    # the platform's API (always allowed): WhatsApp's media URLs, the Page attachments'
    # CDN (Messenger, Instagram), and Telegram's file server if it is not the Bot API's.
    whatsapp_media_origins: tuple[str, ...] = ("https://lookaside.fbsbx.com",)
    page_media_origins: tuple[str, ...] = (
        "https://*.fbcdn.net",
        "https://*.fbsbx.com",
        "https://*.cdninstagram.com",
    )
    telegram_media_origins: tuple[str, ...] = ()

    @field_validator("whatsapp_media_origins", "page_media_origins", "telegram_media_origins")
    @classmethod
    def _media_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AllowedOrigins.of(value)  # ValueError names the entry that is not an origin
        return value

    def development_defaults(self) -> list[str]:
        """The secrets still at their public development default."""
        return [
            name
            for name, default in DEVELOPMENT_SECRETS.items()
            if getattr(self, name).get_secret_value() == default
        ]
