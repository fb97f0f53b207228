"""Similarity of a text to a group of texts, by their embeddings: the mean cosine of the
group's ``k`` members nearest to it.

Used wherever a few examples stand for a class: the emotion service's intents defined by
example messages, the orchestrator's knowledge articles by the questions they answer. One
member can be an outlier, so the nearest two decide rather than the single nearest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


class NearestGroups:
    """Unit vectors of members, in groups; ``counts[g]`` members of group ``g``, in order."""

    def __init__(self, vectors: Floats, counts: Sequence[int], k: int) -> None:
        if not counts or min(counts) < 1 or sum(counts) != len(vectors):
            raise ValueError("every group needs a member, and every member a group")
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        # Each group's member columns, padded to the largest group with an extra column
        # (-inf; never among a group's k nearest, as k <= its count), so one gather and
        # one sort score every group at once.
        starts = np.cumsum([0, *counts[:-1]])
        padded = np.full((len(counts), max(counts)), len(vectors))
        for g, (start, count) in enumerate(zip(starts, counts, strict=True)):
            padded[g, :count] = np.arange(start, start + count)
        self._padded = padded
        self._k = np.minimum(k, np.array(counts))
        self.size = len(counts)

    def similarities(self, queries: Floats) -> Floats:
        """Per query and group: the mean cosine of the group's ``k`` members nearest to it."""
        cosine = np.concatenate(
            [queries @ self._vectors.T, np.full((len(queries), 1), -np.inf, np.float32)], axis=1
        )
        nearest = -np.sort(-cosine[:, self._padded], axis=2)  # (queries, groups, members)
        result = np.empty((len(queries), self.size), dtype=np.float32)
        for k in np.unique(self._k):
            chosen = self._k == k
            result[:, chosen] = nearest[:, chosen, :k].mean(axis=2)
        return result
