"""Writes the fastText training files (normalised text, ``__label__`` prefixes) under var/.

Run: ``python -m services.emotion.training.prepare [--corrections FILE]``. Deterministic:
the same copied data always gives byte-identical files. Agents' corrections (``--corrections``,
else ``RAPPORT_CORRECTIONS``; see ``corrections.py``) join the English emotion and intent
training files only.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from services.emotion.text import normalize
from services.emotion.training import datasets
from services.emotion.training.corrections import (
    corrections_file,
    read_corrections,
    with_corrections,
)
from services.emotion.training.datasets import BUILD, SEED, XED_LANGUAGES, Labelled
from services.emotion.training.taxonomy import map_labels

# How many out-of-domain lines (GoEmotions train chit-chat) teach the intent model its
# "unknown" class: 1,500 sends nearly all chit-chat to "unknown" without pulling short
# in-domain requests ("where is my order") there, as 6,000 did on dev.
UNKNOWN_FROM_GOEMOTIONS = 1500
SARCASM_REPEAT = 3
T = TypeVar("T")


def fasttext_line(labels: Iterable[str], text: str) -> str:
    """One training line, or an empty string when nothing of the text survives."""
    words = normalize(text)
    if not words:
        return ""
    return "".join(f"__label__{label} " for label in labels) + words + "\n"


def write(name: str, rows: Iterable[tuple[str, Sequence[str]]]) -> Path:
    """Write ``rows`` (text, labels) to ``BUILD/name.txt``."""
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / f"{name}.txt"
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for text, labels in rows:
            f.write(fasttext_line(labels, text))
    return path


def _single(rows: Iterable[tuple[str, str]]) -> list[tuple[str, Sequence[str]]]:
    return [(text, (label,)) for text, label in rows]


def _shuffled(rows: Sequence[T]) -> list[T]:
    """fastText reads its input in order; mixed languages and labels train better."""
    mixed = list(rows)
    random.Random(SEED).shuffle(mixed)
    return mixed


def main(argv: Sequence[str] | None = None) -> None:
    arguments = argparse.ArgumentParser(prog="python -m services.emotion.training.prepare")
    arguments.add_argument("--corrections", type=Path, help="agents' corrections (JSON Lines)")
    corrections = read_corrections(corrections_file(arguments.parse_args(argv).corrections))
    ge_train = datasets.goemotions("train")
    unknown = random.Random(SEED).sample([text for text, _ in ge_train], UNKNOWN_FROM_GOEMOTIONS)
    intents = datasets.bitext_splits()["train"] + [(text, "unknown") for text in unknown]
    emotion_train, intent_train = with_corrections(ge_train, intents, corrections)
    write("emotion-en.train", emotion_train)
    ekman = datasets.ekman_mapping()
    write("emotion-en-ekman.train", [(text, map_labels(y, ekman)) for text, y in emotion_train])

    xed_train: list[Labelled] = []
    for language in XED_LANGUAGES:
        xed_train.extend(datasets.xed_splits(language)["train"])
    write("emotion-xx.train", _shuffled(xed_train))

    # A quarter of the tweets are sarcastic: repeating those three times balances the classes.
    sarcasm = datasets.sarcasm_splits()["train"]
    sarcastic = [row for row in sarcasm if row[1] == "1"]
    write("sarcasm-en.train", _shuffled(_single(sarcasm + sarcastic * (SARCASM_REPEAT - 1))))

    write("intent-en.train", _shuffled(_single(intent_train)))

    write("intent-banking77.train", _single(datasets.banking77("train")))

    # Unlabelled English text for the word vectors the English models start from: every
    # training split in the project plus GoEmotions dev (never a test split).
    corpus = [text for text, _ in ge_train + datasets.goemotions("dev")]
    corpus += [text for text, _ in datasets.xed_splits("en")["train"]]
    corpus += [text for text, _ in datasets.bitext_splits()["train"]]
    corpus += [text for text, _ in datasets.banking77("train")]
    corpus += [text for text, _ in datasets.sarcasm_splits()["train"]]
    write("corpus-en", [(text, ()) for text in corpus])
    print(f"training files written to {BUILD} ({len(corrections)} corrections)")


if __name__ == "__main__":
    main()
