"""Settings of the context service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings, shared_name


class ContextSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_CONTEXT_")
    service_name: ClassVar[str] = "context"

    grpc_port: int = Field(50052, ge=0, le=65535)
    metrics_port: int = Field(9103, ge=0, le=65535)
    database_url: str = Field(
        "sqlite:///var/context.sqlite3", validation_alias=shared_name("DATABASE_URL")
    )
    default_max_turns: int = Field(20, gt=0, le=500)
