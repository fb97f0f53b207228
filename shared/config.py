"""Typed settings read from environment variables, with defaults that work on one machine.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``RAPPORT_<SERVICE>_``) for its own ports; the addresses every service shares (the
broker, the gRPC services, the database) are read under one plain name each, so one
``.env`` file configures the whole stack. Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import ClassVar

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.channels.origins import AllowedOrigins
from shared.kafka.topics import TopicRetention


def shared_name(name: str) -> AliasChoices:
    """The environment variable every service reads for a stack-wide value."""
    return AliasChoices(name, name.lower())


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: only this machine can connect."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


MIN_TOKEN_CHARS = 16
"""Shortest gRPC caller token accepted; ``secrets.token_urlsafe(32)`` gives 43 characters."""


class ServiceSettings(BaseSettings):
    """What every Rapport process needs: the broker, logging, metrics and deadlines."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)
    service_name: ClassVar[str]

    kafka_bootstrap: str = Field("127.0.0.1:9092", validation_alias=shared_name("KAFKA_BOOTSTRAP"))
    log_level: str = Field("INFO", validation_alias=shared_name("LOG_LEVEL"))
    bind_host: str = Field("127.0.0.1", validation_alias=shared_name("BIND_HOST"))
    metrics_port: int = Field(ge=0, le=65535)
    grpc_deadline_seconds: float = Field(
        2.0, gt=0, validation_alias=shared_name("GRPC_DEADLINE_SECONDS")
    )
    shutdown_grace_seconds: float = Field(
        10.0, gt=0, validation_alias=shared_name("SHUTDOWN_GRACE_SECONDS")
    )
    # This process's token when it calls a gRPC service (one per caller; see shared.grpc.auth).
    grpc_token: SecretStr | None = Field(
        None, validation_alias=shared_name("RAPPORT_GRPC_TOKEN"), min_length=MIN_TOKEN_CHARS
    )


class GrpcServerSettings(ServiceSettings):
    """A gRPC server: the callers it accepts, by name, with each one's token.

    Off loopback it refuses to start without callers unless unauthenticated calls are
    explicitly allowed, so a deployment cannot forget authentication by leaving it unset.
    """

    grpc_callers: dict[str, SecretStr] = Field(
        default_factory=dict, validation_alias=shared_name("RAPPORT_GRPC_CALLERS")
    )
    grpc_allow_unauthenticated: bool = Field(
        False, validation_alias=shared_name("RAPPORT_GRPC_ALLOW_UNAUTHENTICATED")
    )

    @field_validator("grpc_callers")
    @classmethod
    def _distinct_long_tokens(cls, callers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        # A shared token could not say who called; a short one could be guessed.
        tokens = [token.get_secret_value() for token in callers.values()]
        if any(not name for name in callers):
            raise ValueError("every gRPC caller needs a name")
        if any(len(token) < MIN_TOKEN_CHARS for token in tokens):
            raise ValueError(f"a gRPC caller's token needs {MIN_TOKEN_CHARS} or more characters")
        if len(set(tokens)) != len(tokens):
            raise ValueError("two gRPC callers share a token; give each its own")
        return callers

    @model_validator(mode="after")
    def _authenticated_off_loopback(self) -> GrpcServerSettings:
        if self.grpc_callers or self.grpc_allow_unauthenticated or is_loopback(self.bind_host):
            return self
        raise ValueError(
            f"gRPC would listen on {self.bind_host} without authentication: set "
            "RAPPORT_GRPC_CALLERS, or RAPPORT_GRPC_ALLOW_UNAUTHENTICATED=true to accept anyone"
        )

    @property
    def caller_tokens(self) -> dict[str, str]:
        """Each accepted caller's token, by caller name (empty: calls are not checked)."""
        return {name: token.get_secret_value() for name, token in self.grpc_callers.items()}


class TopicSettings(BaseSettings):
    """How long Kafka keeps what Rapport's topics carry (``RAPPORT_KAFKA_*``), read by what
    creates the topics (``python -m infra.kafka.create_topics``, the embedded broker of
    ``make run``), which also brings existing topics to them. The privacy promise rests on
    them: see ``shared.kafka.topics``."""

    model_config = SettingsConfigDict(
        env_prefix="RAPPORT_KAFKA_", env_file=".env", extra="ignore", frozen=True
    )

    event_retention_hours: float = Field(72, gt=0)
    dead_letter_retention_hours: float = Field(168, gt=0)
    held_reply_retention_hours: float = Field(168, gt=0)
    segment_minutes: float = Field(60, gt=0)

    @property
    def retention(self) -> TopicRetention:
        return TopicRetention(
            events=timedelta(hours=self.event_retention_hours),
            dead_letters=timedelta(hours=self.dead_letter_retention_hours),
            held_replies=timedelta(hours=self.held_reply_retention_hours),
            segment=timedelta(minutes=self.segment_minutes),
        )


DEVELOPMENT_MEDIA_SIGNING_KEY = "development-only-media-signing-key"
DEFAULT_MEDIA_TYPES = (
    *("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif"),
    *("audio/ogg", "audio/opus", "audio/mpeg", "audio/mp4", "audio/aac", "audio/amr"),
    *("audio/wav", "audio/webm", "video/mp4", "video/3gpp", "video/quicktime", "video/webm"),
    *("application/pdf", "text/plain", "text/csv", "text/vcard", "text/x-vcard"),
    *("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    *("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet"),
    *("application/vnd.oasis.opendocument.presentation", "application/zip"),
    # Telegram's file server says no more than this; it is served as a download.
    "application/octet-stream",
)
"""What ``/media`` passes on: photos, sound, video, documents, archives. Never HTML, SVG or
script, which a browser would run on the adapter's origin; what is not image, sound or
video is served as a download (``shared.channels.media``)."""


class MediaSettings(ServiceSettings):
    """A service that opens customers' media for agents, or sends an agent's (the channel
    adapters; the agent desk mints the links with the same key). See ``shared.media_links``."""

    media_signing_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_MEDIA_SIGNING_KEY),
        validation_alias=shared_name("MEDIA_SIGNING_KEY"),
        min_length=16,
    )
    # Where an agent's outgoing image may be fetched from (the agent desk), as origins.
    outbound_media_origins: tuple[str, ...] = Field(
        ("http://127.0.0.1:8083",), validation_alias=shared_name("OUTBOUND_MEDIA_ORIGINS")
    )
    # The largest file passed on or sent, the whole fetch's deadline, the types passed on.
    media_max_bytes: int = Field(20 * 1024 * 1024, gt=0)
    media_timeout_seconds: float = Field(30.0, gt=0)
    media_content_types: tuple[str, ...] = DEFAULT_MEDIA_TYPES

    @field_validator("outbound_media_origins")
    @classmethod
    def _outbound_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        AllowedOrigins.of(value)  # ValueError names the entry that is not an origin
        return value

    @property
    def media_key_is_development_default(self) -> bool:
        """True while the public development key signs links (set MEDIA_SIGNING_KEY)."""
        return self.media_signing_key.get_secret_value() == DEVELOPMENT_MEDIA_SIGNING_KEY
