"""Which article answers a message: the articles' questions embedded in every retrieval
space, and a calibrated score (pure; no I/O but reading the shipped scoring).

An article's similarity to a message is the mean cosine of its ``nearest`` questions
nearest to it (``shared.nearest_groups``). The score adds how clearly the best article
beats the next one, ``margin_weight × (best − runner-up)``: on Banking77 as a knowledge
base most wrong answers came where two articles were about as near, and the margin
answered more questions right at the same precision (``knowledge.md``). The message is
answered when the score reaches the threshold calibrated for the space it was embedded in;
a space without a calibrated threshold never answers, since a cosine from one model says
nothing about another's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.orchestrator.knowledge.articles import Article
from shared.nearest_groups import Floats, NearestGroups

DEFAULT_SCORING = Path(__file__).resolve().parent / "scoring.json"


@dataclass(frozen=True, slots=True)
class SpaceScoring:
    """How a match is scored in one retrieval space, calibrated on development queries."""

    margin_weight: float
    threshold: float

    def score(self, best: float, runner_up: float) -> float:
        return best + self.margin_weight * (best - runner_up)

    def answers(self, best: float, runner_up: float) -> bool:
        return self.score(best, runner_up) >= self.threshold


NEVER = SpaceScoring(0.0, float("inf"))
"""A space nobody calibrated: nothing is near enough to answer."""


@dataclass(frozen=True, slots=True)
class Scoring:
    nearest: int
    spaces: Mapping[str, SpaceScoring]  # by retrieval space (the model that embeds)

    @classmethod
    def load(cls, path: Path = DEFAULT_SCORING) -> Scoring:
        spec = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            int(spec["nearest"]),
            {
                space: SpaceScoring(float(v["margin_weight"]), float(v["threshold"]))
                for space, v in spec["spaces"].items()
            },
        )

    def of(self, space: str) -> SpaceScoring:
        return self.spaces.get(space, NEVER)


@dataclass(frozen=True, slots=True)
class Match:
    """The article nearest to a message, and whether it is near enough to answer."""

    article: Article
    space: str  # the retrieval space the message was embedded in
    similarity: float
    runner_up: float  # the next article's similarity (its own, when there is no other)
    score: float
    threshold: float
    answers: bool


class KnowledgeIndex:
    """Articles and their questions' vectors in each retrieval space."""

    def __init__(
        self, articles: Sequence[Article], vectors: Mapping[str, Floats], scoring: Scoring
    ) -> None:
        self.articles = tuple(articles)
        self.scoring = scoring
        counts = [len(a.questions) for a in self.articles]
        self._spaces = (
            {space: NearestGroups(v, counts, scoring.nearest) for space, v in vectors.items()}
            if self.articles
            else {}
        )

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(self._spaces)

    def match(self, space: str, vector: Sequence[float]) -> Match | None:
        """The best article for a message embedded in ``space``; None when nothing is indexed
        in that space."""
        groups = self._spaces.get(space)
        if groups is None:
            return None
        ranked = groups.best(np.asarray(vector, dtype=np.float32), 2)
        (article, best), *rest = ranked
        # With one article there is nothing to beat: no margin, the similarity alone.
        runner_up = rest[0][1] if rest else best
        scoring = self.scoring.of(space)
        return Match(
            self.articles[article],
            space,
            round(best, 4),
            round(runner_up, 4),
            round(scoring.score(best, runner_up), 4),
            scoring.threshold,
            scoring.answers(best, runner_up),
        )
