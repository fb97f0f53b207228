"""Similarity of a text to a group of texts, by their embeddings: the mean cosine of the
group's ``k`` members nearest to it.

Used wherever a few examples stand for a class: the emotion service's intents defined by
example messages, the orchestrator's knowledge articles by the questions they answer. One
member can be an outlier, so the nearest two decide rather than the single nearest.

Finding the best groups for one query reads every member's vector, and past a few
thousand members that read is what costs (35,000 × 384 floats are 54 MB: about 4 ms on
this machine's memory). So a large set keeps a second copy projected on its main
directions (``REDUCED_DIMENSIONS``, from its own vectors), finds the members nearest in
that copy, and scores exactly only their groups (``bench/knowledge_lookup.py`` measures
the time and how often the two agree).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
SHORTLIST_FROM = 8192
"""Members from which ``best`` shortlists by the projection instead of reading every vector."""
REDUCED_DIMENSIONS = 96
SHORTLIST = 512
"""Members nearest by the projection whose groups are scored exactly."""


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
        self._group_of = np.repeat(np.arange(len(counts)), counts)
        self._basis: Floats | None = None
        self._reduced: Floats | None = None
        if len(vectors) >= SHORTLIST_FROM:
            # The main directions of the members themselves (eigenvectors of V^T V).
            _, eigenvectors = np.linalg.eigh(self._vectors.T @ self._vectors)
            self._basis = np.ascontiguousarray(eigenvectors[:, ::-1][:, :REDUCED_DIMENSIONS].T)
            self._reduced = np.ascontiguousarray(self._vectors @ self._basis.T)

    def similarities(self, queries: Floats) -> Floats:
        """Per query and group: the mean cosine of the group's ``k`` members nearest to it."""
        cosine = np.concatenate(
            [queries @ self._vectors.T, np.full((len(queries), 1), -np.inf, np.float32)], axis=1
        )
        return _mean_of_nearest(cosine[:, self._padded], self._k)

    def best(self, query: Floats, count: int = 2) -> list[tuple[int, float]]:
        """The ``count`` groups most similar to one query, best first, with their similarity."""
        if self._reduced is None or self._basis is None:
            similarities = self.similarities(query.reshape(1, -1))[0]
            groups = np.arange(self.size)
        else:
            near = self._reduced @ (self._basis @ query)
            shortlist = np.argpartition(-near, min(SHORTLIST, len(near) - 1))[:SHORTLIST]
            groups = np.unique(self._group_of[shortlist])
            similarities = self._exact(query, groups)
        order = np.argsort(-similarities)[:count]
        return [(int(groups[i]), float(similarities[i])) for i in order]

    def _exact(self, query: Floats, groups: npt.NDArray[np.int64]) -> Floats:
        """The similarity of each of ``groups``, from its members' full vectors."""
        members = self._padded[groups]
        present = members < len(self._vectors)
        cosine = np.full(members.shape, -np.inf, dtype=np.float32)
        cosine[present] = self._vectors[members[present]] @ query
        return _mean_of_nearest(cosine, self._k[groups])


def _mean_of_nearest(cosine: Floats, k: npt.NDArray[np.int64]) -> Floats:
    """``cosine[..., group, member]`` → the mean of each group's ``k[group]`` highest."""
    nearest = -np.sort(-cosine, axis=-1)
    result = np.empty(cosine.shape[:-1], dtype=np.float32)
    for size in np.unique(k):
        chosen = k == size
        result[..., chosen] = nearest[..., chosen, :size].mean(axis=-1)
    return result
