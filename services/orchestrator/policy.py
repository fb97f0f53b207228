"""The decision policy: which action a message calls for, and every reason why.

Rules live in ``policy.yaml`` (readable by the business, changed without code); this
module only evaluates them. Pure: no I/O beyond loading the file once.

Actions, weakest to strongest: ``auto_reply`` (the bot answers), ``reply_and_escalate``
(the bot answers and asks a person to take over), ``escalate`` (a holding reply only, a
person answers). ``stay_quiet`` wins over all (a person is already in charge, or the
channel already answered), unless a rule ``speaks_over_a_person`` (a crisis).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from services.orchestrator.ratings import Scale

DEFAULT_POLICY = Path(__file__).resolve().parent / "policy.yaml"


class Action(StrEnum):
    AUTO_REPLY = "auto_reply"
    REPLY_AND_ESCALATE = "reply_and_escalate"
    ESCALATE = "escalate"
    STAY_QUIET = "stay_quiet"


_STRENGTH = {Action.AUTO_REPLY: 0, Action.REPLY_AND_ESCALATE: 1, Action.ESCALATE: 2}


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about the message and the customer when deciding."""

    emotion_available: bool
    dominant_emotion: str = "neutral"
    intensity: float = 0.0
    sentiment_score: float = 0.0
    sarcasm: bool = False
    sarcasm_score: float = 0.0
    # The emotion service's calibrated "a person should answer" signal, and the readings
    # that raised it most (emotion/models/needs-person.md).
    needs_person: bool = False
    needs_person_score: float = 0.0
    needs_person_signals: tuple[str, ...] = ()
    intent: str = "unknown"
    intent_confidence: float = 0.0
    language: str = ""
    language_confidence: float = 0.0
    language_supported: bool = True
    trend: str = "stable"
    contacts_last_7_days: int = 0
    conversation_state: str = "bot"
    human_requested: bool = False
    sensitive_topic: str = ""
    # The message names something that went wrong ("cancelled", "never arrived"...).
    negative_event: bool = False
    # The agent who handed this conversation back to the bot within the bounce window.
    returned_by_agent: str = ""
    # The rules (repeat_contact, worsening_trajectory) whose evidence an agent already
    # dealt with before handing the conversation back, with nothing new since.
    seen_by_agent: tuple[str, ...] = ()
    # The message has words to read; a photo sent alone has none (nothing to analyse).
    has_text: bool = True
    # The text asks something: a question mark, or a clause opening as questions do.
    asks_question: bool = False
    # What the message carries besides text, each kind once: image, voice_note, audio,
    # video, file, location, sticker (services/orchestrator/attachments.py).
    attachment_kinds: tuple[str, ...] = ()
    # The business's knowledge (knowledge/): the article nearest the message ("" with no
    # knowledge to look in), its similarity and calibrated score, whether the bot answers
    # with it (the score reached the threshold and the intent is one of the policy's
    # knowledge_excluded_intents), and whether the article asks a person to follow up.
    knowledge_article: str = ""
    knowledge_similarity: float = 0.0
    knowledge_score: float = 0.0
    knowledge_answers: bool = False
    knowledge_escalates: bool = False
    # Where the conversation stands (dialogue.py): what the bot's last message asked for
    # ("order_reference", "product", "person" or ""); the order number the customer
    # gave, now or before on any channel, with the request it serves (both "" unless one
    # serves this message); the item they named, likewise; the bot's replies in a row
    # that could not help; whether the message agrees ("yes please", "sí").
    awaiting: str = ""
    order_reference: str = ""
    order_intent: str = ""
    product: str = ""
    product_intent: str = ""
    stalled_turns: int = 0
    agrees: bool = False
    # What the shop said of that order (orders.py): "" when it was not asked (no shop
    # connected, or a request no order status answers), found, unverified (its email and
    # postal code are needed), not_verified, not_found, unavailable; and its status when
    # told.
    order_lookup: str = ""
    order_status: str = ""
    # The reply to the bot's "did that answer your question?": helped (a yes, thanks),
    # not_helped (a no), "" (not a reply to it, or a new question).
    answer_check: str = ""
    # The carrier compliance keyword the message is ("stop", "start", "help"), which its
    # channel already answered (SMS); "" for every other message.
    compliance_keyword: str = ""
    # The address the message came from was opted out of messages on its channel (an SMS
    # number that sent STOP, or the same in words) at some time from sending it until now.
    address_opted_out: bool = False

    def values(self) -> dict[str, Any]:
        """Each fact by name: a shallow copy (the values are immutable), which rules read
        and records store; ``dataclasses.asdict`` deep-copies and is the slower for it."""
        return {name: getattr(self, name) for name in FACT_NAMES}


