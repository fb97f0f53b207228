"""The examples the shared encoder is fine-tuned on: one task per data set, every head's
targets, and the dev rows its calibration is chosen on. Pure Python (no torch), so the
runtime's evaluation reads exactly the rows training held out.

Heads and where their labels come from:

- ``goemotions`` (28, multi-label) and ``ekman`` (7, multi-label): GoEmotions train;
- ``sentiment`` (negative / neutral / positive): GoEmotions' polarity groups, and
  Bitext's customer-service requests (neutral) and complaints (negative), so that
  "where is my parcel" reads neutral and a complaint negative;
- ``sarcasm`` (binary): iSarcasmEval train (80 %; the other 20 % is dev);
- ``banking77`` (77): Banking77 train (90 %; 10 % dev, stratified);
- ``intent`` (Bitext's 27 intents + ``unknown``): a per-intent sample of Bitext train,
  plus GoEmotions chit-chat as ``unknown``;
- ``corrections``: agents' corrections (``corrections.py``, when ``RAPPORT_CORRECTIONS``
  names a file), an emotion as its GoEmotions label (and Ekman group, sentiment), an
  intent as itself; training only.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.emotion.training import datasets
from services.emotion.training.corrections import (
    CorrectionRow,
    corrections_file,
    emotion_examples,
    intent_examples,
    read_corrections,
)
from services.emotion.training.datasets import SEED
from services.emotion.training.taxonomy import SENTIMENTS, map_labels, sentiment_of

EKMAN_LABELS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "joy",
    "sadness",
    "surprise",
    "neutral",
)
INTENT_PER_LABEL = 250
UNKNOWN_FROM_GOEMOTIONS = 1500
SARCASM_REPEAT = 2
COMPLAINT_INTENTS = frozenset({"complaint"})
Target = tuple[str, ...] | str


@dataclass
class Task:
    """One data set's examples and, per head it trains, one target per example: a tuple
    of label names (multi-label heads), a single label name (single-label heads), or
    None where the example says nothing about that head (it adds no loss there)."""

    name: str
    texts: list[str] = field(default_factory=list)
    targets: dict[str, list[Target | None]] = field(default_factory=dict)

    def add(self, text: str, **targets: Target) -> None:
        for head in targets.keys() - self.targets.keys():
            self.targets[head] = [None] * len(self.texts)
        self.texts.append(text)
        for head, column in self.targets.items():
            column.append(targets.get(head))


def head_labels() -> dict[str, tuple[str, ...]]:
    """Every head's output labels, in output order."""
    return {
        "goemotions": tuple(datasets.goemotions_labels()),
        "ekman": EKMAN_LABELS,
        "sentiment": SENTIMENTS,
        "sarcasm": ("sarcastic",),
        "banking77": tuple(sorted({label for _, label in datasets.banking77("train")})),
        "intent": tuple(sorted({label for _, label in datasets.bitext_splits()["train"]}))
        + ("unknown",),
    }


MULTI_LABEL_HEADS = frozenset({"goemotions", "ekman", "sarcasm"})


def banking77_splits() -> dict[str, list[tuple[str, str]]]:
    """Banking77 train cut 90/10 into train and dev (stratified); the official test."""
    train, dev = datasets.stratified_split(datasets.banking77("train"), lambda r: r[1], (0.9,))
    return {"train": train, "dev": dev, "test": datasets.banking77("test")}


def _goemotions_task(rows: Sequence[datasets.Labelled]) -> Task:
    ekman, polarity = datasets.ekman_mapping(), datasets.goemotions_polarity()
    task = Task("goemotions")
    for text, labels in rows:
        task.add(
            text,
            goemotions=labels,
            ekman=map_labels(labels, ekman),
            sentiment=sentiment_of(labels, polarity),
        )
    return task


def intent_rows(split: str) -> list[tuple[str, str]]:
    """Bitext's intents (``INTENT_PER_LABEL`` a label on train) plus GoEmotions lines of
    the same split as ``unknown``: what the intent head learns and is tuned on."""
    rng = random.Random(SEED)
    by_intent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in datasets.bitext_splits()[split]:
        by_intent[row[1]].append(row)
    rows: list[tuple[str, str]] = []
    for intent in sorted(by_intent):
        group = by_intent[intent]
        rows += rng.sample(group, min(len(group), INTENT_PER_LABEL)) if split == "train" else group
    chit_chat = [text for text, _ in datasets.goemotions("train" if split == "train" else split)]
    count = UNKNOWN_FROM_GOEMOTIONS if split == "train" else len(rows) // 10
    rows += [(text, "unknown") for text in rng.sample(chit_chat, count)]
    return rows


def training_tasks() -> list[Task]:
    """Every task's training examples (never a dev or test row)."""
    tasks = [_goemotions_task(datasets.goemotions("train"))]

    sarcasm = Task("sarcasm")
    for text, label in datasets.sarcasm_splits()["train"]:
        for _ in range(SARCASM_REPEAT if label == "1" else 1):
            sarcasm.add(text, sarcasm=("sarcastic",) if label == "1" else ())
    tasks.append(sarcasm)

    banking = Task("banking77")
    for text, label in banking77_splits()["train"]:
        banking.add(text, banking77=label)
    tasks.append(banking)

    intent = Task("intent")
    for text, label in intent_rows("train"):
        if label == "unknown":
            intent.add(text, intent=label)
        else:
            mood = "negative" if label in COMPLAINT_INTENTS else "neutral"
            intent.add(text, intent=label, sentiment=mood)
    tasks.append(intent)

    corrected = corrections_task(read_corrections(corrections_file()), head_labels()["intent"])
    return [*tasks, corrected] if corrected.texts else tasks


def corrections_task(rows: Sequence[CorrectionRow], intents: Sequence[str]) -> Task:
    """The agents' corrections, each with the heads it labels."""
    ekman, polarity = datasets.ekman_mapping(), datasets.goemotions_polarity()
    task = Task("corrections")
    for text, labels in emotion_examples(rows):
        task.add(
            text,
            goemotions=labels,
            ekman=map_labels(labels, ekman),
            sentiment=sentiment_of(labels, polarity),
        )
    for text, intent in intent_examples(rows, intents):
        task.add(text, intent=intent)
    return task
