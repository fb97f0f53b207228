"""Where the conversation stands, read from what the context store keeps: what the bot's
last message asked for, what the customer has already given (on any channel: the slots
the store remembers, and the recent turns), and how many replies in a row could not
help. Pure.

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
EMAIL = "email"
POSTAL_CODE = "postal_code"
PERSON = "person"
VERIFICATION = "verification"  # the order's email and postal code, to prove it is theirs
ANSWER_CHECK = "answer_check"  # "did that answer your question?" after an article

# The templates of the bot's replies that say where the conversation stands (planning
# writes them into each decision record; this module and the handoff read them back).
KNOWLEDGE = "knowledge/"  # knowledge/<article id>: answered from that article
KNOWLEDGE_UNKNOWN = f"{KNOWLEDGE}unknown"  # nothing in the knowledge: a person offered
OFFER_PERSON = "dialogue/offer_person"  # replies that could not help: a person offered
ANSWER_HELPED = "dialogue/answer_helped"  # glad it helped; anything else?
NOT_HELPED = "dialogue/not_helped"  # sorry it did not help (a person is taking over)
ORDER = "order/"  # order/<outcome>/<intent>: what the shop said of the order (planning)
ORDER_UNVERIFIED = "unverified"  # the order's email and postal code asked for
ORDER_NOT_FOUND = "not_found"  # no such order: the number asked for again
ORDER_NOT_VERIFIED = "not_verified"  # the details did not match: a person offered
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
# After the bot asked for the order number, "the number is 1004" names it too.
_NUMBERED = re.compile(
    r"(?:number|nummer|n[úu]mero|numéro|nr\.?|no\.?)\s*(?:is|es|est|ist|é|:)?\s*" + _REFERENCE,
    re.IGNORECASE,
)
_ALONE = re.compile(r"(?<![\w+/.:-])" + _REFERENCE + r"(?![\w/.:-])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A postal code: "75011", "1000-001", "SW1A 1AA", "K1A 0B1", "1012 AB", "01310-100".
_POSTAL = (
    r"(\d{4,5}(?:-\d{3,4})?"  # FR, DE, ES, US, PT, BR
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"  # GB
    r"|[A-Z]\d[A-Z] ?\d[A-Z]\d"  # CA
    r"|\d{4} ?[A-Z]{2})"  # NL
)
_POSTAL_NAMED = re.compile(
    r"(?:post ?code|postal code|zip(?: code)?|code postal|c[óo]digo postal|plz|postleitzahl|cep)"
    r"\s*(?:is|es|est|ist|é|:)?\s*" + _POSTAL + r"(?!\w)",
    re.IGNORECASE,
)
_POSTAL_ALONE = re.compile(r"(?<![\w@.-])" + _POSTAL + r"(?![\w@-])", re.IGNORECASE)


SHORT_ANSWER_WORDS = 4
"""A reply this short ("fd8cc0", "es el 55120") answers the bot's question; in a longer one
a token with a digit is more likely something else (a date, a reference of another kind)."""


def order_reference(text: str, *, asked: bool) -> str:
    """The order reference ``text`` gives: one named as an order ("order 48213"), or, when
    the bot has just asked for one and the reply is short, a lone token with a digit
    ("fd8cc0"); "" for none."""
    short = len(text.split()) <= SHORT_ANSWER_WORDS
    patterns = (_NAMED, _NUMBERED, _ALONE) if short else (_NAMED, _NUMBERED)
    for pattern in patterns if asked else (_NAMED,):
        for match in pattern.finditer(text):
            token = match.group(1)
            if any(c.isdigit() for c in token):
                return token
    return ""


def email_given(text: str) -> str:
    """The email address ``text`` gives ("" for none)."""
    match = _EMAIL.search(text)
    return match.group(0) if match else ""


def postal_code_given(text: str, *, asked: bool) -> str:
    """The postal code ``text`` gives: one named as such ("postcode SW1A 1AA"), or, when
    the bot has just asked for the order's details, one standing alone ("75011")."""
    named = _POSTAL_NAMED.search(text)
    if named:
        return named.group(1).upper()
    if not asked:
        return ""
    rest = _NAMED.sub(" ", _EMAIL.sub(" ", text))  # an order number is not a postal code
    alone = _POSTAL_ALONE.search(rest)
    return alone.group(1).upper() if alone else ""


