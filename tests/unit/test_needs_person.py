"""The shipped "needs a person" model: what it reads, what it flags, and its file's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.emotion.config import SHIPPED_MODELS
from services.emotion.needs_person import FEATURES, FILE, NeedsPersonModel, features
from services.emotion.predictor import EmotionScores, IntentGuess, SarcasmScore, SentimentScore
from services.emotion.urgency import Urgency


def _reading(
    emotion: str, score: float, sentiment: float, intent: str, language: str = "en"
) -> dict[str, float]:
    return features(
        EmotionScores({emotion: score}, (emotion,), "test"),
        intensity=score,
        sentiment=SentimentScore("negative" if sentiment < 0 else "neutral", sentiment),
        sarcasm=SarcasmScore(0.1, False),
        urgency=Urgency("normal", 0.3, ()),
        intent=IntentGuess(intent, 0.9),
        language=language,
    )


@pytest.fixture(scope="module")
def model() -> NeedsPersonModel:
    return NeedsPersonModel.load(SHIPPED_MODELS)


def test_every_feature_is_read_by_name() -> None:
    reading = _reading("anger", 0.9, -0.8, "complaint", language="de")
    assert tuple(sorted(reading)) == tuple(sorted(FEATURES))
    assert reading["anger"] == 0.9 and reading["frustration"] == 0.0
    assert reading["intent:complaint"] == 1.0 and reading["intent:contact_human_agent"] == 0.0
    assert reading["english"] == 0.0


def test_an_angry_complaint_needs_a_person_and_says_why(model: NeedsPersonModel) -> None:
    verdict = model.read(_reading("anger", 0.95, -0.9, "complaint"))
    assert verdict.detected and verdict.score >= model.cut
    assert verdict.signals and set(verdict.signals) <= set(FEATURES)
    assert len(verdict.signals) <= 3


def test_a_calm_question_does_not(model: NeedsPersonModel) -> None:
    verdict = model.read(_reading("gratitude", 0.8, 0.6, "track_order"))
    assert not verdict.detected and verdict.score < model.cut


def test_an_unfitted_model_flags_nothing() -> None:
    unfitted = NeedsPersonModel.unfitted()
    assert not unfitted.read(_reading("anger", 1.0, -1.0, "complaint")).detected


def test_a_file_for_other_features_is_refused(tmp_path: Path, model: NeedsPersonModel) -> None:
    spec = model.to_json()
    (tmp_path / FILE).write_text(json.dumps({**spec, "features": ["anger"]}), "utf-8")
    with pytest.raises(ValueError, match="made for features"):
        NeedsPersonModel.load(tmp_path)
    (tmp_path / FILE).write_text(json.dumps({**spec, "weights": [1.0]}), "utf-8")
    with pytest.raises(ValueError, match="means, scales and weights"):
        NeedsPersonModel.load(tmp_path)
