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
PRODUCT = "product"  # the item the customer means (what to order, what a refund is for)
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
KNOWN_PRODUCT = "known_product"  # answer/<intent>/known_product: the intent, with the item
ASKS_FOR_PRODUCT = frozenset(
    intent
    for intent, answer in VOICE.libraries[VOICE.default_language].answers.items()
    if answer.known_product is not None
)
"""The intents whose answer asks which item the customer means (the voice has a sentence
for when it is known, which offers a person: the bot cannot order or refund it)."""
OFFERS_A_PERSON = frozenset(
    {KNOWLEDGE_UNKNOWN, OFFER_PERSON, *(f"answer/{i}/{KNOWN_PRODUCT}" for i in ASKS_FOR_PRODUCT)}
)
NO_PROGRESS = frozenset({"answer/unknown", KNOWLEDGE_UNKNOWN, OFFER_PERSON})
"""Replies that could not help: asked for more, or said the bot does not know."""

# A reference has a digit, 4 to 20 letters, digits or dashes: "48213", "fd8cc0", "A-1042".
_REFERENCE = r"#?([A-Za-z0-9][A-Za-z0-9-]{2,18}[A-Za-z0-9])"
_ORDER_WORDS = r"(?:order|pedido|commande|bestellung|bestellnummer|auftrag|encomenda)"
_NAMED = re.compile(
    _ORDER_WORDS + r"\s*"
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
# Words that open an answer naming an item ("it's the blue hoodie", "c'est l'écharpe"),
# per language: dropped, so the reply says "blue hoodie", not "it's the blue hoodie".
_FILLERS = (
    "it's", "it is", "its", "that's", "that is", "i'd like", "i would like", "i want",
    "i'm looking for", "looking for", "just", "the", "a", "an", "some",
    "es", "son", "quiero", "busco", "me gustaría", "el", "la", "los", "las", "un", "una",
    "unos", "unas",
    "c'est", "ce sont", "je veux", "je voudrais", "je cherche", "le", "les", "l'", "une", "des",
    "es ist", "das ist", "ich möchte", "ich will", "ich suche", "der", "die", "das", "den",
    "ein", "eine", "einen",
    "é", "são", "quero", "eu quero", "procuro", "gostaria de", "o", "os", "as", "um", "uma",
)  # fmt: skip
# A greeting, a yes or thanks before the item ("ok, the blue one") is dropped too...
_COURTESIES = (
    "hi", "hello", "hey", "hola", "buenas", "bonjour", "salut", "hallo", "olá", "ola", "oi",
    "yes", "yeah", "yep", "sure", "ok", "okay", "sí", "si", "vale", "claro", "oui", "ja", "sim",
    "thanks", "thank you", "thx", "ty", "cheers", "gracias", "merci", "danke", "obrigado",
    "obrigada", "please", "por favor", "s'il vous plaît", "bitte",
)  # fmt: skip
# ...and a reply made only of them, a no, "thanks a lot", "don't know" or the fillers
# ("the") names no item.
_NOT_AN_ITEM = frozenset(
    "no nope nah non nein não nao many lot so much very muchas muito vielen dank beaucoup "
    "i don't know dunno idk not sure idea sé sais pas je ne weiß nicht ich sei".split()
) | {word for phrase in (*_FILLERS, *_COURTESIES) for word in phrase.split()}
_OPENING = re.compile(
    "^(?:"
    + "|".join(
        re.escape(words).replace("'", "['’]")
        + ("" if words.endswith("'") else r"(?:[,.!:;]*\s+|[,.!:;]+)")
        for words in sorted((*_FILLERS, *_COURTESIES), key=len, reverse=True)
    )
    + ")",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+(?:['’]\w+)*")
# The answer without what surrounds it: quotes, full stops, "¡...!" (a closing bracket of
# "hoodie (M)" stays).
_EDGES = re.compile(r"^[^\w(]+|[^\w)]+$")
# An answer about an order ("I want to cancel my order") is another request, not an item.
_ABOUT_AN_ORDER = re.compile(r"(?<!\w)" + _ORDER_WORDS + r"(?:s|en)?(?!\w)", re.IGNORECASE)


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


PRODUCT_ANSWER_WORDS = 8
"""Most words an answer naming an item has ("the blue hoodie in M"); a longer message says
something else."""
PRODUCT_CHARACTERS = 80
"""Most characters of an item's name; a longer answer is not read as one (never cut: the
reply repeats it)."""


def product_given(text: str, *, asked: bool) -> str:
    """The item ``text`` names when the bot has just asked which one ("" for none): a short
    answer that is not a question, nor about an order, nor only a greeting, yes, no or
    thanks; without what surrounds it, nor the words opening it ("ok, it's the", "c'est
    l'", "die"), so the reply can repeat it."""
    if not asked or "?" in text or "¿" in text or len(text.split()) > PRODUCT_ANSWER_WORDS:
        return ""
    item = _EDGES.sub("", text.strip())
    while (opening := _OPENING.match(item)) and opening.end() < len(item):
        item = item[opening.end() :]
    words = {word.lower().replace("’", "'") for word in _WORD.findall(item)}
    if not words or words <= _NOT_AN_ITEM or _ABOUT_AN_ORDER.search(item):
        return ""
    return item if len(item) <= PRODUCT_CHARACTERS else ""


def slots_given(text: str, awaiting: str) -> dict[str, str]:
    """What ``text`` gives of the order number, email, postal code and item, read in the
    light of what the bot was waiting for. A reply giving any of the others names no item
    (an order number wins)."""
    found = {
        ORDER_REFERENCE: order_reference(text, asked=awaiting == ORDER_REFERENCE),
        EMAIL: email_given(text),
        POSTAL_CODE: postal_code_given(text, asked=awaiting == VERIFICATION),
    }
    given = {name: value for name, value in found.items() if value}
    product = "" if given else product_given(text, asked=awaiting == PRODUCT)
    return given | {PRODUCT: product} if product else given


@dataclass(frozen=True, slots=True)
class DialogueState:
    awaiting: str = ""  # what the bot's last message asked for: order_reference,
    # verification (the order's email and postal code), product, person (its offer of
    # one), ""
    asked_for: str = ""  # the intent the bot asked the order number (its details, the item) for
    slots: Mapping[str, str] = field(default_factory=dict)  # given before, on any channel
    stalled_turns: int = 0  # the bot's latest replies in a row that could not help
    failed_checks: int = 0  # order details given here that did not match the order
    offers_person: bool = False  # the bot's last message offered a person


def _asks(template: str) -> tuple[str, str]:
    """(what a reply with ``template`` waits for, the intent it asked the order or the item
    for)."""
    intent = template.removeprefix("answer/")
    if template.startswith("answer/") and intent in ASKS_FOR_ORDER:
        return ORDER_REFERENCE, intent
    if template.startswith("answer/") and intent in ASKS_FOR_PRODUCT:
        return PRODUCT, intent
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
    # what the recent turns give, read in the light of what the bot asked. An item named
    # counts once the bot's reply took it as one (not, say, "a person please").
    slots: dict[str, str] = {slot.name: slot.value for slot in history.slots}
    named: dict[str, str] = {}
    for turn in turns:
        if turn.role == context_pb.ROLE_BOT:
            waiting[turn.conversation_id] = _asks(turn.decision.template)
            item = named.pop(turn.conversation_id, "")
            if item and turn.decision.template.endswith(f"/{KNOWN_PRODUCT}"):
                slots[PRODUCT] = item
        elif turn.role == context_pb.ROLE_CUSTOMER:
            awaiting, _ = waiting.pop(turn.conversation_id, ("", ""))
            given = slots_given(turn.text, awaiting)
            named[turn.conversation_id] = given.pop(PRODUCT, "")
            slots.update(given)
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
