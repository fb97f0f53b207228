"""Settings of the emotion service."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import GrpcServerSettings

SHIPPED_MODELS = Path(__file__).resolve().parent / "models"
SHIPPED_INTENTS = Path(__file__).resolve().parent / "intents.yaml"


class EmotionSettings(GrpcServerSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_EMOTION_")
    service_name: ClassVar[str] = "emotion"

    grpc_port: int = Field(50051, ge=0, le=65535)
    metrics_port: int = Field(9102, ge=0, le=65535)
    models_dir: Path = SHIPPED_MODELS
    # Example messages per intent; a business adds its own intents here (any language).
    intents_file: Path = SHIPPED_INTENTS
    # Longer texts are analysed on this prefix and flagged as truncated.
    max_text_chars: int = Field(2000, gt=0)
    max_batch_items: int = Field(1000, gt=0)
    # Threads of the encoder's onnxruntime session (one per core the service may use).
    encoder_threads: int = Field(1, gt=0)
    # Batches analysed at once, each on its own thread (and core): the models let go of
    # the interpreter while they run.
    analysis_workers: int = Field(2, gt=0)
