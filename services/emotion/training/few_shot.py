"""Banking77 with ten examples an intent, as a business would define its own intents
(:class:`ExampleIntents` on the encoder's embedding), with and without a rejection
threshold; the threshold is chosen on Banking77 dev, the curve is printed for test."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.emotion.encoder import Encoder
from services.emotion.example_intents import UNKNOWN, ExampleIntents
from services.emotion.training.datasets import SEED

SHOTS = 10
HELD_OUT = 20
KEEP = 0.9
CURVE = np.round(np.arange(0.30, 0.96, 0.025), 3)
Rows = Sequence[tuple[str, str]]


def _examples(
    rows: Rows, intents: Sequence[str], rng: random.Random
) -> dict[str, dict[str, list[str]]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    return {name: {"en": rng.sample(by_intent[name], SHOTS)} for name in intents}


def _rates(guesses: Sequence[str], gold: Sequence[str], in_scope: set[str]) -> tuple[float, float]:
    """In-scope accuracy (right intent, not rejected) and out-of-scope recall (rejected)."""
    inside = [(g, y) for g, y in zip(guesses, gold, strict=True) if y in in_scope]
    outside = [g for g, y in zip(guesses, gold, strict=True) if y not in in_scope]
    accuracy = sum(g == y for g, y in inside) / len(inside)
    recall = sum(g == UNKNOWN for g in outside) / len(outside) if outside else 0.0
    return accuracy, recall


def banking77(encoder: Encoder, splits: dict[str, list[tuple[str, str]]]) -> dict[str, Any]:
    rng = random.Random(SEED)
    intents = sorted({y for _, y in splits["train"]})

    def embed(texts: Sequence[str], languages: Sequence[str] = ()) -> Any:
        return encoder.run(texts)["embedding"]

    everything = ExampleIntents(embed, _examples(splits["train"], intents, rng))
    test_vectors = embed([t for t, _ in splits["test"]])
    gold_test = [y for _, y in splits["test"]]
    guesses = [g.name for g in everything.classify(test_vectors, threshold=-1.0)]
    accuracy = float(np.mean([g == y for g, y in zip(guesses, gold_test, strict=True)]))

    held_out = set(rng.sample(intents, HELD_OUT))
    in_scope = sorted(set(intents) - held_out)
    known = ExampleIntents(embed, _examples(splits["train"], in_scope, rng))
    dev_vectors = embed([t for t, _ in splits["dev"]])
    gold_dev = [y for _, y in splits["dev"]]

    def curve(vectors: Any, gold: Sequence[str]) -> list[tuple[float, float, float]]:
        points = []
        for t in CURVE:
            names = [g.name for g in known.classify(vectors, float(t))]
            points.append((float(t), *_rates(names, gold, set(in_scope))))
        return points

    dev_curve = curve(dev_vectors, gold_dev)
    # The operating point: the highest threshold that keeps dev in-scope accuracy within
    # KEEP of its value without rejection (a wrong "unknown" costs a customer an answer).
    floor = KEEP * dev_curve[0][1]
    chosen = max(t for t, accuracy, _ in dev_curve if accuracy >= floor)
    test_curve = curve(test_vectors, gold_test)
    at_chosen = next(p for p in test_curve if p[0] == chosen)
    return {
        "ten_shot_accuracy": round(accuracy, 4),
        "ten_shot_oos": {
            "held_out_intents": sorted(held_out),
            "threshold_from_dev": chosen,
            "test_in_scope_accuracy": round(at_chosen[1], 4),
            "test_oos_recall": round(at_chosen[2], 4),
            "test_curve": [
                {"threshold": t, "in_scope_accuracy": round(a, 4), "oos_recall": round(r, 4)}
                for t, a, r in test_curve
            ],
        },
    }
