"""Calibrates the encoder's heads on dev data, then scores them on the test splits.

Run in the runtime venv: ``.venv/bin/python -m services.emotion.training.evaluate_encoder``
(``make eval`` does). It reads the int8 file the service serves, through the service's
own code (:class:`Encoder`, :class:`EncoderHeads`), and writes ``encoder/heads.json``
(what the service loads), ``encoder/metrics.json`` and the card ``encoder.md``. Dev rows
choose every threshold; test rows are only scored.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from services.emotion.config import SHIPPED_INTENTS
from services.emotion.encoder import Encoder, Floats, sigmoid, softmax
from services.emotion.encoder_heads import EncoderHeads
from services.emotion.example_intents import ExampleIntents, load_examples
from services.emotion.predictor import RAPPORT_EMOTIONS, sentiment_at
from services.emotion.training import datasets, encoder_card, few_shot
from services.emotion.training.datasets import MODELS, SEED
from services.emotion.training.evaluate import (
    GRID,
    NEVER,
    Matrix,
    best_threshold,
    class_report,
    f1,
    fit_platt,
    group_max,
    multi_hot,
    platt,
    texts_of,
    tuned_macro_f1,
)
from services.emotion.training.multitask import EKMAN_LABELS, banking77_splits
from services.emotion.training.taxonomy import (
    GOEMOTIONS_TO_RAPPORT,
    SENTIMENTS,
    map_labels,
    sentiment_of,
)

ENCODER = MODELS / "encoder"
VERSION = "encoder-en-2026.12.1"
# VADER's own documented cut points on its compound score.
VADER_CUT = (-0.05, 0.05)
EXAMPLE_GRID = np.round(np.arange(0.30, 0.91, 0.02), 2)


def probabilities(logits: Floats) -> Matrix:
    """Sigmoid probabilities in the float64 the fitting helpers take."""
    return sigmoid(logits).astype(np.float64)


def sentiment_rows(split: str) -> list[tuple[str, str]]:
    """GoEmotions' polarity, and Bitext's requests (neutral) and complaints (negative);
    dev adds the English hand-written customer messages, so the cut points are chosen on
    customer-service language too."""
    polarity = datasets.goemotions_polarity()
    rows = [(text, sentiment_of(y, polarity)) for text, y in datasets.goemotions(split)]
    bitext = datasets.bitext_splits()["dev" if split == "dev" else "test"]
    rng = random.Random(SEED)
    sample = rng.sample(bitext, min(len(bitext), len(rows) // 5))
    rows += [(t, "negative" if y == "complaint" else "neutral") for t, y in sample]
    if split == "dev":
        rows += [(m["text"], m["sentiment"]) for m in customer_moods_dev() if m["language"] == "en"]
    return rows


def vader_label(analyzer: SentimentIntensityAnalyzer, text: str) -> str:
    """VADER's reading of ``text`` at its documented cut points (``VADER_CUT``)."""
    return sentiment_at(analyzer.polarity_scores(text)["compound"], VADER_CUT).label


def customer_moods_dev() -> list[dict[str, Any]]:
    """Hand-written customer messages labelled for development (``data/customer-moods-dev``)."""
    return datasets.jsonl(datasets.DATA / "customer-moods-dev" / "moods.jsonl")


def polarity(outputs: Mapping[str, Floats], labels: Sequence[str]) -> Floats:
    probabilities = softmax(outputs["sentiment"])
    positive = probabilities[:, list(labels).index("positive")]
    negative = probabilities[:, list(labels).index("negative")]
    return np.asarray(positive - negative, dtype=np.float32)


def sentiment_cut(score: Floats, gold: Sequence[str]) -> tuple[float, float]:
    """The (negative, positive) cut points with the best macro-F1 on dev."""
    truth = np.array(gold)
    best, cut = -1.0, (-0.5, 0.5)
    for low in GRID - 1:
        for high in GRID:
            pred = np.where(
                score >= high, "positive", np.where(score <= low, "negative", "neutral")
            )
            value = float(np.mean([f1(truth == c, pred == c) for c in SENTIMENTS]))
            if value > best:
                best, cut = value, (round(float(low), 2), round(float(high), 2))
    return cut


def intent_dev_rows(english: bool = True) -> list[dict[str, str]]:
    """The hand-written intent messages for development (``data/intent-dev``): the
    English ones, or those in the other languages."""
    rows = datasets.jsonl(datasets.DATA / "intent-dev" / "intents.jsonl")
    return [r for r in rows if (r["language"] == "en") == english]


def intent_dev(english: bool = True) -> list[tuple[str, str]]:
    """``intent_dev_rows`` as (text, intent) pairs."""
    return [(r["text"], r["intent"]) for r in intent_dev_rows(english)]


