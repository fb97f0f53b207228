"""Groups of embeddings scored by their nearest members, exactly or through the shortlist a
large set uses: both find the same best groups for queries that belong somewhere."""

from __future__ import annotations

import numpy as np
import pytest

import shared.nearest_groups as nearest_groups
from shared.nearest_groups import NearestGroups


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def test_a_group_scores_the_mean_of_its_k_nearest_members() -> None:
    members = _unit(np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32))
    groups = NearestGroups(members, [3, 1], k=2)
    [row] = groups.similarities(_unit(np.array([[1.0, 0.0]])))
    assert row[0] == pytest.approx((1 + 2**-0.5) / 2)
    assert row[1] == pytest.approx(-1.0)  # one member: k is 1 for it
    assert groups.best(_unit(np.array([1.0, 0.0]))) == [(0, pytest.approx(row[0])), (1, -1.0)]
    with pytest.raises(ValueError):
        NearestGroups(members, [3, 0], k=2)


def test_the_shortlist_of_a_large_set_finds_what_the_exact_search_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Embeddings of real text live near a low-dimensional space; a set built that way,
    past the size where the shortlist is used, gives the same two best groups."""
    monkeypatch.setattr(nearest_groups, "SHORTLIST_FROM", 1000)
    rng = np.random.default_rng(7)
    topics = rng.normal(size=(40, 384))
    centres = topics[rng.integers(0, 40, 1500)] + 0.8 * rng.normal(size=(1500, 384))
    members = _unit(np.repeat(centres, 3, axis=0) + 0.5 * rng.normal(size=(4500, 384)))
    groups = NearestGroups(members, [3] * 1500, k=2)
    queries = _unit(centres[:200] + 0.5 * rng.normal(size=(200, 384)))
    exact = groups.similarities(queries)
    for query, row in zip(queries, exact, strict=True):
        (best, similarity), (runner_up, _) = groups.best(query)
        assert [best, runner_up] == list(np.argsort(-row)[:2])
        assert similarity == pytest.approx(row[best], abs=1e-5)
