"""How the service reads messages phrased as customers write them, next to VADER.

Run in the runtime venv: ``.venv/bin/python -m services.emotion.training.evaluate_real``
(``make eval`` does). It reads the hand-written test sets in ``tests/data/`` (intent in
five languages; sentiment, emotion and "needs a person" in seven) through the service's
own analyzer and the orchestrator's policy, exactly as a first message would be decided,
and writes ``models/real-phrased.md`` and ``models/real-phrased.json``. Nothing is tuned
here: these sets are for measuring only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from services.emotion.analyzer import Analyzer, Request, full_analyses
from services.emotion.config import EmotionSettings
from services.emotion.in_process import load_analyzer
from services.emotion.predictor import RAPPORT_EMOTIONS
from services.emotion.training import datasets
from services.emotion.training.cards import table
from services.emotion.training.datasets import MODELS, REPO
from services.emotion.training.evaluate import class_report
from services.emotion.training.evaluate_encoder import reliability, vader_label
from services.emotion.training.taxonomy import SENTIMENTS
from services.orchestrator.calibration import HANDS_OVER, facts_of
from services.orchestrator.policy import Policy
from shared.message_lines import MessageLine

TEST_DATA = REPO / "tests" / "data"
RELIABILITY_HEADER = ("language", "score bin", "mean score", "share where the label held", "n")
MOOD_HEADER = (
    "language",
    "messages",
    "sentiment macro-F1",
    "negative read as upset",
    "emotion accuracy",
    "hand-over recall / precision",
)
NEGATIVE_EMOTIONS = frozenset({"anger", "frustration", "sadness", "anxiety"})


def rows(name: str) -> list[dict[str, Any]]:
    return datasets.jsonl(TEST_DATA / name)


def by_language(items: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        grouped[item["language"]].append(item)
    return dict(grouped)


def intent_accuracy(analyzer: Analyzer) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for language, items in by_language(rows("intent_messages.jsonl")).items():
        readings = analyzer.analyze_batch(
            [Request(item["text"]) for item in items], include_drivers=False
        )
        right = sum(
            r.intent.name == item["intent"] for r, item in zip(readings, items, strict=True)
        )
        result[language] = {"n": len(items), "accuracy": round(right / len(items), 4)}
    return result


def moods(analyzer: Analyzer, policy: Policy) -> dict[str, Any]:
    vader = SentimentIntensityAnalyzer()
    result: dict[str, Any] = {}
    for language, items in by_language(rows("customer_moods.jsonl")).items():
        readings = full_analyses(
            analyzer.analyze_batch([Request(item["text"]) for item in items], include_drivers=False)
        )
        gold = [item["sentiment"] for item in items]
        ours = [r.sentiment.label for r in readings]
        upset = [
            r.sentiment.label == "negative" or r.dominant_emotion in NEGATIVE_EMOTIONS
            for r in readings
        ]
        negatives = [i for i, g in enumerate(gold) if g == "negative"]
        messages = [MessageLine(i + 1, item["id"], item["text"]) for i, item in enumerate(items)]
        decided = [
            policy.decide(f).action in HANDS_OVER for f in facts_of(policy, analyzer, messages)
        ]
        needs = [bool(item["needs_person"]) for item in items]
        right = sum(d and n for d, n in zip(decided, needs, strict=True))
        entry: dict[str, Any] = {
            "n": len(items),
            "sentiment": class_report(gold, ours, SENTIMENTS),
            "negative_read_as_upset": round(sum(upset[i] for i in negatives) / len(negatives), 4),
            "emotion_accuracy": round(
                sum(
                    r.dominant_emotion == item["emotion"]
                    for r, item in zip(readings, items, strict=True)
                )
                / len(items),
                4,
            ),
            "reliability": reliability(
                np.array([[r.emotions.scores[x] for x in RAPPORT_EMOTIONS] for r in readings]),
                np.array([[item["emotion"] == x for x in RAPPORT_EMOTIONS] for item in items]),
                bins=5,
            ),
            "handover": {
                "needed": sum(needs),
                "handed_over": sum(decided),
                "recall": round(right / max(sum(needs), 1), 4),
                "precision": round(right / max(sum(decided), 1), 4),
            },
        }
        if language == "en":
            baseline = [vader_label(vader, item["text"]) for item in items]
            entry["vader_sentiment"] = class_report(gold, baseline, SENTIMENTS)
            entry["vader_negative_read_as_negative"] = round(
                sum(baseline[i] == "negative" for i in negatives) / len(negatives), 4
            )
        result[language] = entry
    return result


def card(metrics: dict[str, Any]) -> str:
    intents = metrics["intent"]
    mood = metrics["moods"]
    intent_rows = [(x, v["n"], v["accuracy"]) for x, v in intents.items()]
    mood_rows = [
        (
            x,
            v["n"],
            v["sentiment"]["macro_f1"],
            v["negative_read_as_upset"],
            v["emotion_accuracy"],
            f"{v['handover']['recall']} / {v['handover']['precision']}",
        )
        for x, v in mood.items()
    ]
    en = mood["en"]
    reliability_rows = [
        (x, b["bin"], b["mean_score"], b["observed"], b["n"])
        for x, v in mood.items()
        for b in v["reliability"]
    ]
    return f"""# Real-phrased customer messages

Measured on the hand-written test sets in `tests/data/` (see its README): messages
worded as customers write them, with typos, slang, short lines and other languages.
Nothing was trained, calibrated or chosen on them. Model versions: `{metrics["versions"]}`.

## Intent (Bitext's 27 intents + unknown; target ≥ 0.80 in every language)
{table(("language", "messages", "accuracy"), intent_rows)}

## Sentiment, emotion and hand-over
"Negative read as upset": share of negative messages the service reads as negative or
with a negative dominant emotion. Hand-over: the policy's decision on the message as a
new customer's first, against `needs_person` (recall / precision).

{table(MOOD_HEADER, mood_rows)}

VADER on the English messages: sentiment macro-F1 {en["vader_sentiment"]["macro_f1"]}
(the service: {en["sentiment"]["macro_f1"]}); negative messages read as negative
{en["vader_negative_read_as_negative"]} (the service, as upset: {en["negative_read_as_upset"]}).

## Calibration per language (every emotion score against the message's one emotion)
English scores are calibrated on GoEmotions (Reddit), the others on the hand-written
development messages, so English runs hotter than it should on customers' words.

{table(RELIABILITY_HEADER, reliability_rows)}
"""


def main() -> None:
    analyzer = load_analyzer(EmotionSettings())
    metrics = {
        "versions": dict(analyzer.versions),
        "intent": intent_accuracy(analyzer),
        "moods": moods(analyzer, Policy.load()),
    }
    (MODELS / "real-phrased.json").write_text(json.dumps(metrics, indent=1) + "\n", "utf-8")
    (MODELS / "real-phrased.md").write_text(card(metrics), "utf-8")
    print(card(metrics))


if __name__ == "__main__":
    main()
