"""Where the conversation stands, read from the turns the context store keeps: what the
bot's last message asked for, what the customer has already given (on any channel), and
how many replies in a row could not help. Pure.

Every bot turn is stored with its decision record, whose template names what the bot
said (``answer/track_order`` asked for an order number, ``knowledge/unknown`` offered a
person), so the state needs no store of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from rapport.context.v1 import context_service_pb2 as context_pb

from shared.voice.replies import VOICE

ORDER_REFERENCE = "order_reference"
PERSON = "person"

# The templates of the bot's replies that say where the conversation stands (planning
# writes them into each decision record; this module and the handoff read them back).
KNOWLEDGE = "knowledge/"  # knowledge/<article id>: answered from that article
KNOWLEDGE_UNKNOWN = f"{KNOWLEDGE}unknown"  # nothing in the knowledge: a person offered
OFFER_PERSON = "dialogue/offer_person"  # replies that could not help: a person offered
KNOWN_ORDER = "known_order"  # answer/<intent>/known_order: the intent, with the order
ASKS_FOR_ORDER = frozenset(
    intent
    for intent, answer in VOICE.libraries[VOICE.default_language].answers.items()
    if answer.known_order is not None
)
"""The intents whose answer asks for the order number (the voice has a sentence for when
it is known)."""
OFFERS_A_PERSON = frozenset({KNOWLEDGE_UNKNOWN, OFFER_PERSON})
NO_PROGRESS = frozenset({"answer/unknown", KNOWLEDGE_UNKNOWN, OFFER_PERSON})
"""Replies that could not help: asked for more, or said the bot does not know."""

# A reference has a digit, 4 to 20 letters, digits or dashes: "48213", "fd8cc0", "A-1042".
_REFERENCE = r"#?([A-Za-z0-9][A-Za-z0-9-]{2,18}[A-Za-z0-9])"
_NAMED = re.compile(
    r"(?:order|pedido|commande|bestellung|bestellnummer|auftrag|encomenda)\s*"
    r"(?:(?:number|no\.?|n[º°o]\.?|#|is|es|est|ist|é|:|nummer|número|numéro|de|do)\s*){0,3}"
    + _REFERENCE,
    re.IGNORECASE,
)
_ALONE = re.compile(r"(?<![\w+/.:-])" + _REFERENCE + r"(?![\w/.:-])")


SHORT_ANSWER_WORDS = 4
"""A reply this short ("fd8cc0", "es el 55120") answers the bot's question; in a longer one
a token with a digit is more likely something else (a date, a reference of another kind)."""


def order_reference(text: str, *, asked: bool) -> str:
    """The order reference ``text`` gives: one named as an order ("order 48213"), or, when
    the bot has just asked for one and the reply is short, a lone token with a digit
    ("fd8cc0"); "" for none."""
    short = len(text.split()) <= SHORT_ANSWER_WORDS
    for pattern in (_NAMED, _ALONE) if asked and short else (_NAMED,):
        for match in pattern.finditer(text):
            token = match.group(1)
            if any(c.isdigit() for c in token):
                return token
    return ""


@dataclass(frozen=True, slots=True)
class DialogueState:
    awaiting: str = ""  # what the bot's last message asked for: order_reference, person, ""
    asked_for: str = ""  # the intent the bot asked the order number for
    slots: Mapping[str, str] = field(default_factory=dict)  # given before, on any channel
    stalled_turns: int = 0  # the bot's latest replies in a row that could not help


def _asks(template: str) -> tuple[str, str]:
    """(what a reply with ``template`` waits for, the intent it asked the order for)."""
    intent = template.removeprefix("answer/")
    if template.startswith("answer/") and intent in ASKS_FOR_ORDER:
        return ORDER_REFERENCE, intent
    return (PERSON, "") if template in OFFERS_A_PERSON else ("", "")


def dialogue_state(history: context_pb.GetContextResponse, conversation_id: str) -> DialogueState:
    """The state before the latest customer turn of ``conversation_id`` (the message being
    answered, which the context already holds)."""
    turns = list(history.recent_turns)
    if turns and turns[-1].role == context_pb.ROLE_CUSTOMER:
        turns = turns[:-1]
    waiting: dict[str, tuple[str, str]] = {}
    slots: dict[str, str] = {}
    for turn in turns:
        if turn.role == context_pb.ROLE_BOT:
            waiting[turn.conversation_id] = _asks(turn.decision.template)
        elif turn.role == context_pb.ROLE_CUSTOMER:
            awaiting, _ = waiting.pop(turn.conversation_id, ("", ""))
            found = order_reference(turn.text, asked=awaiting == ORDER_REFERENCE)
            if found:
                slots[ORDER_REFERENCE] = found
    here = [
        t
        for t in turns
        if t.conversation_id == conversation_id and t.role != context_pb.ROLE_CUSTOMER
    ]
    stalled = 0
    for turn in reversed(here):
        if turn.role != context_pb.ROLE_BOT or turn.decision.template not in NO_PROGRESS:
            break
        stalled += 1
    awaiting, asked_for = waiting.get(conversation_id, ("", ""))
    return DialogueState(awaiting, asked_for, slots, stalled)
