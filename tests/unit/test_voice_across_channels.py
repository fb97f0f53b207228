"""One reply, four channels: same template and tone, each within its channel's limits."""

from __future__ import annotations

import re

import pytest

from services.sms_adapter.config import SmsSettings
from services.sms_adapter.twilio import TwilioAdapter
from services.social_adapter.telegram import TelegramAdapter
from services.social_adapter.whatsapp import WhatsAppAdapter
from shared.channels import gsm
from shared.channels.adapter import Capabilities, Formatting, QuickReply
from shared.channels.rendering import render
from shared.voice.replies import VOICE

WEB = Capabilities(max_text_chars=4000, formatting=Formatting.MARKDOWN, max_quick_replies=5)
CHANNELS = {
    "sms": TwilioAdapter(SmsSettings(metrics_port=0)).capabilities,
    "whatsapp": WhatsAppAdapter.capabilities,
    "telegram": TelegramAdapter.capabilities,
    "web": WEB,
}
BUTTONS = (QuickReply("Track my order", "track"), QuickReply("Talk to a person", "human"))


def _plain(text: str) -> str:
    """What a person reads, whatever the markup: no escapes, no emphasis marks."""
    return re.sub(r"\\(.)", r"\1", text).replace("*", "").replace("_", "")


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt"])
def test_the_same_reply_keeps_its_words_and_tone_on_every_channel(language: str) -> None:
    reply = VOICE.compose_reply(
        language=language,
        intent="get_refund",
        emotion="anger",
        intensity=0.9,
        first_bot_message=True,
        bot_name="Robin",
        handoff=True,
    )
    rendered = {name: render(reply.text, BUTTONS, caps) for name, caps in CHANNELS.items()}
    for name, (text, buttons) in rendered.items():
        caps = CHANNELS[name]
        assert len(text) <= caps.max_text_chars, name
        assert len(buttons) <= caps.max_quick_replies, name
        # Meaning and tone do not change, only form: every channel carries the full reply.
        assert _plain(text).startswith(_plain(reply.text)), name
    sms_text, _ = rendered["sms"]
    assert gsm.segments(sms_text).count <= CHANNELS["sms"].max_segments
    assert "Reply 1 for Track my order" in sms_text  # no buttons on SMS: numbered options
    assert rendered["whatsapp"][1] == BUTTONS and rendered["web"][1] == BUTTONS
