"""What a channel is to the rest of Rapport: one declaration per channel adapter module.

Each adapter module declares its channel as ``CHANNEL = ChannelSpec(...)``, and
``services/channels.py`` gathers the declarations into ``BUILTIN_CHANNELS``: the services'
composition roots, the agent desk, the operators' tools and the generated channel table
(``docs/channels.md``) read them from there instead of keeping their own lists, so adding
a channel is its module, its tests and its proto enum value.

Generic: nothing here knows a channel or imports a service.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic_settings import BaseSettings

from shared.channel_names import CHANNEL_NAMES
from shared.channels.adapter import Capabilities
from shared.kafka.topics import outbound_topic


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel: its name, who serves it, and what it can show."""

    name: str
    """The channel's name, as in ``shared.channel_names`` (the proto enum)."""
    service: str
    """The service package that serves it, e.g. ``"social_adapter"``."""
    label: str
    """How people call it: ``"Telegram"``, ``"Email"``."""
    routes: tuple[str, ...]
    """The HTTP paths its service serves for the platform (webhooks, the chat page); may
    be empty."""
    settings: type[BaseSettings]
    """Its service's settings class."""
    capabilities: Callable[[], Capabilities | None]
    """The rules its replies are rendered within; None when replies go out as written.
    A function, because some depend on the settings where it is called."""
    media_service: str = ""
    """The service whose ``/media`` opens its media references; its ``service`` unless
    said otherwise."""

    def __post_init__(self) -> None:
        if self.name not in CHANNEL_NAMES:
            raise ValueError(
                f"channel {self.name!r} has no value in the proto enum "
                f"rapport.common.v1.Channel (known: {', '.join(CHANNEL_NAMES)})"
            )
        if not self.media_service:
            object.__setattr__(self, "media_service", self.service)

    @property
    def outbound_topic(self) -> str:
        """Where its replies arrive (``rapport.outbound.<name>.v1``)."""
        return outbound_topic(self.name)
