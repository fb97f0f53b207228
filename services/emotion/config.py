"""Settings of the emotion service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"


class EmotionSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_EMOTION_")
    service_name: ClassVar[str] = "emotion"

    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int = Field(9102, ge=0, le=65535)
    models_dir: Path = SHIPPED_MODELS
    # Longer texts are analysed on this prefix and flagged as truncated.
    max_text_chars: int = Field(2000, gt=0)
    max_batch_items: int = Field(1000, gt=0)
    # Below this language-ID confidence the channel's language hint wins.
    hint_below_confidence: float = Field(0.5, ge=0, le=1)
