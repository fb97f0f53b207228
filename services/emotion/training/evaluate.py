"""Tunes calibration and thresholds on dev splits, then scores every head on test splits.

Run in the runtime venv: ``.venv/bin/python -m services.emotion.training.evaluate``. It
uses the runtime's own code (normalisation, fastText-predict, :class:`FastTextPredictor`),
writes ``models/heads.json`` (what the predictor loads), ``models/metrics.json`` and one
model card per model, and prints a table per model. Test splits are never used for tuning.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from services.emotion.predictor import RAPPORT_EMOTIONS
from services.emotion.text import normalize
from services.emotion.training import cards, datasets
from services.emotion.training.datasets import MODELS, XED_LANGUAGES, Labelled
from services.emotion.training.fasttext_models import Ensemble, FastTextPredictor
from services.emotion.training.taxonomy import (
    GOEMOTIONS_TO_RAPPORT,
    SENTIMENTS,
    XED_SENTIMENT,
    XED_TO_RAPPORT,
    map_labels,
    sentiment_of,
)

Matrix = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)
NEVER = 1.01  # threshold of a label a model cannot express
MULTILINGUAL = tuple(language for language in XED_LANGUAGES if language != "en")
INTENT_TOLERANCE = 0.005


# Metrics and fitting ---------------------------------------------------------------------


def f1(gold: Mask, pred: Mask) -> float:
    tp = int((gold & pred).sum())
    denominator = 2 * tp + int((~gold & pred).sum()) + int((gold & ~pred).sum())
    return 2 * tp / denominator if denominator else 0.0


def f_beta(gold: Mask, pred: Mask, beta: float) -> float:
    """F-beta of the positive class: below 1, precision counts more than recall."""
    tp = int((gold & pred).sum())
    if not tp:
        return 0.0
    precision, recall = tp / int(pred.sum()), tp / int(gold.sum())
    return (1 + beta * beta) * precision * recall / (beta * beta * precision + recall)


def best_threshold(gold: Mask, scores: npt.NDArray[np.float64], beta: float = 1.0) -> float:
    """The grid threshold with the best F1 (or F-beta) of the positive class on tuning data."""
    results = [f_beta(gold, scores >= t, beta) for t in GRID]
    return float(GRID[int(np.argmax(results))])


def macro_f1(gold: Mask, pred: Mask) -> float:
    return float(np.mean([f1(gold[:, j], pred[:, j]) for j in range(gold.shape[1])]))


def fit_platt(scores: npt.NDArray[np.float64], gold: Mask) -> tuple[float, float]:
    """Platt scaling (logistic regression on the logit), by Newton's method."""
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    x = np.log(p / (1 - p))
    y = gold.astype(np.float64)
    # Bayesian targets (Platt 1999) keep a label seen only a few times from going to 0/1.
    positives, negatives = y.sum(), len(y) - y.sum()
    y = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        q = 1 / (1 + np.exp(-(a * x + b)))
        w = q * (1 - q) + 1e-9
        gradient = np.array([np.sum((q - y) * x), np.sum(q - y)])
        hessian = np.array([[np.sum(w * x * x), np.sum(w * x)], [np.sum(w * x), np.sum(w)]])
        step = np.linalg.solve(hessian + 1e-6 * np.eye(2), gradient)
        a, b = a - float(step[0]), b - float(step[1])
        if np.abs(step).max() < 1e-8:
            break
    return round(a, 6), round(b, 6)


def platt(scores: Matrix, a: float, b: float) -> Matrix:
    p = np.clip(scores, 1e-6, 1 - 1e-6)
    result: Matrix = 1 / (1 + np.exp(-(a * np.log(p / (1 - p)) + b)))
    return result


def multi_hot(rows: Sequence[Sequence[str]], labels: Sequence[str]) -> Mask:
    index = {label: j for j, label in enumerate(labels)}
    matrix = np.zeros((len(rows), len(labels)), dtype=bool)
    for i, row in enumerate(rows):
        for label in row:
            matrix[i, index[label]] = True
    return matrix


