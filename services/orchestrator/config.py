"""Settings of the orchestrator."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from services.orchestrator.crisis import DEFAULT_CRISIS_RESOURCES
from services.orchestrator.policy import DEFAULT_POLICY
from shared.config import ServiceSettings, shared_name


class OrchestratorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_ORCHESTRATOR_")
    service_name: ClassVar[str] = "orchestrator"

    metrics_port: int = Field(9104, ge=0, le=65535)
    emotion_address: str = Field("127.0.0.1:50051", validation_alias=shared_name("EMOTION_ADDRESS"))
    context_address: str = Field("127.0.0.1:50052", validation_alias=shared_name("CONTEXT_ADDRESS"))
    consumer_group: str = "rapport-orchestrator"
    # A stable id per replica (static group membership) lets a restarted replica take
    # its partitions back at once instead of waiting for the session timeout.
    instance_id: str | None = None
    bot_name: str = "Rapport assistant"
    policy_file: Path = DEFAULT_POLICY
    # Where a customer who writes of harming themselves can get help, by country.
    crisis_resources_file: Path = DEFAULT_CRISIS_RESOURCES
    # The business's articles (knowledge/README.md); a missing folder means none.
    knowledge_dir: Path = Field(
        Path("knowledge"),
        validation_alias=AliasChoices("RAPPORT_KNOWLEDGE_DIR", "rapport_knowledge_dir"),
    )
    # How often the folder is looked at for changes (and, while the emotion service is
    # unreachable, how often embedding its questions is tried again).
    knowledge_reload_seconds: float = Field(2.0, gt=0)
    # At start, how long to wait for the emotion service to embed the questions before
    # taking messages anyway (answered without knowledge until it has).
    knowledge_start_seconds: float = Field(30.0, ge=0)
    context_turns: int = Field(20, gt=0)
    # While this many messages are in hand, wait this long after a fetch for more to share
    # the next one (see shared.kafka.consumer). At 500 messages/s it cut the CPU per reply
    # from 3.5 ms in all to 2.5 ms; a quiet orchestrator (100/s) fetches at once.
    consumer_linger_ms: int = Field(20, ge=0, le=1000)
    consumer_linger_in_hand: int = Field(10, ge=0)
