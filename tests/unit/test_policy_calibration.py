"""Choosing the policy's numeric thresholds on labelled development messages."""

from __future__ import annotations

import io

import pytest

from services.orchestrator.calibration import (
    calibrate,
    read_labelled,
    score,
    thresholds,
    value_of,
    with_value,
)
from services.orchestrator.policy import Facts, Policy
from shared.message_lines import MalformedLine


def upset(intensity: float) -> Facts:
    return Facts(emotion_available=True, dominant_emotion="anger", intensity=intensity)


def test_every_numeric_bound_of_a_rule_that_hands_over_can_be_tuned() -> None:
    policy = Policy.load()
    found = {(t.code, t.fact, t.op) for t in thresholds(policy)}
    assert ("strong_negative_emotion", "intensity", "gte") in found
    assert ("sarcasm_on_negative_topic", "sentiment_score", "lte") in found
    assert not any(code == "intent_unclear" for code, _, _ in found)  # it never hands over
    # Counts and a language's confidence serve other purposes than how a customer feels.
    assert not any(fact in ("contacts_last_7_days", "language_confidence") for _, fact, _ in found)


def test_a_threshold_the_messages_never_reach_keeps_its_value() -> None:
    policy = Policy.load()
    tuned, _ = calibrate(policy, [upset(0.9), upset(0.1)], [True, False])
    trends = [t for t in thresholds(policy) if t.code == "worsening_trajectory"]
    assert len(trends) == 2  # one bound for English, one for the other languages
    assert [value_of(tuned, t) for t in trends] == [value_of(policy, t) for t in trends]


def strict_policy() -> Policy:
    """The shipped policy with upset from intensity 0.7, whatever the shipped bound is."""
    policy = Policy.load()
    [intensity] = [t for t in thresholds(policy) if t.code == "strong_negative_emotion"]
    return with_value(policy, intensity, 0.7)


def test_the_intensity_bound_moves_to_where_people_are_needed() -> None:
    """Labels say anger from 0.5 up needs a person; a bound at 0.7 misses two of four."""
    policy = strict_policy()
    facts = [upset(x) for x in (0.1, 0.3, 0.45, 0.55, 0.6, 0.75, 0.9)]
    gold = [False, False, False, True, True, True, True]
    tuned, report = calibrate(policy, facts, gold)
    [intensity] = [t for t in thresholds(policy) if t.code == "strong_negative_emotion"]
    assert 0.45 < value_of(tuned, intensity) <= 0.55
    assert report["before"]["missed"] == 2 and report["after"] == {
        "f_score": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "handed_over": 4,
        "right": 4,
        "missed": 0,
    }
    assert score(with_value(policy, intensity, 0.55), facts, gold).f_score == 1.0


def test_a_beta_below_one_trades_misses_for_fewer_needless_hand_overs() -> None:
    """Two people needed at 0.4 among three calm messages there: F1 hands all five over,
    F0.5 keeps the bound where every hand-over is needed."""
    policy = strict_policy()
    facts = [upset(x) for x in (0.1, 0.4, 0.4, 0.4, 0.4, 0.4, 0.8, 0.9)]
    gold = [False, True, True, False, False, False, True, True]
    [intensity] = [t for t in thresholds(policy) if t.code == "strong_negative_emotion"]
    balanced, _ = calibrate(policy, facts, gold, beta=1.0)
    careful, report = calibrate(policy, facts, gold, beta=0.5)
    assert value_of(balanced, intensity) == 0.4
    assert 0.4 < value_of(careful, intensity) <= 0.8
    assert report["beta"] == 0.5 and report["after"]["precision"] == 1.0


def test_labelled_lines_are_read_and_a_missing_label_names_its_line() -> None:
    good = b'{"id": "a", "text": "where is it", "needs_person": false}\n\n'
    [(message, label)] = read_labelled(io.BytesIO(good))
    assert (message.id, message.text, label) == ("a", "where is it", False)
    bad = good + b'{"text": "I want a human", "needs_person": "yes"}\n'
    with pytest.raises(MalformedLine, match="line 3: needs_person must be true or false"):
        read_labelled(io.BytesIO(bad))
    with pytest.raises(MalformedLine, match="no labelled message"):
        read_labelled(io.BytesIO(b"\n"))
