"""Composes the bot's reply in the business's one brand voice, in the customer's language.

Every sentence the bot can say lives in ``voice.yaml``: the persona, the disclosure, the
acknowledgement of each emotion at each intensity tier, an answer per intent and
language, the holding replies, the hand-over note, the earlier-contact sentence and the
thanks for each kind of attachment. The file is read and checked once, at import
(``VOICE``): a missing language, intent, emotion, tier, attachment kind or key, a slot a
sentence may not use, an emoji when the persona uses none, or a banned word stops the
service at start-up instead of reaching a customer.

Pure: no I/O beyond loading the file once. A reply acknowledges the feeling first, then
remembers an earlier contact on another channel, then answers the intent; the first bot
message of a conversation says it comes from an automated assistant and how to reach a
person. Slots are filled only with facts passed in (first name, order reference, the
item the customer named, the earlier contact), never invented.

There is no marketing or upselling text anywhere in the library, so a customer in a
negative state (or any other) can never receive one; ``banned_words`` lists promotional
words as well, so none can be added by mistake.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

DEFAULT_VOICE = Path(__file__).resolve().parent / "voice.yaml"

TIERS = ("low", "medium", "high")

SEVERAL = "several"
"""The key of ``attachments.received`` that thanks for more than one attachment."""

STICKER = "sticker"
"""The attachment kind that is a reaction: thanked for only when it is all a message says."""

# The slots each kind of sentence may use; anything else is a mistake in voice.yaml.
_DISCLOSURE_SLOTS = frozenset({"bot_name"})
_DISCLOSURE_NAMED_SLOTS = frozenset({"bot_name", "first_name"})
# An answer that asks for the order number or the item has a sentence for once it is
# known, which must say it: its key, and the one slot it uses.
_KNOWN_SLOTS = {
    "known_order": frozenset({"order_reference"}),
    "known_product": frozenset({"product"}),
}
# Once the item is known the bot offers a person, who can do what it cannot.
_PRODUCT_OFFER = "product_offer"
_EARLIER_SLOTS = frozenset({"channel", "day"})
_CHANNEL_OTHER_SLOTS = frozenset({"channel"})
_DAY_SLOTS = frozenset({"day", "month"})
_AGENT_OPENING_SLOTS = frozenset({"agent_name"})
_POSITION_SLOTS = frozenset({"position"})
_DURATION_SLOTS = frozenset({"duration"})
_BACK_SLOTS = frozenset({"when", "time", "timezone"})
_DATE_SLOTS = frozenset({"date"})
_MINUTES_SLOTS = frozenset({"minutes"})
_HOURS_SLOTS = frozenset({"hours"})
_CRISIS_SLOTS = frozenset({"emergency", "resources"})
_ORDER_SLOTS = frozenset({"order_reference"})
ORDER_STATUSES = (
    "pending",
    "processing",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
    "on_hold",
)
"""What the bot can say of an order, whatever the shop calls it (shop/order.py maps)."""
_NO_SLOTS: frozenset[str] = frozenset()

SMS_TEXTS = {"opted_out": "START", "opted_in": "STOP", "help": "STOP"}
"""What the SMS adapter texts back to the carriers' keywords (STOP, START, HELP), each
with the keyword it must name to be compliant: how to opt back in once opted out, how to
opt out otherwise."""
_BUSINESS_SLOTS = frozenset({"business"})

_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


class VoiceError(ValueError):
    """voice.yaml is incomplete or breaks one of the brand voice's rules."""


@dataclass(frozen=True, slots=True)
class EarlierContact:
    """A message the customer sent us on another channel (a fact from context)."""

    channel: str
    day: date


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply's text and the language it is written in (for the stored turn)."""

    text: str
    language: str


