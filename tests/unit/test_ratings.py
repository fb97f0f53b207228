"""A customer's answer to "how did we do, 1 to 5?" in the forms people write it."""

from __future__ import annotations

import pytest

from services.orchestrator.ratings import Rating, Scale, read_nps, read_rating, read_score


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("4", Rating(4, "")),
        (" 5! ", Rating(5, "")),
        ("4/5", Rating(4, "")),
        ("5 stars, thanks!", Rating(5, "thanks!")),
        ("3 estrellas", Rating(3, "")),
        ("2 - slow answer", Rating(2, "slow answer")),
        ("1 terrible service", Rating(1, "terrible service")),
        ("⭐⭐⭐", Rating(3, "")),
        ("⭐️⭐️⭐️⭐️ great", Rating(4, "great")),
        ("10", None),
        ("0", None),
        ("1.5", None),
        ("4,5", None),
        ("12 items are missing", None),
        ("where is my order?", None),
        ("", None),
    ],
)
def test_a_rating_is_read_only_from_a_message_that_starts_with_one(
    text: str, rating: Rating | None
) -> None:
    assert read_rating(text) == rating


@pytest.mark.parametrize(
    ("text", "rating"),
    [
        ("9", Rating(9, "")),
        ("10", Rating(10, "")),
        ("0", Rating(0, "")),
        ("10/10 great team", Rating(10, "great team")),
        ("7 - a bit slow", Rating(7, "a bit slow")),
        ("nine!", Rating(9, "")),
        ("Ten, thanks", Rating(10, "thanks")),
        ("ocho", Rating(8, "")),
        ("Diez, muy bien", Rating(10, "muy bien")),
        ("neuf", Rating(9, "")),
        ("zéro.", Rating(0, "")),
        ("Sieben - gut", Rating(7, "gut")),
        ("null", Rating(0, "")),
        ("dez", Rating(10, "")),
        ("três, demorou", Rating(3, "demorou")),
        ("11", None),
        ("9.5", None),
        ("one more thing", None),
        ("un colis manque", None),
        ("where is my order?", None),
        ("", None),
    ],
)
def test_an_nps_answer_is_read_in_digits_or_words_in_each_language(
    text: str, rating: Rating | None
) -> None:
    assert read_nps(text) == rating


def test_the_business_s_scale_decides_how_a_score_is_read() -> None:
    assert read_score("9", Scale.NPS_10) == Rating(9, "")
    assert read_score("9", Scale.CSAT_5) is None
    assert read_score("4", Scale.CSAT_5) == Rating(4, "")
