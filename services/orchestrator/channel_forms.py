"""A reply as each channel shows it, for ``decide``: the channel adapters' own declared
capabilities and the renderer their outbound delivery uses (``shared.channels.rendering``).

The web adapter sends the text as written and the chat page shows it as plain text, so
the web has nothing to render. SMS is kept within the segment budget the SMS adapter's
settings give where the command runs (``RAPPORT_SMS_MAX_SEGMENTS``).
"""

from __future__ import annotations

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.twilio import TwilioAdapter
from services.social_adapter.instagram import InstagramAdapter
from services.social_adapter.messenger import MessengerAdapter
from services.social_adapter.telegram import TelegramAdapter
from services.social_adapter.whatsapp import WhatsAppAdapter
from shared.channels.adapter import Capabilities
from shared.channels.rendering import render

WEB = "web"
SMS = "sms"
_SOCIAL = {
    "messenger": MessengerAdapter.capabilities,
    "instagram": InstagramAdapter.capabilities,
    "whatsapp": WhatsAppAdapter.capabilities,
    "telegram": TelegramAdapter.capabilities,
}


def capabilities_of(channel: str) -> Capabilities | None:
    """What ``channel``'s adapter renders within; None for the web, which sends as written."""
    if channel == WEB:
        return None
    if channel == SMS:
        return TwilioAdapter(SmsSettings()).capabilities
    return _SOCIAL[channel]


def as_sent(text: str, capabilities: Capabilities | None) -> str:
    """The bot's reply as the channel's adapter would send it (the bot's have no buttons)."""
    return text if capabilities is None else render(text, (), capabilities)[0]
