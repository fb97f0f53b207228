"""Agents' corrections joining the emotion models' training data: read from the desk's
export, mapped onto the English heads' labels, added to training rows only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.emotion.predictor import RAPPORT_EMOTIONS
from services.emotion.training import multitask
from services.emotion.training.corrections import (
    CORRECTIONS_ENV,
    RAPPORT_TO_GOEMOTIONS,
    CorrectionRow,
    corrections_file,
    read_corrections,
    with_corrections,
)
from services.emotion.training.taxonomy import GOEMOTIONS_TO_RAPPORT

FIXTURE = [
    {"text": "Where is my refund?!", "language": "en", "emotion": "frustration", "intent": None},
    {"text": "thanks a lot", "language": "en", "emotion": "gratitude", "intent": "review"},
    {"text": "I was charged twice", "language": "en", "emotion": None, "intent": "payment_issue"},
    {"text": "only mine", "language": "en", "emotion": None, "intent": "my_own_intent"},
    {"text": "¿Dónde está mi pedido?", "language": "es", "emotion": "anxiety", "intent": None},
    {"text": "👍", "language": "und", "emotion": "joy", "intent": None},
]


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    path = tmp_path / "corrections.jsonl"
    lines = [json.dumps(record, ensure_ascii=False) for record in FIXTURE]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    return path


def test_each_rapport_emotion_trains_a_goemotions_label_that_reads_back_as_itself() -> None:
    assert set(RAPPORT_TO_GOEMOTIONS) == set(RAPPORT_EMOTIONS)
    assert all(GOEMOTIONS_TO_RAPPORT[g] == r for r, g in RAPPORT_TO_GOEMOTIONS.items())


def test_the_file_comes_from_the_argument_else_the_environment(
    monkeypatch: pytest.MonkeyPatch, exported: Path
) -> None:
    monkeypatch.delenv(CORRECTIONS_ENV, raising=False)
    assert corrections_file() is None and read_corrections(None) == []
    monkeypatch.setenv(CORRECTIONS_ENV, str(exported))
    assert corrections_file() == exported
    assert corrections_file(Path("given.jsonl")) == Path("given.jsonl")


def test_only_messages_the_english_encoder_reads_are_taken(exported: Path) -> None:
    rows = read_corrections(exported)
    assert [row.text for row in rows] == [
        "Where is my refund?!",
        "thanks a lot",
        "I was charged twice",
        "only mine",
        "👍",
    ]
    assert rows[0] == CorrectionRow("Where is my refund?!", "frustration", "")


def test_a_malformed_line_stops_the_run_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "language": "en", "intent": "review"}\n{"text": 3\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        read_corrections(path)
    path.write_text('{"text": "hi", "language": "en", "emotion": "rage"}\n')
    with pytest.raises(ValueError, match="not a Rapport emotion"):
        read_corrections(path)


def test_corrections_are_added_after_the_training_rows_with_the_heads_labels(
    exported: Path,
) -> None:
    emotions = [("so happy", ("joy",))]
    intents = [("cancel it", "cancel_order"), ("where is it", "track_order"), ("hi", "review")]
    intents += [("card declined", "payment_issue"), ("lol", "unknown")]

    emotion_train, intent_train = with_corrections(emotions, intents, read_corrections(exported))

    assert emotion_train == [
        ("so happy", ("joy",)),
        ("Where is my refund?!", ("annoyance",)),
        ("thanks a lot", ("gratitude",)),
        ("👍", ("joy",)),
    ]
    # An intent the head has no label for (a business's own, taught by examples) is left out.
    assert intent_train == [
        *intents,
        ("thanks a lot", "review"),
        ("I was charged twice", "payment_issue"),
    ]


def test_the_encoder_trains_on_them_in_a_task_of_their_own_and_nothing_else_changes(
    monkeypatch: pytest.MonkeyPatch, exported: Path
) -> None:
    monkeypatch.delenv(CORRECTIONS_ENV, raising=False)
    before = multitask.training_tasks()
    monkeypatch.setenv(CORRECTIONS_ENV, str(exported))

    after = multitask.training_tasks()

    assert [t.texts for t in after[:-1]] == [t.texts for t in before]
    corrected = after[-1]
    assert corrected.name == "corrections"
    assert corrected.texts == [
        "Where is my refund?!",
        "thanks a lot",
        "👍",
        "thanks a lot",
        "I was charged twice",
    ]
    assert corrected.targets["goemotions"][:3] == [("annoyance",), ("gratitude",), ("joy",)]
    assert corrected.targets["sentiment"][:3] == ["negative", "positive", "positive"]
    assert corrected.targets["intent"] == [None, None, None, "review", "payment_issue"]