FACT_NAMES = tuple(f.name for f in fields(Facts))


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    explanation: str
    # 0..1: how sure the signal behind the reason is; 1 for a rule on plain facts.
    confidence: float = 1.0


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reasons: tuple[Reason, ...] = ()
    # 0 (routine) .. 1 (most urgent): orders the agents' queue.
    priority: float = 0.0

    @property
    def escalates(self) -> bool:
        return self.action in (Action.REPLY_AND_ESCALATE, Action.ESCALATE)

    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    when: Mapping[str, Any]
    action: Action
    explanation: str
    # The fact holding the score of the signal the rule rests on ("" for plain facts).
    confidence: str = ""
    # The bot answers even while a person is in charge (a message in crisis).
    speaks_over_a_person: bool = False
    # The least priority a decision this rule joins gets (0: none of its own).
    priority: float = 0.0
    # The reason says what the bot's answer says (an article, an order's status): not
    # given when the bot only holds the conversation for a person (escalate).
    about_the_answer: bool = False

    def matches(self, facts: Mapping[str, Any]) -> bool:
        return all(_holds(facts.get(name), expected) for name, expected in self.when.items())

    def reason(self, facts: Mapping[str, Any]) -> Reason:
        confidence = float(facts[self.confidence]) if self.confidence else 1.0
        return Reason(self.code, self.explanation.format(**_readable(facts)), round(confidence, 3))


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "gte": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
    "not_in": lambda a, b: a not in b,
    # On a list of facts (attachment_kinds): at least one item is none of these.
    "any_not_in": lambda a, b: any(item not in b for item in a),
    # On a list of facts: there are items, and every one is one of these.
    "all_in": lambda a, b: bool(a) and all(item in b for item in a),
    # On a list of facts: this item is not among them.
    "excludes": lambda a, b: b not in a,
}


def _at_contract_precision(value: Any) -> Any:
    """Scores cross the gRPC contract as 32-bit floats: an intensity of 0.7 arrives as
    0.699999988. Compared at six decimals, it meets a rule's ``gte: 0.7`` as meant."""
    return round(value, 6) if isinstance(value, float) else value


def _holds(value: Any, expected: Any) -> bool:
    if expected == "any":
        return bool(value)
    if isinstance(expected, list):
        return value in expected
    if isinstance(expected, dict):
        value = _at_contract_precision(value)
        return all(_COMPARISONS[op](value, bound) for op, bound in expected.items())
    return bool(value == expected)


def _plain(text: str) -> str:
    """Text as the lexicons are written: lower case, a typographic apostrophe (phones
    type "don’t") as a plain one."""
    return text.lower().replace("\u2019", "'")


def _phrases(words: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?!\w)")


