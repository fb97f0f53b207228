"""Typed settings read from environment variables, with defaults that work on one machine.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``RAPPORT_<SERVICE>_``) for its own ports; the addresses every service shares (the
broker, the gRPC services, the database) are read under one plain name each, so one
``.env`` file configures the whole stack. Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared_name(name: str) -> AliasChoices:
    """The environment variable every service reads for a stack-wide value."""
    return AliasChoices(name, name.lower())


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
