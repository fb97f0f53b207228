"""Composes the bot's reply from what the message says and how the customer feels.

Pure: no I/O. The reply acknowledges the feeling first, then answers the intent, and
the first bot message of a conversation says it comes from an automated assistant and
how to reach a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

_ACKNOWLEDGEMENTS = {
    "anger": "I'm really sorry about this, and I understand why you're upset.",
    "frustration": "I'm sorry for the trouble.",
    "sadness": "I'm sorry to hear that.",
    "anxiety": "I understand this is worrying.",
    "confusion": "Let me help make this clearer.",
    "gratitude": "You're very welcome!",
}

# Keys are the emotion service's intent names (the customer-support intents it is trained on).
_ANSWERS = {
    "track_order": "I can check on your order: what is your order number?",
    "delivery_period": "Could you send me your order number so I can see where your parcel is?",
    "delivery_options": "I can walk you through the delivery options: where should it go?",
    "get_refund": "I can help with a refund: what is the order number, and what went wrong?",
    "track_refund": "I can check on your refund: what is the order number?",
    "check_refund_policy": "Happy to explain our refund policy: what did you buy, and when?",
    "cancel_order": "I can help you cancel: what is the order number?",
    "change_order": "I can help change your order: what is the order number?",
    "payment_issue": "Let's sort out the payment: what happened when you tried to pay?",
    "complaint": "Thank you for telling us. Could you share what happened so we can put it right?",
    "contact_human_agent": "Of course: I'm asking a member of our team to pick this up here.",
    "contact_customer_service": "You're in the right place: what can I help you with?",
    "newsletter_subscription": "I can update your newsletter subscription: should I turn it off?",
    "unknown": "Could you tell me a little more so I can help?",
}


CHANNEL_WORDS = {
    "sms": "by text message",
    "web": "on our website chat",
    "whatsapp": "on WhatsApp",
    "messenger": "on Messenger",
    "instagram": "on Instagram",
    "telegram": "on Telegram",
}


@dataclass(frozen=True, slots=True)
class EarlierContact:
    """A message the customer sent us on another channel (a fact from context)."""

    channel: str
    day: date


def disclosure(bot_name: str) -> str:
    """The first-message notice that the customer is talking to software."""
    return (
        f"Hi, I'm {bot_name}, an automated assistant. Write 'agent' at any time to reach a person."
    )


def compose_reply(
    *,
    intent: str,
    emotion: str | None,
    first_bot_message: bool,
    bot_name: str,
    earlier_contact: EarlierContact | None = None,
) -> str:
    """The reply: disclosure (first time), the feeling acknowledged, the earlier contact
    on another channel remembered, then the answer."""
    parts = []
    if first_bot_message:
        parts.append(disclosure(bot_name))
    if emotion in _ACKNOWLEDGEMENTS:
        parts.append(_ACKNOWLEDGEMENTS[emotion])
    if earlier_contact is not None:
        where = CHANNEL_WORDS.get(earlier_contact.channel, f"on {earlier_contact.channel}")
        parts.append(f"I can see you also contacted us {where} on {earlier_contact.day:%d %B}.")
    parts.append(_ANSWERS.get(intent, _ANSWERS["unknown"]))
    return " ".join(parts)


HANDOFF_NOTE = "I've also asked a member of our team to look at this; they'll reply here."


def holding_reply(*, sensitive: bool, first_bot_message: bool, bot_name: str) -> str:
    """What the customer reads while a person takes over: calm, caring, no promises."""
    parts = [disclosure(bot_name)] if first_bot_message else []
    if sensitive:
        parts.append(
            "I'm so sorry. I'm asking a member of our team to help you personally; "
            "they will reply here as soon as they can."
        )
    else:
        parts.append("I'm passing this to a member of our team, who will reply here shortly.")
    return " ".join(parts)