def group_max(
    raw: Matrix, labels: Sequence[str], mapping: Mapping[str, str], groups: Sequence[str]
) -> Matrix:
    """Probability of each group = the highest probability of its member labels."""
    out = np.zeros((raw.shape[0], len(groups)))
    for j, group in enumerate(groups):
        members = [i for i, label in enumerate(labels) if mapping.get(label) == group]
        if members:
            out[:, j] = raw[:, members].max(axis=1)
    return out


def tuned_macro_f1(
    dev_scores: Matrix, dev_gold: Mask, test_scores: Matrix, test_gold: Mask
) -> tuple[float, list[float]]:
    """Macro-F1 on test with one threshold per label tuned on dev."""
    thresholds = [
        best_threshold(dev_gold[:, j], dev_scores[:, j]) for j in range(dev_gold.shape[1])
    ]
    return macro_f1(test_gold, test_scores >= np.array(thresholds)), thresholds


def class_report(
    gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    g, p = np.array(gold), np.array(pred)
    per_class = {c: round(f1(g == c, p == c), 4) for c in classes}
    return {
        "accuracy": round(float((g == p).mean()), 4),
        "macro_f1": round(float(np.mean(list(per_class.values()))), 4),
        "f1": per_class,
        "n": len(gold),
    }


def raw_matrix(ensemble: Ensemble, texts: Sequence[str]) -> Matrix:
    return np.array(ensemble.probabilities([normalize(t) for t in texts]), dtype=np.float64)


def texts_of(rows: Sequence[tuple[str, Any]]) -> list[str]:
    return [text for text, _ in rows]


# Tuning on dev -------------------------------------------------------------------------


def emotion_spec(
    training: Mapping[str, Any],
    dev: Sequence[Labelled],
    mapping: Mapping[str, str],
    polarity: Mapping[str, str],
) -> dict[str, Any]:
    """Calibration, thresholds and sentiment cut points of one emotion model, from dev."""
    ensemble = Ensemble([MODELS / f for f in training["files"]], training["labels"])
    labels = list(ensemble.labels)
    raw = raw_matrix(ensemble, texts_of(dev))
    grouped = group_max(raw, labels, mapping, RAPPORT_EMOTIONS)
    gold = multi_hot([map_labels(y, dict(mapping)) for _, y in dev], RAPPORT_EMOTIONS)
    calibration: dict[str, tuple[float, float]] = {}
    thresholds: dict[str, float] = {}
    for j, label in enumerate(RAPPORT_EMOTIONS):
        if label not in mapping.values():
            calibration[label], thresholds[label] = (1.0, 0.0), NEVER
            continue
        a, b = fit_platt(grouped[:, j], gold[:, j])
        calibration[label] = (a, b)
        thresholds[label] = best_threshold(gold[:, j], platt(grouped[:, j], a, b))
    positive = [i for i, x in enumerate(labels) if polarity[x] == "positive"]
    negative = [i for i, x in enumerate(labels) if polarity[x] == "negative"]
    score = raw[:, positive].max(axis=1) - raw[:, negative].max(axis=1)
    sentiment_gold = np.array([sentiment_of(y, dict(polarity)) for _, y in dev])
    best, cut = -1.0, (-0.5, 0.5)
    for low in GRID - 1:
        for high in GRID:
            pred = np.where(
                score >= high, "positive", np.where(score <= low, "negative", "neutral")
            )
            value = np.mean([f1(sentiment_gold == c, pred == c) for c in SENTIMENTS])
            if value > best:
                best, cut = float(value), (round(float(low), 2), round(float(high), 2))
    return {
        "version": training["version"],
        "files": training["files"],
        "labels": labels,
        "mapping": dict(mapping),
        "polarity": dict(polarity),
        "calibration": calibration,
        "thresholds": thresholds,
        "sentiment": cut,
    }


def intent_threshold(
    training: Mapping[str, Any], in_domain: Sequence[tuple[str, str]], out_of_domain: Sequence[str]
) -> tuple[float, dict[str, float]]:
    """The lowest confidence threshold whose sum of in-domain accuracy and out-of-domain
    "unknown" rate on dev is within INTENT_TOLERANCE of the best: the "unknown" class
    already catches chit-chat, so a higher threshold only turns terse requests away."""
    ensemble = Ensemble([MODELS / f for f in training["files"]], training["labels"])
    labels = np.array(ensemble.labels)
    raw_in = raw_matrix(ensemble, texts_of(in_domain))
    raw_out = raw_matrix(ensemble, out_of_domain)
    gold = np.array([y for _, y in in_domain])

    def rates(t: float) -> tuple[float, float]:
        pred_in = np.where(raw_in.max(axis=1) >= t, labels[raw_in.argmax(axis=1)], "unknown")
        pred_out = np.where(raw_out.max(axis=1) >= t, labels[raw_out.argmax(axis=1)], "unknown")
        return float((pred_in == gold).mean()), float((pred_out == "unknown").mean())

    scores = np.array([sum(rates(float(t))) for t in GRID])
    chosen = float(GRID[int(np.argmax(scores >= scores.max() - INTENT_TOLERANCE))])
    accuracy, unknown = rates(chosen)
    return chosen, {"dev_accuracy": round(accuracy, 4), "dev_ood_unknown_rate": round(unknown, 4)}


# Test ----------------------------------------------------------------------------------


def evaluate_ekman_model(
    training: Mapping[str, Any], dev: Sequence[Labelled], test: Sequence[Labelled]
) -> float:
    """The GoEmotions paper's Ekman setting: a model trained on the Ekman groups, one
    threshold per group tuned on dev, macro-F1 on test."""
    ensemble = Ensemble([MODELS / f for f in training["files"]], training["labels"])
    groups, ekman = list(ensemble.labels), datasets.ekman_mapping()
    gold_dev, gold_test = (
        multi_hot([map_labels(y, ekman) for _, y in rows], groups) for rows in (dev, test)
    )
    dev_scores = raw_matrix(ensemble, texts_of(dev))
    score, _ = tuned_macro_f1(dev_scores, gold_dev, raw_matrix(ensemble, texts_of(test)), gold_test)
    return round(score, 4)


def evaluate_emotion_en(
    predictor: FastTextPredictor, dev: Sequence[Labelled], test: Sequence[Labelled]
) -> dict[str, Any]:
    labels = list(predictor.english.ensemble.labels)
    ekman = datasets.ekman_mapping()
    ekman_groups = sorted(set(ekman.values()))
    raw_dev = np.array(predictor.english.raw(texts_of(dev)))
    raw_test = np.array(predictor.english.raw(texts_of(test)))
    gold_dev28, gold_test28 = (multi_hot([y for _, y in rows], labels) for rows in (dev, test))
    f28, thresholds28 = tuned_macro_f1(raw_dev, gold_dev28, raw_test, gold_test28)
    gold_dev_ek, gold_test_ek = (
        multi_hot([map_labels(y, ekman) for _, y in rows], ekman_groups) for rows in (dev, test)
    )
    f_ek, _ = tuned_macro_f1(
        group_max(raw_dev, labels, ekman, ekman_groups),
        gold_dev_ek,
        group_max(raw_test, labels, ekman, ekman_groups),
        gold_test_ek,
    )
    results = predictor.emotions(texts_of(test), ["en"] * len(test))
    gold = multi_hot([map_labels(y, GOEMOTIONS_TO_RAPPORT) for _, y in test], RAPPORT_EMOTIONS)
    pred = multi_hot([r.detected for r in results], RAPPORT_EMOTIONS)
    per_label = {
        label: round(f1(gold[:, j], pred[:, j]), 4) for j, label in enumerate(RAPPORT_EMOTIONS)
    }
    per_label28 = {
        label: round(f1(gold_test28[:, j], raw_test[:, j] >= t), 4)
        for j, (label, t) in enumerate(zip(labels, thresholds28, strict=True))
    }
    return {
        "test_n": len(test),
        "goemotions28_macro_f1": round(f28, 4),
        "ekman_macro_f1_from_28": round(f_ek, 4),
        "rapport_macro_f1": round(float(np.mean(list(per_label.values()))), 4),
        "rapport_f1": per_label,
        "goemotions28_f1": per_label28,
    }


def evaluate_emotion_xx(
    predictor: FastTextPredictor, splits: Mapping[str, Mapping[str, Sequence[Labelled]]]
) -> dict[str, Any]:
    model = predictor.multilingual
    labels = [x for x in model.ensemble.labels if x != "neutral"]
    columns = [list(model.ensemble.labels).index(x) for x in labels]
    dev_rows = [row for language in MULTILINGUAL for row in splits[language]["dev"]]
    raw_dev = np.array(model.raw(texts_of(dev_rows)))[:, columns]
    thresholds = np.array(
        [
            best_threshold(g, raw_dev[:, j])
            for j, g in enumerate(multi_hot([y for _, y in dev_rows], labels).T)
        ]
    )
    expressible = [x for x in RAPPORT_EMOTIONS if x in XED_TO_RAPPORT.values()]
    out: dict[str, Any] = {
        "plutchik_thresholds": dict(zip(labels, thresholds.round(2).tolist(), strict=True))
    }
    for language in XED_LANGUAGES:
        test = [row for row in splits[language]["test"]]
        raw = np.array(model.raw(texts_of(test)))[:, columns]
        plutchik_gold = multi_hot([[x for x in y if x != "neutral"] for _, y in test], labels)
        results = predictor.emotions(texts_of(test), [language] * len(test))
        gold = multi_hot([map_labels(y, XED_TO_RAPPORT) for _, y in test], RAPPORT_EMOTIONS)
        pred = multi_hot([r.detected for r in results], RAPPORT_EMOTIONS)
        keep = [RAPPORT_EMOTIONS.index(x) for x in expressible]
        sentiments = predictor.sentiment(texts_of(test), [language] * len(test))
        out[language] = {
            "test_n": len(test),
            "plutchik_macro_f1": round(macro_f1(plutchik_gold, raw >= thresholds), 4),
            "rapport_macro_f1": round(macro_f1(gold[:, keep], pred[:, keep]), 4),
            "sentiment": class_report(
                [sentiment_of(y, XED_SENTIMENT) for _, y in test],
                [s.label for s in sentiments],
                SENTIMENTS,
            ),
        }
    out["rapport_labels_scored"] = expressible
    return out


def main() -> None:
    started = time.perf_counter()
    training = json.loads((MODELS / "training.json").read_text(encoding="utf-8"))
    ge = {split: datasets.goemotions(split) for split in ("dev", "test")}
    xed = {language: datasets.xed_splits(language) for language in XED_LANGUAGES}
    bitext = datasets.bitext_splits()
    sarcasm = datasets.sarcasm_splits()

    # 1. Tune on dev splits and write what the runtime loads.
    english = emotion_spec(
        training["emotion-en"], ge["dev"], GOEMOTIONS_TO_RAPPORT, datasets.goemotions_polarity()
    )
    xx_dev = [row for language in MULTILINGUAL for row in xed[language]["dev"]]
    multilingual = emotion_spec(training["emotion-xx"], xx_dev, XED_TO_RAPPORT, XED_SENTIMENT)
    multilingual["languages"] = list(MULTILINGUAL)
    sarcasm_model = Ensemble(
        [MODELS / f for f in training["sarcasm-en"]["files"]], training["sarcasm-en"]["labels"]
    )
    p_dev = raw_matrix(sarcasm_model, texts_of(sarcasm["dev"]))[
        :, list(sarcasm_model.labels).index("1")
    ]
    gold_dev = np.array([y == "1" for _, y in sarcasm["dev"]])
    a, b = fit_platt(p_dev, gold_dev)
    sarcasm_threshold = best_threshold(gold_dev, platt(p_dev, a, b))
    ood_dev = texts_of(ge["dev"])
    threshold, intent_dev = intent_threshold(training["intent-en"], bitext["dev"], ood_dev)
    heads = {
        "emotion": {"en": english, "xx": multilingual},
        "sentiment": {
            "version": f"sentiment-from-emotion ({english['version']}+{multilingual['version']})"
        },
        "sarcasm": {
            **{k: training["sarcasm-en"][k] for k in ("version", "files", "labels")},
            "calibration": (a, b),
            "threshold": sarcasm_threshold,
        },
        "intent": {
            **{k: training["intent-en"][k] for k in ("version", "files", "labels")},
            "threshold": threshold,
        },
    }
    (MODELS / "heads.json").write_text(
        json.dumps(heads, indent=1, ensure_ascii=False) + "\n", "utf-8"
    )

    # 2. Score the runtime predictor on the test splits.
    predictor = FastTextPredictor.load(MODELS)
    metrics: dict[str, Any] = {"emotion-en": evaluate_emotion_en(predictor, ge["dev"], ge["test"])}
    metrics["emotion-en"]["ekman_model_macro_f1"] = evaluate_ekman_model(
        training["emotion-en-ekman"], ge["dev"], ge["test"]
    )
    sentiments = predictor.sentiment(texts_of(ge["test"]), ["en"] * len(ge["test"]))
    polarity = datasets.goemotions_polarity()
    metrics["sentiment-en"] = {
        **class_report(
            [sentiment_of(y, polarity) for _, y in ge["test"]],
            [s.label for s in sentiments],
            SENTIMENTS,
        ),
        "cut_points": english["sentiment"],
    }
    metrics["emotion-xx"] = evaluate_emotion_xx(predictor, xed)
    sarcastic = predictor.sarcasm(texts_of(sarcasm["test"]))
    gold_test = np.array([y == "1" for _, y in sarcasm["test"]])
    metrics["sarcasm-en"] = {
        "test_n": len(gold_test),
        "f1_sarcastic": round(f1(gold_test, np.array([s.detected for s in sarcastic])), 4),
        "threshold": sarcasm_threshold,
        "calibration": [a, b],
        "train_n": len(sarcasm["train"]),
        "holdout_n": len(sarcasm["dev"]),
    }
    intents = predictor.intent(texts_of(bitext["test"]))
    ood = {"goemotions-test": texts_of(ge["test"]), "isarcasmeval-test": texts_of(sarcasm["test"])}
    metrics["intent-en"] = {
        "test_n": len(intents),
        "accuracy": round(
            sum(g.name == y for g, (_, y) in zip(intents, bitext["test"], strict=True))
            / len(intents),
            4,
        ),
        "threshold": threshold,
        **intent_dev,
        "ood_unknown_rate": {
            name: round(sum(g.name == "unknown" for g in predictor.intent(texts)) / len(texts), 4)
            for name, texts in ood.items()
        },
    }
    banking = Ensemble(
        [MODELS / f for f in training["intent-banking77"]["files"]],
        training["intent-banking77"]["labels"],
    )
    test77 = datasets.banking77("test")
    pred77 = np.array(banking.labels)[raw_matrix(banking, texts_of(test77)).argmax(axis=1)]
    metrics["intent-banking77"] = {
        "test_n": len(test77),
        "accuracy": round(float((pred77 == np.array([y for _, y in test77])).mean()), 4),
    }
    metrics["versions"] = dict(predictor.versions)
    (MODELS / "metrics.json").write_text(
        json.dumps(metrics, indent=1, sort_keys=True) + "\n", "utf-8"
    )
    cards.write_all(metrics, heads, training)
    cards.print_tables(metrics)
    print(f"evaluated in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