def slots_given(text: str, awaiting: str) -> dict[str, str]:
    """What ``text`` gives of the order number, email and postal code, read in the light
    of what the bot was waiting for."""
    found = {
        ORDER_REFERENCE: order_reference(text, asked=awaiting == ORDER_REFERENCE),
        EMAIL: email_given(text),
        POSTAL_CODE: postal_code_given(text, asked=awaiting == VERIFICATION),
    }
    return {name: value for name, value in found.items() if value}


@dataclass(frozen=True, slots=True)
class DialogueState:
    awaiting: str = ""  # what the bot's last message asked for: order_reference,
    # verification (the order's email and postal code), person (its offer of one), ""
    asked_for: str = ""  # the intent the bot asked the order number (or its details) for
    slots: Mapping[str, str] = field(default_factory=dict)  # given before, on any channel
    stalled_turns: int = 0  # the bot's latest replies in a row that could not help
    failed_checks: int = 0  # order details given here that did not match the order
    offers_person: bool = False  # the bot's last message offered a person


def _asks(template: str) -> tuple[str, str]:
    """(what a reply with ``template`` waits for, the intent it asked the order for)."""
    intent = template.removeprefix("answer/")
    if template.startswith("answer/") and intent in ASKS_FOR_ORDER:
        return ORDER_REFERENCE, intent
    if template.startswith(ORDER):
        outcome, _, intent = template.removeprefix(ORDER).partition("/")
        # Details that did not match: corrected ones are still read as the order's
        # (orders.py caps the attempts), and a "yes" to the person offered is a yes.
        waits = {
            ORDER_UNVERIFIED: VERIFICATION,
            ORDER_NOT_VERIFIED: VERIFICATION,
            ORDER_NOT_FOUND: ORDER_REFERENCE,
        }
        if outcome in waits:
            return waits[outcome], intent
        return ("", "")
    if template.startswith(KNOWLEDGE) and template != KNOWLEDGE_UNKNOWN:
        return ANSWER_CHECK, ""
    return (PERSON, "") if template in OFFERS_A_PERSON else ("", "")


def _no_progress(template: str) -> bool:
    return template in NO_PROGRESS or template.startswith(f"{ORDER}{ORDER_NOT_FOUND}/")


def dialogue_state(history: context_pb.GetContextResponse, conversation_id: str) -> DialogueState:
    """The state before the latest customer turn of ``conversation_id`` (the message being
    answered, which the context already holds)."""
    turns = list(history.recent_turns)
    if turns and turns[-1].role == context_pb.ROLE_CUSTOMER:
        turns = turns[:-1]
    waiting: dict[str, tuple[str, str]] = {}
    # What the context service remembers of the customer (beyond the recent turns), then
    # what the recent turns give, read in the light of what the bot asked.
    slots: dict[str, str] = {slot.name: slot.value for slot in history.slots}
    for turn in turns:
        if turn.role == context_pb.ROLE_BOT:
            waiting[turn.conversation_id] = _asks(turn.decision.template)
        elif turn.role == context_pb.ROLE_CUSTOMER:
            awaiting, _ = waiting.pop(turn.conversation_id, ("", ""))
            slots.update(slots_given(turn.text, awaiting))
    here = [
        t
        for t in turns
        if t.conversation_id == conversation_id and t.role != context_pb.ROLE_CUSTOMER
    ]
    stalled = 0
    for turn in reversed(here):
        if turn.role != context_pb.ROLE_BOT or not _no_progress(turn.decision.template):
            break
        stalled += 1
    failed = sum(t.decision.template.startswith(f"{ORDER}{ORDER_NOT_VERIFIED}/") for t in here)
    awaiting, asked_for = waiting.get(conversation_id, ("", ""))
    last = here[-1].decision.template if here and here[-1].role == context_pb.ROLE_BOT else ""
    offers = last in OFFERS_A_PERSON or last.startswith(f"{ORDER}{ORDER_NOT_VERIFIED}/")
    return DialogueState(awaiting, asked_for, slots, stalled, failed, offers)
