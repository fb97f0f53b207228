"""Composes the bot's reply from what the message says and how the customer feels.

Pure: no I/O. The reply acknowledges the feeling first, then answers the intent, and
the first bot message of a conversation says it comes from an automated assistant and
how to reach a person.
"""

from __future__ import annotations

_ACKNOWLEDGEMENTS = {
    "anger": "I'm really sorry about this, and I understand why you're upset.",
    "frustration": "I'm sorry for the trouble.",
    "sadness": "I'm sorry to hear that.",
    "anxiety": "I understand this is worrying.",
    "confusion": "Let me help make this clearer.",
    "gratitude": "You're very welcome!",
}

_ANSWERS = {
    "delivery_problem": "Could you send me your order number so I can check where your parcel is?",
    "order_status": "I can check on your order: what is your order number?",
    "refund": "I can help with a refund: could you tell me the order number and what went wrong?",
    "cancel_order": "I can help you cancel: what is the order number?",
    "complaint": "Thank you for telling us. Could you share what happened so we can put it right?",
    "talk_to_human": "Of course: I'm asking a member of our team to pick this up here.",
    "stop_contact": "Understood: we won't send you any more marketing messages.",
    "greeting": "How can I help you today?",
    "unknown": "Could you tell me a little more so I can help?",
}


def disclosure(bot_name: str) -> str:
    """The first-message notice that the customer is talking to software."""
    return (
        f"Hi, I'm {bot_name}, an automated assistant. Write 'agent' at any time to reach a person."
    )


def compose_reply(
    *, intent: str, emotion: str | None, first_bot_message: bool, bot_name: str
) -> str:
    """The reply text: disclosure (first time), acknowledgement of the feeling, then the answer."""
    parts = []
    if first_bot_message:
        parts.append(disclosure(bot_name))
    if emotion in _ACKNOWLEDGEMENTS:
        parts.append(_ACKNOWLEDGEMENTS[emotion])
    parts.append(_ANSWERS.get(intent, _ANSWERS["unknown"]))
    return " ".join(parts)
