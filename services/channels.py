"""The channel registry: every channel Rapport serves, declared by its adapter's module.

The one module of ``services/`` every process may read: the adapters' composition roots
take their routes and outbound topics from it, the orchestrator's ``decide`` and the agent
desk their channels' rendering rules and media services, ``infra`` its URLs and the
channel table (``python -m infra.channels_doc``). Adding a channel adds its line here.

Each channel's service has, in its composition root (``services/<service>/__main__.py``),
``reply_consumers(settings, publisher) -> dict[str, EventConsumer]``: the consumer of each
of its channels' outbound topic, by channel name, so it can be checked that every
registered channel's replies are read.
"""

from __future__ import annotations

from services.email_adapter import adapter as email
from services.sms_adapter import twilio
from services.social_adapter import instagram, messenger, telegram, whatsapp
from services.web_adapter import channel as web
from shared.channels.registry import ChannelSpec

BUILTIN_CHANNELS: tuple[ChannelSpec, ...] = (
    web.CHANNEL,
    twilio.CHANNEL,
    messenger.CHANNEL,
    instagram.CHANNEL,
    whatsapp.CHANNEL,
    telegram.CHANNEL,
    email.CHANNEL,
)

_BY_NAME = {spec.name: spec for spec in BUILTIN_CHANNELS}
if len(_BY_NAME) != len(BUILTIN_CHANNELS):
    raise ValueError("two channel declarations share one name")


def channel_spec(name: str) -> ChannelSpec:
    """The channel called ``name``; ValueError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"no channel {name!r} is registered (known: {', '.join(_BY_NAME)})"
        ) from None


def channels_of(service: str) -> tuple[ChannelSpec, ...]:
    """The channels ``service`` serves, in registry order (none for an unknown service)."""
    return tuple(spec for spec in BUILTIN_CHANNELS if spec.service == service)


def channel_label(name: str) -> str:
    """How people call the channel ``name``; the name itself for one not registered."""
    spec = _BY_NAME.get(name)
    return name if spec is None else spec.label


def media_services() -> dict[str, str]:
    """Channel name → the service whose ``/media`` opens that channel's references."""
    return {spec.name: spec.media_service for spec in BUILTIN_CHANNELS}