def nearest_intents(examples: ExampleIntents, embeddings: Floats) -> tuple[Any, Floats]:
    """Each message's nearest example intent and how near it is (the mean cosine)."""
    similarities = examples.similarities(embeddings)
    return np.array(examples.names)[similarities.argmax(axis=1)], similarities.max(axis=1)


def examples_threshold(
    examples: ExampleIntents, embeddings: Floats, gold: Sequence[str], grid: Floats
) -> float:
    """The example-similarity threshold with the best accuracy on dev messages where only
    the examples decide (ties: the lower threshold, fewer "unknown")."""
    nearest, closeness = nearest_intents(examples, embeddings)
    truth = np.array(gold)
    scores = [float((np.where(closeness >= t, nearest, "unknown") == truth).mean()) for t in grid]
    return float(grid[int(np.argmax(scores))])


def intent_thresholds(encoder: Encoder, examples: ExampleIntents) -> tuple[float, float]:
    """The example-similarity and head-confidence thresholds with the best accuracy on
    the English intent dev messages (ties: the lower thresholds, fewer "unknown")."""
    rows = intent_dev()
    outputs = encoder.run(texts_of(rows))
    gold = np.array([y for _, y in rows])
    labels = np.array(encoder.heads["intent"])
    probabilities = softmax(outputs["intent"])
    head = np.where(probabilities.max(axis=1) > 0, labels[probabilities.argmax(axis=1)], "")
    confidence = probabilities.max(axis=1)
    nearest, closeness = nearest_intents(examples, outputs["embedding"])
    best, chosen = -1.0, (1.0, 1.0)
    for near in EXAMPLE_GRID:
        for t in GRID:
            fallback = np.where(confidence >= t, head, "unknown")
            pred = np.where(closeness >= near, nearest, fallback)
            accuracy = float((pred == gold).mean())
            if accuracy > best:
                best, chosen = accuracy, (float(near), float(t))
    return chosen


def calibrate(encoder: Encoder, examples: ExampleIntents) -> dict[str, Any]:
    """Everything ``EncoderHeads`` needs beyond the model, chosen on dev rows only."""
    dev = datasets.goemotions("dev")
    labels = list(encoder.heads["goemotions"])
    raw = probabilities(encoder.run(texts_of(dev))["goemotions"])
    grouped = group_max(raw, labels, GOEMOTIONS_TO_RAPPORT, RAPPORT_EMOTIONS)
    gold = multi_hot([map_labels(y, GOEMOTIONS_TO_RAPPORT) for _, y in dev], RAPPORT_EMOTIONS)
    calibration, thresholds = {}, {}
    for j, label in enumerate(RAPPORT_EMOTIONS):
        if label not in GOEMOTIONS_TO_RAPPORT.values():
            calibration[label], thresholds[label] = (1.0, 0.0), NEVER
            continue
        a, b = fit_platt(grouped[:, j], gold[:, j])
        calibration[label] = (a, b)
        thresholds[label] = best_threshold(gold[:, j], platt(grouped[:, j], a, b))

    sentiment_dev = sentiment_rows("dev")
    score = polarity(encoder.run(texts_of(sentiment_dev)), encoder.heads["sentiment"])
    cut = sentiment_cut(score, [y for _, y in sentiment_dev])

    near, head = intent_thresholds(encoder, examples)

    sarcasm = datasets.sarcasm_splits()["dev"]
    p = probabilities(encoder.run(texts_of(sarcasm))["sarcasm"])[:, 0]
    truth = np.array([y == "1" for _, y in sarcasm])
    a, b = fit_platt(p, truth)
    return {
        "version": VERSION,
        "emotion": {
            "mapping": GOEMOTIONS_TO_RAPPORT,
            "calibration": calibration,
            "thresholds": thresholds,
        },
        "sentiment": {"cut": cut},
        "sarcasm": {"calibration": (a, b), "threshold": best_threshold(truth, platt(p, a, b))},
        "intent": {"examples_threshold": near, "threshold": head},
    }


