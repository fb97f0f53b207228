"""Readers of the copied data sets and their deterministic train/dev/test splits."""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from services.emotion.training.taxonomy import XED_LABELS

REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
BUILD = REPO / "var" / "emotion-training"
MODELS = REPO / "services" / "emotion" / "models"
SEED = 2026

T = TypeVar("T")
Labelled = tuple[str, tuple[str, ...]]  # text, labels (multi-label data sets)
Single = tuple[str, str]  # text, label


def stratified_split(
    items: Sequence[T], key: Callable[[T], str], fractions: Sequence[float], seed: int = SEED
) -> list[list[T]]:
    """Cut ``items`` into len(fractions)+1 parts, every label spread in proportion; the same
    input always gives the same parts."""
    by_label: dict[str, list[T]] = defaultdict(list)
    for item in items:
        by_label[key(item)].append(item)
    parts: list[list[T]] = [[] for _ in range(len(fractions) + 1)]
    rng = random.Random(seed)
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        start = 0
        for i, fraction in enumerate(fractions):
            end = start + round(fraction * len(group))
            parts[i].extend(group[start:end])
            start = end
        parts[-1].extend(group[start:])
    return parts


# GoEmotions ----------------------------------------------------------------------------


def goemotions_labels() -> list[str]:
    return (DATA / "goemotions" / "emotions.txt").read_text(encoding="utf-8").split()


def goemotions(split: str) -> list[Labelled]:
    """``split`` is train, dev or test (the official splits)."""
    names = goemotions_labels()
    rows: list[Labelled] = []
    with open(DATA / "goemotions" / f"{split}.tsv", encoding="utf-8", newline="") as f:
        for line in f:
            text, ids, _ = line.rstrip("\n").split("\t")
            rows.append((text, tuple(names[int(i)] for i in ids.split(","))))
    return rows


def ekman_mapping() -> dict[str, str]:
    """GoEmotions label → Ekman group (neutral stays neutral), as in the GoEmotions paper."""
    groups = json.loads((DATA / "goemotions" / "ekman_mapping.json").read_text(encoding="utf-8"))
    mapping = {label: group for group, labels in groups.items() for label in labels}
    return {**mapping, "neutral": "neutral"}


def goemotions_polarity() -> dict[str, str]:
    """GoEmotions label → positive / negative / neutral (ambiguous and neutral)."""
    groups = json.loads((DATA / "goemotions" / "sentiment_dict.json").read_text(encoding="utf-8"))
    polarity = {label: "neutral" for label in goemotions_labels()}
    for group in ("positive", "negative"):
        polarity.update(dict.fromkeys(groups[group], group))
    return polarity


# XED -----------------------------------------------------------------------------------

XED_LANGUAGES: tuple[str, ...] = ("en", "fi", "es", "fr", "de", "pt", "it", "nl")


def _xed_file(language: str) -> Path:
    if language in ("en", "fi"):
        return DATA / "xed" / "AnnotatedData" / f"{language}-annotated.tsv"
    return DATA / "xed" / "Projections" / f"{language}-projections.tsv"


def xed(language: str) -> list[Labelled]:
    """All usable records of one language; English adds the annotated neutral lines.
    Records that swallowed alignment metadata (a stray quote upstream) are dropped."""
    rows: list[Labelled] = []
    with open(_xed_file(language), encoding="utf-8", newline="") as f:
        for record in csv.reader(f, delimiter="\t"):
            if len(record) != 2 or ".xml.gz" in record[0] or len(record[0]) > 500:
                continue
            ids = sorted({int(i) for i in record[1].split(",")})
            rows.append((record[0], tuple(XED_LABELS[i - 1] for i in ids)))
    if language == "en":
        path = DATA / "xed" / "AnnotatedData" / "neu_en.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) == 2 and fields[0] == "9" and fields[1].strip():
                rows.append((fields[1], ("neutral",)))
    return rows


def xed_splits(language: str) -> dict[str, list[Labelled]]:
    """80/10/10 train/dev/test, stratified on the first label."""
    train, dev, test = stratified_split(xed(language), lambda row: row[1][0], (0.8, 0.1))
    return {"train": train, "dev": dev, "test": test}


# Bitext customer-support intents ----------------------------------------------------------

_PLACEHOLDER_VALUES: dict[str, tuple[str, ...]] = {
    "Order Number": ("12345", "ORD-4471", "#98213", "A77310", "300125"),
    "Invoice Number": ("INV-2231", "88412", "#5530"),
    "Refund Amount": ("50", "$120", "19.99", "300 euros"),
    "Currency Symbol": ("$", "€", "£"),
    "Person Name": ("Anna", "John Smith", "Maria", "Ahmed", "Li Wei"),
    "Account Type": ("premium", "gold", "free", "business", "platinum", "standard"),
    "Account Category": ("premium", "pro", "basic", "family", "freemium"),
    "Delivery City": ("London", "Madrid", "Chicago", "Berlin", "Lyon"),
    "Delivery Country": ("Spain", "Canada", "Germany", "Brazil", "India"),
}


def _fill_placeholders(text: str, rng: random.Random) -> str:
    """Bitext writes ``{{Order Number}}``; customers write real values."""
    for name, values in _PLACEHOLDER_VALUES.items():
        while "{{" + name + "}}" in text:
            text = text.replace("{{" + name + "}}", rng.choice(values), 1)
    return text


def bitext_splits() -> dict[str, list[Single]]:
    """De-duplicated on the text, placeholders filled, 80/10/10 stratified on the intent."""
    rng = random.Random(SEED)
    seen: set[str] = set()
    rows: list[Single] = []
    path = DATA / "bitext-customer-support" / "bitext_27k_v11_instruction_intent.csv"
    with open(path, encoding="utf-8", newline="") as f:
        for record in csv.DictReader(f):
            if record["text"] in seen:
                continue
            seen.add(record["text"])
            rows.append((_fill_placeholders(record["text"], rng), record["category"]))
    train, dev, test = stratified_split(rows, lambda row: row[1], (0.8, 0.1))
    return {"train": train, "dev": dev, "test": test}


# Hand-written JSON Lines sets --------------------------------------------------------


def jsonl(path: Path) -> list[dict[str, Any]]:
    """One object per non-blank line of a UTF-8 JSON Lines file."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


# Banking77 -----------------------------------------------------------------------------


def banking77(split: str) -> list[Single]:
    """The official train / test files."""
    with open(DATA / "banking77" / f"{split}.csv", encoding="utf-8", newline="") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


# iSarcasmEval --------------------------------------------------------------------------


def sarcasm_splits() -> dict[str, list[Single]]:
    """Train 80% / held-out 20% of train.En.csv (stratified) and the official Task A test."""
    with open(DATA / "isarcasmeval" / "train.En.csv", encoding="utf-8", newline="") as f:
        records = [(r["tweet"], r["sarcastic"]) for r in csv.DictReader(f) if r["tweet"].strip()]
    train, holdout = stratified_split(records, lambda r: r[1], (0.8,))
    with open(DATA / "isarcasmeval" / "task_A_En_test.csv", encoding="utf-8", newline="") as f:
        test = [(r["text"], r["sarcastic"]) for r in csv.DictReader(f)]
    return {"train": train, "dev": holdout, "test": test}