@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time as a customer reads it, rounded already (never invented): whole
    minutes, said in hours when it is a whole number of them, two or more."""

    minutes: int


@dataclass(frozen=True, slots=True)
class Reopening:
    """When the team is back: the moment in the business's time zone, how many days
    from the business's today (0 today, 1 tomorrow) and the zone's IANA name."""

    at: datetime
    days_ahead: int
    timezone: str


@dataclass(frozen=True, slots=True)
class Answer:
    """An intent's answer: what it asks, and for one asking for the order number or the
    item, what it says once the customer has given it (None: it does not ask for it)."""

    ask: str
    known_order: str | None = None
    known_product: str | None = None
    product_offer: str | None = None  # the question after known_product

    def variants(self) -> dict[str, str]:
        """The sentences for what is known, by key (known_order, known_product)."""
        found = {key: getattr(self, key) for key in _KNOWN_SLOTS}
        return {key: text for key, text in found.items() if text is not None}


@dataclass(frozen=True, slots=True)
class OrderSentences:
    """What the bot says of an order the shop was asked about."""

    verify: str  # the details that prove it is the customer's order, asked for
    not_found: str
    not_verified: str  # the details did not match: nothing shared, a person offered
    unavailable: str  # the shop cannot be reached: said plainly (a person follows)
    tracking: str
    tracking_link: str
    status: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Library:
    """Every sentence of one language."""

    disclosure: str
    disclosure_named: str
    apology: str
    acknowledgements: Mapping[str, Mapping[str, str]]
    answers: Mapping[str, Answer]
    holding: str
    holding_caring: str
    # To a customer who wrote of harming themselves: care, and where to get help now.
    holding_crisis: str
    handoff_note: str
    earlier_contact: str
    rating_ask: str
    rating_thanks: str
    # The NPS question (0-10), asked instead of rating_ask when the business chose NPS.
    rating_ask_nps: str
    # After the score: thanks, and what could we do better? Then thanks for the answer.
    rating_follow_up: str
    feedback_thanks: str
    queue_position: str
    # While a customer waits for a person: the recent wait, or that it is not known;
    # when the team is back; the apology for a long wait; and how times are said.
    waiting_wait: str
    waiting_wait_unknown: str
    waiting_back: str
    waiting_overdue: str
    when_today: str
    when_tomorrow: str
    when_weekdays: tuple[str, ...]
    when_date: str
    one_minute: str
    minutes: str
    hours: str
    agent_opening: str
    agent_looking_into: str
    agent_ask_details: str
    # Thanks for what the customer sent, by attachment kind, and "several".
    attachments_received: Mapping[str, str]
    # The bot cannot look at attachments: it has asked a person to.
    attachments_to_a_person: str
    # After thanking for attachments nobody needs to look at (a sticker).
    attachments_follow_up: str
    channel_words: Mapping[str, str]
    # After an answer from the business's knowledge: did it answer the question?
    knowledge_check: str
    # Nothing in the business's knowledge answers: said plainly, and a person offered.
    knowledge_unknown: str
    # Two replies in a row could not help: a person offered instead of asking again.
    offer_person: str
    # The customer said the answer helped: glad, and anything else?
    knowledge_glad: str
    # The answers did not help and a person is taking over: sorry, before the hand-over.
    knowledge_not_helped: str
    orders: OrderSentences
    # The SMS adapter's answers to the carriers' keywords, by SMS_TEXTS key.
    sms: Mapping[str, str]
    day_format: str
    months: tuple[str, ...]
    sign_off: str = ""


def tier(intensity: float) -> str:
    """The intensity tier: low < 0.4 <= medium < 0.7 <= high (thresholds from voice.yaml)."""
    return VOICE.tier(intensity)


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise VoiceError(f"voice.yaml: missing {where}.{key}")
    return mapping[key]


def _slots_in(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _text(value: Any, where: str, slots: frozenset[str]) -> str:
    if not isinstance(value, str):
        raise VoiceError(f"voice.yaml: {where} must be text")
    used = _slots_in(value)
    if used - slots:
        raise VoiceError(f"voice.yaml: {where} uses unknown slots {sorted(used - slots)}")
    return value


def _sentence(mapping: Any, key: str, where: str, slots: frozenset[str]) -> str:
    """The sentence ``where.key`` of voice.yaml, present and using only ``slots``."""
    return _text(_require(mapping, key, where), f"{where}.{key}", slots)


def _answer(value: Any, where: str) -> Answer:
    """An intent's answer: one sentence, or its ``ask`` with a sentence for each thing it
    asks for once given (``known_order``, ``known_product``), which must say it."""
    if not isinstance(value, Mapping):
        return Answer(ask=_text(value, where, _NO_SLOTS))
    unknown = set(value) - {"ask", *_KNOWN_SLOTS, _PRODUCT_OFFER}
    if unknown:
        raise VoiceError(f"voice.yaml: {where} has unknown keys {sorted(unknown)}")
    if ("known_product" in value) != (_PRODUCT_OFFER in value):
        raise VoiceError(f"voice.yaml: {where} needs known_product and product_offer together")
    known = {
        key: _sentence(value, key, where, slots)
        for key, slots in _KNOWN_SLOTS.items()
        if key in value
    }
    if not known:
        raise VoiceError(f"voice.yaml: {where} needs one of {sorted(_KNOWN_SLOTS)}, or one text")
    for key, text in known.items():
        if _slots_in(text) != _KNOWN_SLOTS[key]:
            raise VoiceError(f"voice.yaml: {where}.{key} must use {sorted(_KNOWN_SLOTS[key])}")
    offer = _sentence(value, _PRODUCT_OFFER, where, _NO_SLOTS) if _PRODUCT_OFFER in value else None
    return Answer(ask=_sentence(value, "ask", where, _NO_SLOTS), product_offer=offer, **known)


def _variants(library: Library) -> dict[str, set[str]]:
    """Which sentences for what is known each intent's answer has."""
    return {intent: set(answer.variants()) for intent, answer in library.answers.items()}


