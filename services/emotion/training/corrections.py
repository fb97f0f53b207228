"""Agents' corrections as training examples: the file ``python -m services.agent_desk
export-corrections`` writes (JSON Lines: ``text``, ``language``, ``emotion``, ``intent``,
each label null when the agent left it as read), named by ``RAPPORT_CORRECTIONS`` (or
``prepare --corrections``). Without one, training is exactly as before.

Corrections only ever join **training** data (``prepare``'s ``*.train`` files and
``multitask.training_tasks``): never a dev or test split, so calibration and every
reported figure stay measured on data nobody at the business labelled.

Mapped onto the English encoder's label sets: a Rapport emotion becomes the GoEmotions
label that maps back to it (``RAPPORT_TO_GOEMOTIONS``), hence its Ekman group and
sentiment; an intent must be one of the intent head's. Only messages the English
encoder reads (``en``, ``und``) are taken: the multilingual heads are fitted on XED by
``multilingual.py``, which does not read corrections yet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.emotion.training.datasets import Labelled, Single

CORRECTIONS_ENV = "RAPPORT_CORRECTIONS"
ENCODER_LANGUAGES = frozenset({"en", "und"})
RAPPORT_TO_GOEMOTIONS: dict[str, str] = {
    "anger": "anger",
    "frustration": "annoyance",
    "sadness": "sadness",
    "anxiety": "nervousness",
    "confusion": "confusion",
    "gratitude": "gratitude",
    "joy": "joy",
    "neutral": "neutral",
}
"""The GoEmotions label standing for each Rapport emotion: the most common of those that
map to it (``taxonomy.GOEMOTIONS_TO_RAPPORT``), so the correction reads back as itself."""


@dataclass(frozen=True)
class CorrectionRow:
    text: str
    emotion: str  # a Rapport emotion, "" when not corrected
    intent: str  # "" when not corrected


def corrections_file(given: Path | None = None) -> Path | None:
    """The corrections to train on: ``given``, else ``RAPPORT_CORRECTIONS``, else none."""
    named = given or os.environ.get(CORRECTIONS_ENV, "")
    return Path(named) if named else None


def read_corrections(path: Path | None) -> list[CorrectionRow]:
    """The corrections of messages the English encoder reads; a malformed line stops the
    run with its number (training on half a file would pass unnoticed)."""
    if path is None:
        return []
    rows: list[CorrectionRow] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text, language = record["text"], record.get("language") or ""
            emotion, intent = record.get("emotion") or "", record.get("intent") or ""
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a correction ({exc})") from None
        if emotion and emotion not in RAPPORT_TO_GOEMOTIONS:
            raise ValueError(f"{path}:{number}: {emotion!r} is not a Rapport emotion")
        if language in ENCODER_LANGUAGES and text.strip():
            rows.append(CorrectionRow(text, emotion, intent))
    return rows


def emotion_examples(rows: Sequence[CorrectionRow]) -> list[Labelled]:
    """(text, GoEmotions labels) of the emotion corrections, as GoEmotions rows read."""
    return [(r.text, (RAPPORT_TO_GOEMOTIONS[r.emotion],)) for r in rows if r.emotion]


def intent_examples(rows: Sequence[CorrectionRow], labels: Collection[str]) -> list[Single]:
    """(text, intent) of the intent corrections whose intent the head has (an intent a
    business defined by examples is taught by its examples, not by training)."""
    return [(r.text, r.intent) for r in rows if r.intent in labels]


def with_corrections(
    emotions: Sequence[Labelled], intents: Sequence[Single], rows: Sequence[CorrectionRow]
) -> tuple[list[Labelled], list[Single]]:
    """English emotion (GoEmotions) and intent training rows with the corrections added
    after them; the intent labels are those the rows already have."""
    labels = {label for _, label in intents}
    return [*emotions, *emotion_examples(rows)], [*intents, *intent_examples(rows, labels)]