def _clause_openings(words: Sequence[str]) -> re.Pattern[str]:
    """The words at the start of the text or of a clause (after . , ! ; :)."""
    alternatives = "|".join(re.escape(w.lower()) for w in words)
    return re.compile(r"(?:^|[.,!;:]\s*)[¡¿]?(?:" + alternatives + r")(?!\w)")


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    default_action: Action
    bounce_window: timedelta
    human_request: re.Pattern[str]
    sensitive_topics: Mapping[str, re.Pattern[str]] = field(default_factory=dict)
    negative_events: re.Pattern[str] | None = None
    questions: re.Pattern[str] | None = None
    agreement: re.Pattern[str] | None = None
    disagreement: re.Pattern[str] | None = None
    thanks: re.Pattern[str] | None = None
    knowledge_excluded_intents: frozenset[str] = frozenset()
    rating_scale: Scale = Scale.CSAT_5
    feedback_window: timedelta = timedelta(hours=1)

    @classmethod
    def load(cls, path: Path = DEFAULT_POLICY) -> Policy:
        """Read and check the policy file; a mistake in it stops the service at start-up."""
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        known = set(Facts.__dataclass_fields__)
        rules = []
        for raw in document["rules"]:
            named = set(raw["when"]) | ({raw["confidence"]} if "confidence" in raw else set())
            unknown = named - known
            if unknown:
                raise ValueError(f"rule {raw['code']!r} names unknown facts {sorted(unknown)}")
            rules.append(
                Rule(
                    raw["code"],
                    raw["when"],
                    Action(raw["action"]),
                    raw["explanation"],
                    raw.get("confidence", ""),
                    bool(raw.get("speaks_over_a_person", False)),
                    float(raw.get("priority", 0.0)),
                    bool(raw.get("about_the_answer", False)),
                )
            )
        lexicons = document["lexicons"]
        return cls(
            rules=tuple(rules),
            default_action=Action(document["default_action"]),
            bounce_window=timedelta(minutes=float(document["bounce_window_minutes"])),
            human_request=_phrases(
                [w for words in lexicons["human_request"].values() for w in words]
            ),
            sensitive_topics={
                topic: _phrases(words) for topic, words in lexicons["sensitive_topics"].items()
            },
            negative_events=_phrases(
                [w for words in lexicons["negative_events"].values() for w in words]
            ),
            knowledge_excluded_intents=frozenset(document["knowledge_excluded_intents"]),
            rating_scale=Scale(document["rating_scale"]),
            feedback_window=timedelta(minutes=float(document["feedback_window_minutes"])),
            agreement=_clause_openings(
                [w for words in lexicons["agreement"].values() for w in words]
            ),
            disagreement=_clause_openings(
                [w for words in lexicons["disagreement"].values() for w in words]
            ),
            thanks=_clause_openings([w for words in lexicons["thanks"].values() for w in words]),
            questions=_clause_openings(
                [w for words in lexicons["question_openings"].values() for w in words]
            ),
        )

    def asks_for_a_person(self, text: str) -> bool:
        return self.human_request.search(_plain(text)) is not None

    def quiet_reads(self, names: Collection[str]) -> bool:
        """Whether a rule that keeps the bot quiet reads any of the facts ``names``: until
        those are known, whether the bot answers is not."""
        return any(
            rule.action is Action.STAY_QUIET and not rule.when.keys().isdisjoint(names)
            for rule in self.rules
        )

    def sensitive_topic(self, text: str) -> str:
        """The first sensitive topic the text touches ("" for none)."""
        lowered = _plain(text)
        return next((t for t, p in self.sensitive_topics.items() if p.search(lowered)), "")

    def names_a_negative_event(self, text: str) -> bool:
        return bool(self.negative_events and self.negative_events.search(_plain(text)))

    def agrees(self, text: str) -> bool:
        """The message opens with a yes ("yes please", "sí, claro", "ja gerne")."""
        return bool(self.agreement and self.agreement.search(_plain(text)))

    def answer_check(self, text: str, *, asked: bool = True) -> str:
        """What a reply to the bot's answer says: "helped" (thanks; or a yes when the bot
        ``asked`` "did that answer your question?"), "not_helped" (a no to that
        question), "" (neither, or a new question)."""
        plain = _plain(text)
        if self.asks_a_question(text):
            return ""
        if self.thanks and self.thanks.search(plain):  # before a no: "no worries"
            return "helped"
        if not asked:
            return ""
        if self.disagreement and self.disagreement.search(plain):
            return "not_helped"
        return "helped" if self.agrees(text) else ""

    def asks_a_question(self, text: str) -> bool:
        """A question mark, or a clause that opens the way questions do ("how long...")."""
        if "?" in text or "¿" in text:
            return True
        return bool(self.questions and self.questions.search(_plain(text)))

    def keeps_quiet(self, facts: Facts) -> bool:
        """Whether the decision on ``facts`` is to stay quiet, as ``decide`` would say,
        from only the rules that bear on it: a cheap look ahead."""
        bearing = [
            rule
            for rule in self.rules
            if rule.action is Action.STAY_QUIET or rule.speaks_over_a_person
        ]
        values = {name: getattr(facts, name) for rule in bearing for name in rule.when}
        return _quiet([rule for rule in bearing if rule.matches(values)])

    def decide(self, facts: Facts) -> Decision:
        values = facts.values()
        matched = [rule for rule in self.rules if rule.matches(values)]
        if _quiet(matched):
            return Decision(Action.STAY_QUIET, _reasons(matched, values))
        action = max(
            (rule.action for rule in matched if rule.action is not Action.STAY_QUIET),
            key=lambda a: _STRENGTH[a],
            default=self.default_action,
        )
        if _STRENGTH[action] < _STRENGTH[self.default_action]:
            action = self.default_action
        if action is Action.ESCALATE:  # a holding reply: it answers nothing
            matched = [rule for rule in matched if not rule.about_the_answer]
        least = max((rule.priority for rule in matched), default=0.0)
        return Decision(action, _reasons(matched, values), max(least, _priority(facts, action)))


def _quiet(matched: list[Rule]) -> bool:
    """A matching rule keeps the bot quiet, and none speaks over a person (a crisis)."""
    return any(rule.action is Action.STAY_QUIET for rule in matched) and not any(
        rule.speaks_over_a_person for rule in matched
    )


def _reasons(matched: list[Rule], values: Mapping[str, Any]) -> tuple[Reason, ...]:
    """The matched rules' reasons, each code once: several rules may give one reason in
    different situations."""
    firsts = {rule.code: rule for rule in reversed(matched)}
    return tuple(rule.reason(values) for rule in matched if firsts[rule.code] is rule)


def _readable(values: Mapping[str, Any]) -> dict[str, Any]:
    """Facts as a sentence shows them: 0.93, "voice note", "image, file"."""
    return {k: _readable_value(v) for k, v in values.items()}


def _readable_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list | tuple):
        return ", ".join(_readable_value(item) for item in value)
    return str(value).replace("_", " ")


def _priority(facts: Facts, action: Action) -> float:
    """How soon a person should look: feeling strength, repeats, and sensitive topics."""
    if action is Action.AUTO_REPLY:
        return 0.0
    score = 0.3 + 0.4 * facts.intensity
    if facts.contacts_last_7_days >= 3:
        score += 0.15
    if facts.sensitive_topic:
        score += 0.3
    return round(min(1.0, score), 3)