def _order_sentences(raw: Any, where: str) -> OrderSentences:
    status = _require(raw, "status", where)
    return OrderSentences(
        verify=_sentence(raw, "verify", where, _ORDER_SLOTS),
        not_found=_sentence(raw, "not_found", where, _ORDER_SLOTS),
        not_verified=_sentence(raw, "not_verified", where, _ORDER_SLOTS),
        unavailable=_sentence(raw, "unavailable", where, _ORDER_SLOTS),
        tracking=_sentence(raw, "tracking", where, frozenset({"carrier", "tracking_number"})),
        tracking_link=_sentence(raw, "tracking_link", where, frozenset({"tracking_url"})),
        status={
            name: _sentence(status, name, f"{where}.status", _ORDER_SLOTS)
            for name in ORDER_STATUSES
        },
    )


def _sms_texts(raw: Any, where: str) -> dict[str, str]:
    """The answers to the carriers' keywords, each naming the business and its keyword."""
    texts = {key: _sentence(raw, key, where, _BUSINESS_SLOTS) for key in SMS_TEXTS}
    for key, text in texts.items():
        if _slots_in(text) != _BUSINESS_SLOTS:
            raise VoiceError(f"voice.yaml: {where}.{key} must name the business ({{business}})")
        if SMS_TEXTS[key] not in text:
            raise VoiceError(f"voice.yaml: {where}.{key} must say to reply {SMS_TEXTS[key]}")
    return texts


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise VoiceError(f"voice.yaml: {where} must be a non-empty list of names")
    return tuple(value)


def _phrases(words: Iterable[str]) -> re.Pattern[str]:
    return re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?!\w)", re.IGNORECASE
    )


