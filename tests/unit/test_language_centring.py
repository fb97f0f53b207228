"""Centring the multilingual encoder's vectors on their language's mean."""

from __future__ import annotations

import numpy as np
import pytest

from services.emotion.multilingual_heads import LanguageCentring

MEANS = {
    "de": np.array([0.8, 0.0, 0.0, 0.0], dtype=np.float32),
    "fr": np.array([0.0, 0.8, 0.0, 0.0], dtype=np.float32),
}


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def test_the_same_meaning_in_two_languages_meets_once_each_language_is_removed() -> None:
    meaning = np.array([0.0, 0.0, 0.6, 0.2], dtype=np.float32)
    other_meaning = np.array([0.0, 0.0, -0.2, 0.6], dtype=np.float32)
    vectors = np.stack([MEANS["de"] + meaning, MEANS["fr"] + meaning, MEANS["de"] + other_meaning])
    german, french, other_german = unit(vectors)
    assert german @ other_german > german @ french  # uncentred, the language dominates
    centred = LanguageCentring(MEANS, 1.0).apply(vectors, ["de", "fr", "de"])
    assert centred[0] @ centred[1] == pytest.approx(1.0, abs=1e-5)
    assert centred[0] @ centred[2] == pytest.approx(0.0, abs=1e-5)
    assert np.linalg.norm(centred, axis=1) == pytest.approx(1.0)


def test_a_language_without_a_mean_takes_the_mean_of_all() -> None:
    vector = np.array([[0.6, 0.2, 0.5, 0.0]], dtype=np.float32)
    [moved] = LanguageCentring(MEANS, 0.5).apply(vector, ["ja"])
    expected = unit(vector[0] - 0.5 * np.array([0.4, 0.4, 0.0, 0.0], dtype=np.float32))
    assert moved == pytest.approx(expected, abs=1e-6)


def test_no_strength_changes_nothing_and_a_vector_cancelled_out_stays_finite() -> None:
    vector = unit(np.array([[0.1, 0.0, 0.9, 0.3]], dtype=np.float32))
    assert LanguageCentring(MEANS, 0.0).apply(vector, ["de"]) == pytest.approx(vector)
    [cancelled] = LanguageCentring(MEANS, 1.0).apply(MEANS["fr"][None, :], ["fr"])
    assert np.all(np.isfinite(cancelled))
