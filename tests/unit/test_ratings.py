"""A customer's answer to "how did we do, 1 to 5?" in the forms people write it."""

from __future__ import annotations

import pytest

from services.orchestrator.ratings import Rating, read_rating


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
