"""A reply as each channel shows it, for ``decide``: the capabilities each channel declares
in the registry (``services/channels.py``) and the renderer their outbound delivery uses
(``shared.channels.rendering``).

The web adapter sends the text as written and the chat page shows it as plain text, so
the web has nothing to render. SMS is kept within the segment budget the SMS adapter's
settings give where the command runs (``RAPPORT_SMS_MAX_SEGMENTS``).
"""

from __future__ import annotations

from services.channels import channel_spec
from shared.channels.adapter import Capabilities
from shared.channels.rendering import render


def capabilities_of(channel: str) -> Capabilities | None:
    """What ``channel``'s adapter renders within; None for the web, which sends as written."""
    return channel_spec(channel).capabilities()


def as_sent(text: str, capabilities: Capabilities | None) -> str:
    """The bot's reply as the channel's adapter would send it (the bot's have no buttons)."""
    return text if capabilities is None else render(text, (), capabilities)[0]
