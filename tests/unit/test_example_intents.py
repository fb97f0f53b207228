"""A business's own intents, defined by example messages on the sentence embedding."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from services.emotion.drivers import MAX_PIECES, occlusion_drivers, pieces
from services.emotion.example_intents import UNKNOWN, ExampleIntents, load_examples

WORDS = ("gift", "wrap", "bulk", "discount", "weather")


def bag_of_words(texts: Sequence[str], languages: Sequence[str] = ()) -> np.ndarray:
    """A unit vector per text over a five-word vocabulary: enough to test the geometry."""
    rows = np.array([[float(w in t.lower()) for w in WORDS] for t in texts], dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1.0, norms)


EXAMPLES = {
    "gift_wrapping": {"en": ["can you gift wrap it", "is gift wrap possible", "wrap it as a gift"]},
    "bulk_discount": {
        "en": ["discount for bulk orders?", "bulk discount please", "any bulk discount"]
    },
}


def test_a_message_goes_to_the_intent_whose_examples_it_is_nearest() -> None:
    intents = ExampleIntents(bag_of_words, EXAMPLES)
    guesses = intents.classify(bag_of_words(["could you wrap my gift", "bulk discount?"]), 0.5)
    assert [g.name for g in guesses] == ["gift_wrapping", "bulk_discount"]
    assert all(0.5 <= g.confidence <= 1.0 for g in guesses)


def test_an_intent_scores_the_mean_of_its_nearest_examples_however_many_it_has() -> None:
    examples = {
        "many": {"en": ["gift", "wrap"], "es": ["bulk", "gift wrap"]},
        "one": {"en": ["discount"]},
        "two": {"en": ["weather", "bulk"]},
    }
    intents = ExampleIntents(bag_of_words, examples, k=2)
    [row] = intents.similarities(bag_of_words(["gift wrap bulk"]))
    message = bag_of_words(["gift wrap bulk"])[0]

    def nearest_mean(texts: list[str], k: int) -> float:
        return float(np.mean(sorted(bag_of_words(texts) @ message)[-k:]))

    assert intents.names == ("many", "one", "two")
    assert row == pytest.approx(
        [
            nearest_mean(["gift", "wrap", "bulk", "gift wrap"], 2),
            nearest_mean(["discount"], 1),
            nearest_mean(["weather", "bulk"], 2),
        ]
    )


def test_below_the_threshold_a_message_is_unknown() -> None:
    intents = ExampleIntents(bag_of_words, EXAMPLES)
    [far, empty] = intents.classify(bag_of_words(["nice weather today", "hello"]), 0.5)
    assert far.name == empty.name == UNKNOWN
    assert far.confidence < 0.5


@pytest.mark.parametrize("examples", [{}, {"gift_wrapping": {}}, {"gift_wrapping": {"en": []}}])
def test_an_intent_without_examples_is_refused(examples: dict[str, dict[str, list[str]]]) -> None:
    with pytest.raises(ValueError, match="at least one example"):
        ExampleIntents(bag_of_words, examples)


def test_occlusion_names_the_words_whose_removal_lowers_the_score() -> None:
    def score(texts: Sequence[str]) -> list[float]:
        return [0.2 + 0.5 * ("awful" in t) + 0.1 * ("late" in t) for t in texts]

    drivers = occlusion_drivers("the parcel is late and awful", score)
    assert [word for word, _ in drivers] == ["awful", "late"]
    assert drivers[0][1] == pytest.approx(0.5)
    assert occlusion_drivers("   ", score) == []


def test_a_long_message_is_explained_by_a_bounded_number_of_word_runs() -> None:
    asked: list[int] = []

    def score(texts: Sequence[str]) -> list[float]:
        asked.append(len(texts))
        return [0.2 + 0.6 * ("disgusting" in t) for t in texts]

    words = [f"word{i}" for i in range(30)]
    words[17] = "disgusting"
    [(run, weight)] = occlusion_drivers(" ".join(words), score)
    assert asked == [1 + MAX_PIECES]
    assert "disgusting" in run.split() and 2 <= len(run.split()) <= 5
    assert weight == pytest.approx(0.6)
    assert pieces(["a"] * 30)[-1][1] == 30 and len(pieces(["a"] * 30)) == MAX_PIECES
    assert pieces(["a", "b"]) == [(0, 1), (1, 2)]


def test_an_intents_file_is_read_by_language_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    good = tmp_path / "intents.yaml"
    good.write_text(
        "intents:\n  gift_wrapping:\n    en: [wrap it please]\n    es: [envuelvalo para regalo]\n",
        encoding="utf-8",
    )
    assert load_examples(good) == {
        "gift_wrapping": {"en": ["wrap it please"], "es": ["envuelvalo para regalo"]}
    }
    for text, problem in [
        ("- just a list\n", "expected a mapping"),
        ("intents:\n  gift_wrapping: [wrap it]\n", "needs examples by language"),
        ("intents:\n  gift_wrapping:\n    en: ['  ']\n", "non-empty example messages"),
        ("intents:\n  unknown:\n    en: [what]\n", "needs examples by language"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=problem):
            load_examples(bad)