class Voice:
    """The brand voice, loaded from voice.yaml and checked completely."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        persona = _require(document, "persona", "")
        self.name: str = _text(_require(persona, "name", "persona"), "persona.name", _NO_SLOTS)
        self.formality: str = _require(persona, "formality", "persona")
        self.warmth: str = _require(persona, "warmth", "persona")
        self.emoji: str = _require(persona, "emoji", "persona")
        if self.formality not in {"casual", "polite", "formal"}:
            raise VoiceError(f"voice.yaml: persona.formality {self.formality!r} is unknown")
        if self.warmth not in {"neutral", "warm"}:
            raise VoiceError(f"voice.yaml: persona.warmth {self.warmth!r} is unknown")
        if self.emoji not in {"none", "sparing"}:
            raise VoiceError(f"voice.yaml: persona.emoji {self.emoji!r} is unknown")
        sign_off = _require(persona, "sign_off", "persona") or {}
        self.default_language: str = _require(document, "default_language", "")
        tiers = _require(document, "tiers", "")
        self.medium_from = float(_require(tiers, "medium", "tiers"))
        self.high_from = float(_require(tiers, "high", "tiers"))
        if not 0 < self.medium_from < self.high_from <= 1:
            raise VoiceError("voice.yaml: tiers must satisfy 0 < medium < high <= 1")
        self.emotions = _names(_require(document, "emotions", ""), "emotions")
        self.intents = _names(_require(document, "intents", ""), "intents")
        if "unknown" not in self.intents:
            raise VoiceError("voice.yaml: intents must include 'unknown' (the clarifying answer)")
        self.channels = _names(_require(document, "channels", ""), "channels")
        self.attachment_kinds = _names(
            _require(document, "attachment_kinds", ""), "attachment_kinds"
        )
        banned = _require(document, "banned_words", "")
        if not isinstance(banned, Mapping):
            raise VoiceError("voice.yaml: banned_words must list words per language")
        self.banned_words: tuple[str, ...] = tuple(
            word for words in banned.values() for word in _names(words, "banned_words")
        )
        self._banned = _phrases(self.banned_words)
        raw_languages = _require(document, "languages", "")
        if self.default_language not in raw_languages:
            raise VoiceError(f"voice.yaml: no library for the default {self.default_language!r}")
        self.libraries: dict[str, Library] = {
            code: self._library(code, raw, sign_off.get(code, "") if sign_off else "")
            for code, raw in raw_languages.items()
        }
        if sign_off and set(sign_off) != set(self.libraries):
            raise VoiceError("voice.yaml: persona.sign_off must cover every language, or none")
        # The dialogue reads which intents ask for the order or the item from the default
        # language (dialogue.py): every language must say it once given.
        expected = _variants(self.libraries[self.default_language])
        for code, library in self.libraries.items():
            differ = sorted(i for i, v in _variants(library).items() if v != expected[i])
            if differ:
                raise VoiceError(
                    f"voice.yaml: languages.{code}.answers of {differ} must have the "
                    f"known_order/known_product sentences {self.default_language}'s have"
                )
        for where, sentence in self._sentences():
            self._check(sentence, where)

    @classmethod
    def load(cls, path: Path = DEFAULT_VOICE) -> Voice:
        """Read and check voice.yaml; a mistake in it stops the service at start-up."""
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def _library(self, code: str, raw: Any, sign_off: str) -> Library:
        where = f"languages.{code}"
        acks_raw = _require(raw, "acknowledgements", where)
        acknowledgements = {
            emotion: {
                level: _text(
                    _require(
                        _require(acks_raw, emotion, f"{where}.acknowledgements"),
                        level,
                        f"{where}.acknowledgements.{emotion}",
                    ),
                    f"{where}.acknowledgements.{emotion}.{level}",
                    _NO_SLOTS,
                )
                for level in TIERS
            }
            for emotion in self.emotions
        }
        answers_raw = _require(raw, "answers", where)
        answers = {
            intent: _answer(
                _require(answers_raw, intent, f"{where}.answers"), f"{where}.answers.{intent}"
            )
            for intent in self.intents
        }
        holding = _require(raw, "holding", where)
        waiting = _require(raw, "waiting", where)
        durations = _require(waiting, "durations", f"{where}.waiting")
        weekdays = _names(_require(waiting, "on_weekday", f"{where}.waiting"), where)
        if len(weekdays) != 7:
            raise VoiceError(f"voice.yaml: {where}.waiting.on_weekday must name 7 days")
        agent = _require(raw, "agent", where)
        attachments = _require(raw, "attachments", where)
        received_raw = _require(attachments, "received", f"{where}.attachments")
        received = {
            kind: _text(
                _require(received_raw, kind, f"{where}.attachments.received"),
                f"{where}.attachments.received.{kind}",
                _NO_SLOTS,
            )
            for kind in (*self.attachment_kinds, SEVERAL)
        }
        rating = _require(raw, "rating", where)
        words_raw = _require(raw, "channel_words", where)
        channel_words = {
            channel: _text(
                _require(words_raw, channel, f"{where}.channel_words"),
                f"{where}.channel_words.{channel}",
                _NO_SLOTS,
            )
            for channel in self.channels
        }
        channel_words["other"] = _text(
            _require(words_raw, "other", f"{where}.channel_words"),
            f"{where}.channel_words.other",
            _CHANNEL_OTHER_SLOTS,
        )
        knowledge = _require(raw, "knowledge", where)
        months = _names(_require(raw, "months", where), f"{where}.months")
        if len(months) != 12:
            raise VoiceError(f"voice.yaml: {where}.months must name 12 months")
        return Library(
            disclosure=_text(_require(raw, "disclosure", where), where, _DISCLOSURE_SLOTS),
            disclosure_named=_text(
                _require(raw, "disclosure_named", where), where, _DISCLOSURE_NAMED_SLOTS
            ),
            apology=_text(_require(raw, "apology", where), f"{where}.apology", _NO_SLOTS),
            acknowledgements=acknowledgements,
            answers=answers,
            holding=_text(_require(holding, "ordinary", f"{where}.holding"), where, _NO_SLOTS),
            holding_caring=_text(_require(holding, "caring", f"{where}.holding"), where, _NO_SLOTS),
            holding_crisis=_sentence(holding, "crisis", f"{where}.holding", _CRISIS_SLOTS),
            handoff_note=_text(_require(raw, "handoff_note", where), where, _NO_SLOTS),
            earlier_contact=_text(_require(raw, "earlier_contact", where), where, _EARLIER_SLOTS),
            rating_ask=_text(_require(rating, "ask", f"{where}.rating"), where, _NO_SLOTS),
            rating_thanks=_text(_require(rating, "thanks", f"{where}.rating"), where, _NO_SLOTS),
            rating_ask_nps=_sentence(rating, "ask_nps", f"{where}.rating", _NO_SLOTS),
            rating_follow_up=_sentence(rating, "follow_up", f"{where}.rating", _NO_SLOTS),
            feedback_thanks=_sentence(rating, "feedback_thanks", f"{where}.rating", _NO_SLOTS),
            queue_position=_text(
                _require(raw, "queue_position", where), f"{where}.queue_position", _POSITION_SLOTS
            ),
            waiting_wait=_sentence(waiting, "wait", f"{where}.waiting", _DURATION_SLOTS),
            waiting_wait_unknown=_sentence(waiting, "wait_unknown", f"{where}.waiting", _NO_SLOTS),
            waiting_back=_sentence(waiting, "back", f"{where}.waiting", _BACK_SLOTS),
            waiting_overdue=_sentence(waiting, "overdue", f"{where}.waiting", _DURATION_SLOTS),
            when_today=_sentence(waiting, "today", f"{where}.waiting", _NO_SLOTS),
            when_tomorrow=_sentence(waiting, "tomorrow", f"{where}.waiting", _NO_SLOTS),
            when_weekdays=weekdays,
            when_date=_sentence(waiting, "on_date", f"{where}.waiting", _DATE_SLOTS),
            one_minute=_sentence(durations, "one_minute", f"{where}.waiting.durations", _NO_SLOTS),
            minutes=_sentence(durations, "minutes", f"{where}.waiting.durations", _MINUTES_SLOTS),
            hours=_sentence(durations, "hours", f"{where}.waiting.durations", _HOURS_SLOTS),
            agent_opening=_text(
                _require(agent, "opening", f"{where}.agent"),
                f"{where}.agent.opening",
                _AGENT_OPENING_SLOTS,
            ),
            agent_looking_into=_text(
                _require(agent, "looking_into", f"{where}.agent"),
                f"{where}.agent.looking_into",
                _NO_SLOTS,
            ),
            agent_ask_details=_text(
                _require(agent, "ask_details", f"{where}.agent"),
                f"{where}.agent.ask_details",
                _NO_SLOTS,
            ),
            attachments_received=received,
            attachments_to_a_person=_text(
                _require(attachments, "to_a_person", f"{where}.attachments"),
                f"{where}.attachments.to_a_person",
                _NO_SLOTS,
            ),
            attachments_follow_up=_text(
                _require(attachments, "follow_up", f"{where}.attachments"),
                f"{where}.attachments.follow_up",
                _NO_SLOTS,
            ),
            channel_words=channel_words,
            knowledge_check=_text(
                _require(knowledge, "check", f"{where}.knowledge"), where, _NO_SLOTS
            ),
            knowledge_unknown=_text(
                _require(knowledge, "unknown", f"{where}.knowledge"), where, _NO_SLOTS
            ),
            offer_person=_text(
                _require(knowledge, "offer_person", f"{where}.knowledge"), where, _NO_SLOTS
            ),
            knowledge_glad=_sentence(knowledge, "glad", f"{where}.knowledge", _NO_SLOTS),
            knowledge_not_helped=_sentence(
                knowledge, "not_helped", f"{where}.knowledge", _NO_SLOTS
            ),
            orders=_order_sentences(_require(raw, "orders", where), f"{where}.orders"),
            sms=_sms_texts(_require(raw, "sms", where), f"{where}.sms"),
            day_format=_text(_require(raw, "day_format", where), where, _DAY_SLOTS),
            months=months,
            sign_off=_text(sign_off, f"persona.sign_off.{code}", _NO_SLOTS),
        )

    def _sentences(self) -> Iterable[tuple[str, str]]:
        """Every sentence of the library, with where it is (for the checks)."""
        for code, lib in self.libraries.items():
            yield f"{code}.disclosure", lib.disclosure
            yield f"{code}.disclosure_named", lib.disclosure_named
            yield f"{code}.apology", lib.apology
            for emotion, levels in lib.acknowledgements.items():
                for level, text in levels.items():
                    yield f"{code}.acknowledgements.{emotion}.{level}", text
            for intent, answer in lib.answers.items():
                yield f"{code}.answers.{intent}", answer.ask
                for key, text in answer.variants().items():
                    yield f"{code}.answers.{intent}.{key}", text
                if answer.product_offer is not None:
                    yield f"{code}.answers.{intent}.{_PRODUCT_OFFER}", answer.product_offer
            yield f"{code}.holding.ordinary", lib.holding
            yield f"{code}.holding.caring", lib.holding_caring
            yield f"{code}.holding.crisis", lib.holding_crisis
            orders = lib.orders
            for name in ("verify", "not_found", "not_verified", "unavailable", "tracking"):
                yield f"{code}.orders.{name}", getattr(orders, name)
            for status, text in orders.status.items():
                yield f"{code}.orders.status.{status}", text
            yield f"{code}.handoff_note", lib.handoff_note
            yield f"{code}.earlier_contact", lib.earlier_contact
            yield f"{code}.rating.ask", lib.rating_ask
            yield f"{code}.rating.thanks", lib.rating_thanks
            yield f"{code}.rating.ask_nps", lib.rating_ask_nps
            yield f"{code}.rating.follow_up", lib.rating_follow_up
            yield f"{code}.rating.feedback_thanks", lib.feedback_thanks
            yield f"{code}.queue_position", lib.queue_position
            yield f"{code}.waiting.wait", lib.waiting_wait
            yield f"{code}.waiting.wait_unknown", lib.waiting_wait_unknown
            yield f"{code}.waiting.back", lib.waiting_back
            yield f"{code}.waiting.overdue", lib.waiting_overdue
            for index, words in enumerate((lib.when_today, lib.when_tomorrow, *lib.when_weekdays)):
                yield f"{code}.waiting.when[{index}]", words
            yield f"{code}.waiting.on_date", lib.when_date
            yield f"{code}.waiting.durations.one_minute", lib.one_minute
            yield f"{code}.waiting.durations.minutes", lib.minutes
            yield f"{code}.waiting.durations.hours", lib.hours
            yield f"{code}.agent.opening", lib.agent_opening
            yield f"{code}.agent.looking_into", lib.agent_looking_into
            yield f"{code}.agent.ask_details", lib.agent_ask_details
            for kind, text in lib.attachments_received.items():
                yield f"{code}.attachments.received.{kind}", text
            yield f"{code}.attachments.to_a_person", lib.attachments_to_a_person
            yield f"{code}.attachments.follow_up", lib.attachments_follow_up
            for channel, words in lib.channel_words.items():
                yield f"{code}.channel_words.{channel}", words
            yield f"{code}.knowledge.check", lib.knowledge_check
            yield f"{code}.knowledge.unknown", lib.knowledge_unknown
            yield f"{code}.knowledge.offer_person", lib.offer_person
            yield f"{code}.knowledge.glad", lib.knowledge_glad
            yield f"{code}.knowledge.not_helped", lib.knowledge_not_helped
            for key, text in lib.sms.items():
                yield f"{code}.sms.{key}", text
            yield f"{code}.sign_off", lib.sign_off

    def _check(self, sentence: str, where: str) -> None:
        banned = self.banned_words_in(sentence)
        if banned:
            raise VoiceError(f"voice.yaml: {where} uses banned words {banned}")
        if self.emoji == "none" and _EMOJI.search(sentence):
            raise VoiceError(f"voice.yaml: {where} has an emoji, and the persona uses none")

    # -- reading the voice ---------------------------------------------------------------

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.libraries)

    def banned_words_in(self, text: str) -> list[str]:
        """The banned words or phrases the text contains (none, for any reply we send)."""
        return [match.group(0) for match in self._banned.finditer(text)]

    def tier(self, intensity: float) -> str:
        if intensity >= self.high_from:
            return "high"
        return "medium" if intensity >= self.medium_from else "low"

    def resolve(self, language: str) -> tuple[str, bool]:
        """The language to answer in, and whether that is a fallback needing the apology.

        The customer's language when the library has it ("pt-BR" counts as "pt"); an
        unknown language gets the default with the apology; "" (not known) gets the
        default without one.
        """
        code = re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0]
        if code in self.libraries:
            return code, False
        return self.default_language, bool(code)

    def disclosure(self, language: str, bot_name: str = "", first_name: str = "") -> str:
        """The first-message notice that the customer is talking to software."""
        lib = self.libraries[self.resolve(language)[0]]
        name = bot_name or self.name
        if first_name:
            return lib.disclosure_named.format(bot_name=name, first_name=first_name)
        return lib.disclosure.format(bot_name=name)

    def acknowledgement(self, language: str, emotion: str | None, intensity: float) -> str:
        """The feeling acknowledged at its intensity ("" for neutral or an unknown emotion)."""
        lib = self.libraries[self.resolve(language)[0]]
        if emotion is None or emotion not in lib.acknowledgements:
            return ""
        return lib.acknowledgements[emotion][self.tier(intensity)]

    def answer(
        self,
        language: str,
        intent: str,
        order_reference: str = "",
        product: str = "",
        *,
        offer_person: bool = True,
    ) -> str:
        """The intent's answer, with the order number or else the item the customer gave
        when it has a sentence for it (it then asks for neither again), or its question.
        With the item, a person is offered unless ``offer_person`` is false (one is
        already being asked for)."""
        lib = self.libraries[self.resolve(language)[0]]
        answer = lib.answers.get(intent, lib.answers["unknown"])
        if order_reference and answer.known_order is not None:
            return answer.known_order.format(order_reference=order_reference)
        if product and answer.known_product is not None:
            noted = answer.known_product.format(product=product)
            return f"{noted} {answer.product_offer}" if offer_person else noted
        return answer.ask

    def knowledge_check(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].knowledge_check

    def knowledge_unknown(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].knowledge_unknown

    def order_sentences(self, language: str) -> OrderSentences:
        return self.libraries[self.resolve(language)[0]].orders

    def knowledge_glad(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].knowledge_glad

    def knowledge_not_helped(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].knowledge_not_helped

    def offer_person(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].offer_person

    def sms_text(self, language: str, key: str, business: str) -> Reply:
        """What the SMS adapter texts back to a carrier keyword (``key`` of SMS_TEXTS), in
        ``language`` (the default when the library has not got it), signed ``business``."""
        used = self.resolve(language)[0]
        return Reply(self.libraries[used].sms[key].format(business=business), used)

    def handoff_note(self, language: str) -> str:
        return self.libraries[self.resolve(language)[0]].handoff_note

    def rating_question(self, language: str, *, nps: bool = False) -> Reply:
        """After an agent resolved the conversation: how did we do, 1 to 5 (CSAT), or
        with ``nps`` how likely to recommend us, 0 to 10."""
        used = self.resolve(language)[0]
        lib = self.libraries[used]
        return Reply(lib.rating_ask_nps if nps else lib.rating_ask, used)

    def rating_thanks(self, language: str) -> Reply:
        used = self.resolve(language)[0]
        return Reply(self.libraries[used].rating_thanks, used)

    def rating_follow_up(self, language: str) -> Reply:
        """After the score: thanks, and is there anything we could do better?"""
        used = self.resolve(language)[0]
        return Reply(self.libraries[used].rating_follow_up, used)

    def feedback_thanks(self, language: str) -> Reply:
        used = self.resolve(language)[0]
        return Reply(self.libraries[used].feedback_thanks, used)

    def queue_position(
        self,
        language: str,
        position: int,
        *,
        wait: Duration | None = None,
        back: Reopening | None = None,
    ) -> Reply:
        """To a customer waiting for a person: their place in line, then when the team
        is back (``back``, outside business hours) or how long recent customers waited
        (``wait``), or, with neither known, that nobody can say yet: never a guess."""
        used = self.resolve(language)[0]
        lib = self.libraries[used]
        if back is not None:
            then = self.reopening(used, back)
        elif wait is not None:
            then = lib.waiting_wait.format(duration=self.duration(used, wait))
        else:
            then = lib.waiting_wait_unknown
        return Reply(f"{lib.queue_position.format(position=position)} {then}", used)

    def overdue_notice(
        self, language: str, position: int, waited: Duration, back: Reopening | None = None
    ) -> Reply:
        """To a customer who has waited longer than the desk's limit: the apology with
        how long, their place in line, and when the team is back if it is away."""
        used = self.resolve(language)[0]
        lib = self.libraries[used]
        parts = [
            lib.waiting_overdue.format(duration=self.duration(used, waited)),
            lib.queue_position.format(position=position),
            self.reopening(used, back) if back is not None else "",
        ]
        return Reply(" ".join(part for part in parts if part), used)

    def duration(self, language: str, length: Duration) -> str:
        """ "a minute", "5 minutes", "2 hours", in the customer's language."""
        lib = self.libraries[self.resolve(language)[0]]
        if length.minutes == 1:
            return lib.one_minute
        if length.minutes >= 120 and length.minutes % 60 == 0:
            return lib.hours.format(hours=length.minutes // 60)
        return lib.minutes.format(minutes=length.minutes)

    def reopening(self, language: str, back: Reopening) -> str:
        """When the team is back: today, tomorrow, on a weekday within the week, or on a
        date; at a 24-hour time, naming the time zone."""
        lib = self.libraries[self.resolve(language)[0]]
        if back.days_ahead == 0:
            when = lib.when_today
        elif back.days_ahead == 1:
            when = lib.when_tomorrow
        elif back.days_ahead < 7:
            when = lib.when_weekdays[back.at.weekday()]
        else:
            when = lib.when_date.format(date=_day(lib, back.at.date()))
        return lib.waiting_back.format(when=when, time=f"{back.at:%H:%M}", timezone=back.timezone)

    def agent_drafts(
        self,
        *,
        language: str,
        agent_name: str,
        emotion: str | None,
        intensity: float,
        intent: str,
        introduce: bool,
    ) -> list[Reply]:
        """Replies a person of the team may start from, in the brand voice: the feeling
        acknowledged at its tier, then the intent's question, a promise to look into it,
        or a request for details; opened with who they are while ``introduce``."""
        used = self.resolve(language)[0]
        lib = self.libraries[used]
        opening = lib.agent_opening.format(agent_name=agent_name) if introduce else ""
        feeling = self.acknowledgement(used, emotion, intensity)
        bodies = [lib.agent_looking_into, lib.agent_ask_details]
        # The bot's answer to "a person, please" is the hand-over itself: no draft of it.
        if intent != "contact_human_agent":
            bodies.insert(0, self.answer(used, intent))
        return [Reply(" ".join(p for p in (opening, feeling, body) if p), used) for body in bodies]

    def earlier_contact(self, language: str, contact: EarlierContact) -> str:
        lib = self.libraries[self.resolve(language)[0]]
        where = lib.channel_words.get(contact.channel) or lib.channel_words["other"].format(
            channel=contact.channel
        )
        return lib.earlier_contact.format(channel=where, day=_day(lib, contact.day))

    def attachments_received(self, language: str, kinds: Sequence[str]) -> str:
        """Thanks for what the customer sent, saying what it is: one attachment by its
        kind, more than one together ("" for none)."""
        if not kinds:
            return ""
        received = self.libraries[self.resolve(language)[0]].attachments_received
        return received[kinds[0]] if len(kinds) == 1 else received[SEVERAL]

    def compose_reply(
        self,
        *,
        language: str,
        intent: str,
        emotion: str | None,
        intensity: float,
        first_bot_message: bool,
        bot_name: str = "",
        first_name: str = "",
        order_reference: str = "",
        earlier_contact: EarlierContact | None = None,
        attachments: Sequence[str] = (),
        handoff: bool = False,
        attachments_to_a_person: bool = False,
        answer: str = "",
    ) -> Reply:
        """The reply to a message with text: apology (fallback language only), disclosure
        (first time), the feeling acknowledged, thanks for what came with the text (a
        sticker beside words is a reaction to them, not thanked for), the earlier contact
        remembered, the answer (``answer`` when given, such as an article of the business's
        knowledge, else the intent's), then the hand-over note when a person is asked to
        take over — the one saying the bot cannot look at attachments when that is why."""
        lib = self.libraries[self.resolve(language)[0]]
        body = [
            self.acknowledgement(language, emotion, intensity),
            self.attachments_received(language, [k for k in attachments if k != STICKER]),
            self.earlier_contact(language, earlier_contact) if earlier_contact else "",
            answer or self.answer(language, intent, order_reference),
            _closing(lib, handoff, attachments_to_a_person),
        ]
        return self._framed(language, body, first_bot_message, bot_name, first_name)

    def attachment_reply(
        self,
        *,
        language: str,
        attachments: Sequence[str],
        first_bot_message: bool,
        bot_name: str = "",
        first_name: str = "",
        handoff: bool = False,
        attachments_to_a_person: bool = False,
    ) -> Reply:
        """The reply to attachments sent without text (``attachments``: one kind per
        attachment): thanks that say what came, then that a person will look at them,
        the hand-over note, or, when nobody is called, how the bot can help."""
        lib = self.libraries[self.resolve(language)[0]]
        body = [
            self.attachments_received(language, attachments),
            _closing(lib, handoff, attachments_to_a_person) or lib.attachments_follow_up,
        ]
        return self._framed(language, body, first_bot_message, bot_name, first_name)

    def holding_reply(
        self,
        *,
        language: str,
        sensitive: bool,
        first_bot_message: bool,
        bot_name: str = "",
        first_name: str = "",
    ) -> Reply:
        """What the customer reads while a person takes over: calm, caring, no promises."""
        lib = self.libraries[self.resolve(language)[0]]
        body = [lib.holding_caring if sensitive else lib.holding]
        return self._framed(language, body, first_bot_message, bot_name, first_name)

    def crisis_reply(
        self,
        *,
        language: str,
        emergency: str,
        resources: Sequence[str],
        first_bot_message: bool,
        bot_name: str = "",
    ) -> Reply:
        """To a customer who wrote of harming themselves: care, the number to call in
        danger, the services to talk to now, and a person asked to follow up."""
        lib = self.libraries[self.resolve(language)[0]]
        body = [lib.holding_crisis.format(emergency=emergency, resources="; ".join(resources))]
        return self._framed(language, body, first_bot_message, bot_name, "")

    def _framed(
        self,
        language: str,
        body: list[str],
        first_bot_message: bool,
        bot_name: str,
        first_name: str,
    ) -> Reply:
        """A bot message: the apology (fallback language only) and the disclosure (first
        bot message) before ``body``, the sign-off after; empty parts left out."""
        used, fallback = self.resolve(language)
        lib = self.libraries[used]
        parts = [lib.apology] if fallback else []
        if first_bot_message:
            parts.append(self.disclosure(used, bot_name, first_name))
        parts.extend(body)
        parts.append(lib.sign_off)
        return Reply(" ".join(part for part in parts if part), used)


def _day(lib: Library, day: date) -> str:
    """A date as the language writes it ("5 January", "5 de enero")."""
    return lib.day_format.format(day=day.day, month=lib.months[day.month - 1])


def _closing(lib: Library, handoff: bool, attachments_to_a_person: bool) -> str:
    """How a reply ends when a person is asked to take over ("" when nobody is)."""
    if attachments_to_a_person:
        return lib.attachments_to_a_person
    return lib.handoff_note if handoff else ""


VOICE = Voice.load()