def emotion_metrics(encoder: Encoder, heads: EncoderHeads) -> dict[str, Any]:
    dev, test = datasets.goemotions("dev"), datasets.goemotions("test")
    labels = list(encoder.heads["goemotions"])
    out_dev, out_test = encoder.run(texts_of(dev)), encoder.run(texts_of(test))
    gold_dev28, gold_test28 = (multi_hot([y for _, y in rows], labels) for rows in (dev, test))
    f28, thresholds28 = tuned_macro_f1(
        probabilities(out_dev["goemotions"]),
        gold_dev28,
        probabilities(out_test["goemotions"]),
        gold_test28,
    )
    ekman = datasets.ekman_mapping()
    gold_dev_ek, gold_test_ek = (
        multi_hot([map_labels(y, ekman) for _, y in rows], EKMAN_LABELS) for rows in (dev, test)
    )
    f_ek, _ = tuned_macro_f1(
        probabilities(out_dev["ekman"]), gold_dev_ek, probabilities(out_test["ekman"]), gold_test_ek
    )
    f_ek28, _ = tuned_macro_f1(
        group_max(probabilities(out_dev["goemotions"]), labels, ekman, EKMAN_LABELS),
        gold_dev_ek,
        group_max(probabilities(out_test["goemotions"]), labels, ekman, EKMAN_LABELS),
        gold_test_ek,
    )
    readings = heads.read(texts_of(test))
    gold = multi_hot([map_labels(y, GOEMOTIONS_TO_RAPPORT) for _, y in test], RAPPORT_EMOTIONS)
    pred = multi_hot([r.emotions.detected for r in readings], RAPPORT_EMOTIONS)
    per_label = {
        label: round(f1(gold[:, j], pred[:, j]), 4) for j, label in enumerate(RAPPORT_EMOTIONS)
    }
    per_label28 = {
        label: round(f1(gold_test28[:, j], probabilities(out_test["goemotions"])[:, j] >= t), 4)
        for j, (label, t) in enumerate(zip(labels, thresholds28, strict=True))
    }
    return {
        "test_n": len(test),
        "goemotions28_macro_f1": round(f28, 4),
        "ekman_macro_f1": round(f_ek, 4),
        "ekman_macro_f1_from_28": round(f_ek28, 4),
        "rapport_macro_f1": round(float(np.mean(list(per_label.values()))), 4),
        "rapport_f1": per_label,
        "goemotions28_f1": per_label28,
        "reliability": reliability(
            np.array([[r.emotions.scores[x] for x in RAPPORT_EMOTIONS] for r in readings]), gold
        ),
    }


def reliability(scores: Floats, gold: np.ndarray[Any, Any], bins: int = 10) -> list[dict[str, Any]]:
    """Calibration: in each score bin, the mean score against how often the label held."""
    flat_scores, flat_gold = scores.ravel(), gold.ravel()
    rows = []
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = (flat_scores >= low) & (
            flat_scores < high if k < bins - 1 else flat_scores <= high
        )
        if inside.any():
            rows.append(
                {
                    "bin": f"{low:.1f}–{high:.1f}",
                    "n": int(inside.sum()),
                    "mean_score": round(float(flat_scores[inside].mean()), 3),
                    "observed": round(float(flat_gold[inside].mean()), 3),
                }
            )
    return rows


def sentiment_metrics(heads: EncoderHeads) -> dict[str, Any]:
    """The encoder's sentiment next to VADER's on the same test rows."""
    rows = sentiment_rows("test")
    gold = [y for _, y in rows]
    ours = [r.sentiment.label for r in heads.read(texts_of(rows))]
    vader = SentimentIntensityAnalyzer()
    baseline = [vader_label(vader, text) for text, _ in rows]
    return {
        "encoder": class_report(gold, ours, SENTIMENTS),
        "vader": class_report(gold, baseline, SENTIMENTS),
    }


def main() -> None:
    started = time.perf_counter()
    encoder = Encoder(ENCODER, threads=2)
    examples = load_examples(SHIPPED_INTENTS)
    spec = calibrate(encoder, ExampleIntents(lambda t, _: encoder.run(t)["embedding"], examples))
    (ENCODER / "heads.json").write_text(json.dumps(spec, indent=1) + "\n", "utf-8")
    heads = EncoderHeads(encoder, spec)
    heads.use_examples(examples)

    metrics: dict[str, Any] = {"version": VERSION, "emotion": emotion_metrics(encoder, heads)}
    metrics["sentiment"] = sentiment_metrics(heads)
    sarcasm = datasets.sarcasm_splits()["test"]
    truth = np.array([y == "1" for _, y in sarcasm])
    flagged = np.array([r.sarcasm.detected for r in heads.read(texts_of(sarcasm))])
    metrics["sarcasm"] = {"test_n": len(sarcasm), "f1_sarcastic": round(f1(truth, flagged), 4)}
    bitext = datasets.bitext_splits()["test"]
    intents = heads.read(texts_of(bitext))
    metrics["intent"] = {
        "test_n": len(bitext),
        "accuracy": round(
            float(np.mean([r.intent.name == y for r, (_, y) in zip(intents, bitext, strict=True)])),
            4,
        ),
        "threshold": spec["intent"]["threshold"],
    }
    banking = banking77_splits()
    probabilities = encoder.run(texts_of(banking["test"]))["banking77"]
    predicted = np.array(encoder.heads["banking77"])[probabilities.argmax(axis=1)]
    metrics["banking77"] = {
        "test_n": len(banking["test"]),
        "accuracy_full_training": round(
            float((predicted == np.array([y for _, y in banking["test"]])).mean()), 4
        ),
        **few_shot.banking77(encoder, banking),
    }
    (ENCODER / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", "utf-8")
    encoder_card.write(metrics, spec)
    print(json.dumps({k: v for k, v in metrics.items() if k != "emotion"}, indent=1)[:4000])
    print(f"evaluated in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
