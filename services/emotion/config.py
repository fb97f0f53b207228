"""Settings of the emotion service."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class EmotionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_EMOTION_")
    service_name: ClassVar[str] = "emotion"

    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int = Field(9102, ge=0, le=65535)
    max_text_chars: int = Field(4096, gt=0)
