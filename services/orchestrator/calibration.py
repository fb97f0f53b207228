"""``python -m services.orchestrator calibrate --jsonl DEV``: the policy's numeric
thresholds, chosen on development messages labelled with who should answer.

Each line carries ``needs_person`` (true when a person should take over) besides the
message. Every message is decided as a new customer's first (as ``decide`` does); then,
for each rule that hands over and compares a number (``intensity: {gte: 0.7}``), the
values the messages' facts take are tried one rule at a time, keeping the value with the
best F-score of "the bot hands over" against ``needs_person`` (coordinate ascent, two
passes). ``--beta`` weighs recall against precision: below 1 a needless hand-over (an
agent's time, a customer kept waiting for a person) counts more than a miss, which the
bot still answers. It prints each threshold's current and chosen value with their score.
It changes nothing: an operator copies a value into ``policy.yaml``. Run it on
development data only; a threshold chosen on a test set says nothing about the messages
to come.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, BinaryIO

from rapport.events.v1 import messages_pb2

from services.emotion.analyzer import Analyzer, Request
from services.emotion.in_process import analyze_batch
from services.orchestrator.planning import FIRST_MESSAGE, message_facts
from services.orchestrator.policy import Action, Facts, Policy
from shared.message_lines import MAX_LINE_BYTES, MalformedLine, MessageLine, parse_line

HANDS_OVER = frozenset({Action.ESCALATE, Action.REPLY_AND_ESCALATE})
NUMERIC = ("gte", "gt", "lte", "lt")
# The models' readings of how the customer feels: what ``needs_person`` labels judge.
# Other numbers (a language's confidence, a count of contacts) serve rules with other
# purposes, and are not tuned against these labels.
CALIBRATED_FACTS = frozenset({"intensity", "sentiment_score", "sarcasm_score"})
PASSES = 2


@dataclass(frozen=True, slots=True)
class Threshold:
    """One numeric bound of one rule: ``rules[index].when[fact][op]``."""

    index: int
    code: str
    fact: str
    op: str


@dataclass(frozen=True, slots=True)
class Score:
    f_score: float  # F-beta of "hands over" against "needs a person"
    precision: float
    recall: float
    handed_over: int
    right: int  # handed over and needed a person
    missed: int  # needed a person, kept by the bot


def read_labelled(stream: BinaryIO) -> list[tuple[MessageLine, bool]]:
    """Messages with their ``needs_person`` label; MalformedLine names a bad line."""
    found = []
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        message = parse_line(number, raw)
        if message is None:
            continue
        label = json.loads(raw).get("needs_person")
        if not isinstance(label, bool):
            raise MalformedLine(number, "needs_person must be true or false")
        found.append((message, label))
    if not found:
        raise MalformedLine(number, "no labelled message in the file")
    return found


def thresholds(policy: Policy) -> list[Threshold]:
    return [
        Threshold(i, rule.code, fact, op)
        for i, rule in enumerate(policy.rules)
        if rule.action in HANDS_OVER
        for fact, condition in rule.when.items()
        if fact in CALIBRATED_FACTS and isinstance(condition, dict)
        for op in condition
        if op in NUMERIC
    ]


def value_of(policy: Policy, threshold: Threshold) -> float:
    return float(policy.rules[threshold.index].when[threshold.fact][threshold.op])


def with_value(policy: Policy, threshold: Threshold, value: float) -> Policy:
    rule = policy.rules[threshold.index]
    condition = {**rule.when[threshold.fact], threshold.op: value}
    changed = replace(rule, when={**rule.when, threshold.fact: condition})
    rules = policy.rules[: threshold.index] + (changed,) + policy.rules[threshold.index + 1 :]
    return replace(policy, rules=rules)


def score(policy: Policy, facts: Sequence[Facts], gold: Sequence[bool], beta: float = 1.0) -> Score:
    decided = [policy.decide(f).action in HANDS_OVER for f in facts]
    right = sum(d and g for d, g in zip(decided, gold, strict=True))
    missed = sum(g and not d for d, g in zip(decided, gold, strict=True))
    precision = right / sum(decided) if right else 0.0
    recall = right / (right + missed) if right else 0.0
    weight = beta * beta
    f_score = (1 + weight) * precision * recall / (weight * precision + recall) if right else 0.0
    return Score(
        round(f_score, 4), round(precision, 4), round(recall, 4), sum(decided), right, missed
    )


def candidates(facts: Sequence[Facts], fact: str) -> list[float]:
    """Every value the fact takes on the messages, rounded: the bounds worth trying."""
    values = {round(float(getattr(f, fact)), 2) for f in facts if getattr(f, fact) is not None}
    return sorted(values)


def calibrate(
    policy: Policy, facts: Sequence[Facts], gold: Sequence[bool], beta: float = 1.0
) -> tuple[Policy, dict[str, Any]]:
    """The policy with each threshold at its best F-beta on these messages, and a report."""
    tuned = policy
    for _ in range(PASSES):
        for threshold in thresholds(tuned):
            # A value replaces the current one only by doing strictly better: a rule the
            # messages never reach (a trend, on first messages) keeps its threshold.
            best, best_score = value_of(tuned, threshold), score(tuned, facts, gold, beta).f_score
            for value in candidates(facts, threshold.fact):
                tried = score(with_value(tuned, threshold, value), facts, gold, beta).f_score
                if tried > best_score:
                    best, best_score = value, tried
            tuned = with_value(tuned, threshold, best)
    report = {
        "messages": len(gold),
        "needing_a_person": sum(gold),
        "beta": beta,
        "before": asdict(score(policy, facts, gold, beta)),
        "after": asdict(score(tuned, facts, gold, beta)),
        "thresholds": [
            {
                "rule": t.code,
                "condition": f"{t.fact} {t.op}",
                "current": value_of(policy, t),
                "chosen": value_of(tuned, t),
            }
            for t in thresholds(policy)
        ],
    }
    return tuned, report


def facts_of(policy: Policy, analyzer: Analyzer, messages: Sequence[MessageLine]) -> list[Facts]:
    """What the rules read of each message, decided as a new customer's first."""
    requests = [Request(m.text, m.language_hint) for m in messages]
    analyses = analyze_batch(analyzer, requests, include_drivers=False)
    return [
        message_facts(
            policy,
            messages_pb2.MessageReceived(text=m.text, locale_hint=m.language_hint),
            analysis,
            FIRST_MESSAGE,
        )
        for m, analysis in zip(messages, analyses, strict=True)
    ]
