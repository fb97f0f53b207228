"""Settings of the context service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import GrpcServerSettings, shared_name

DEVELOPMENT_HASH_KEY = "development-only-hash-key"


class ContextSettings(GrpcServerSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_CONTEXT_")
    service_name: ClassVar[str] = "context"

    grpc_port: int = Field(50052, ge=0, le=65535)
    metrics_port: int = Field(9103, ge=0, le=65535)
    database_url: str = Field(
        "sqlite:///var/context.sqlite3", validation_alias=shared_name("DATABASE_URL")
    )
    # Keys the hashes that outlive an erasure (tombstones, audit). Set a long random value
    # in production and keep it: changing it forgets who was erased.
    hash_key: SecretStr = SecretStr(DEVELOPMENT_HASH_KEY)
    default_max_turns: int = Field(20, gt=0, le=500)
    emotion_analysis_default: bool = True
    # Numbers written without a country code are read in this region (ISO 3166 alpha-2).
    default_phone_region: str = Field("US", min_length=2, max_length=2)
    # A customer message after this long a pause starts a new contact.
    contact_gap_hours: float = Field(12, gt=0)
    emotion_retention_days: float = Field(30, gt=0)
    message_retention_days: float = Field(365, gt=0)
    # What the customer told the bot (emails, postal codes, order references) is forgotten
    # this long after it was given: not returned, and deleted by the retention job.
    slot_retention_days: float = Field(30, gt=0)
    retention_interval_minutes: float = Field(60, gt=0)
    # How often the empathy map's pending turns are folded into its totals (the map reads
    # both, so this bounds the pending rows a page view sums, not how fresh it is).
    empathy_fold_seconds: float = Field(60, gt=0)
    link_code_ttl_minutes: float = Field(10, gt=0)
    link_max_attempts: int = Field(5, gt=0)

    @model_validator(mode="after")
    def _emotion_data_expires_first(self) -> ContextSettings:
        if self.emotion_retention_days >= self.message_retention_days:
            raise ValueError("emotion_retention_days must be shorter than message_retention_days")
        return self
