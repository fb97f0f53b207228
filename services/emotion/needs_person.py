"""Whether a message needs a person: one calibrated score over what the other heads read.

No single head says it. Intensity alone (at the policy's former bound, 0.7) found 2 in
100 of the development messages labelled as needing a person: an angry customer often writes
calmly, and a polite one can still need a person ("I was charged twice"). A logistic
regression over the heads' outputs (emotion scores, intensity, sentiment, sarcasm,
urgency, complaint and human-agent intents, English or not, since the English encoder's
scores run hotter) learns how they combine. ``training/needs_person.py`` fits it on
hand-written development messages labelled ``needs_person`` and chooses its cut on
out-of-fold scores; ``models/needs-person.md`` is its card.

The model is a few dozen numbers in ``models/needs_person.json``; reading it costs
microseconds, and each answer names the signals that pushed the score up, so a hand-over
can say why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.emotion.predictor import EmotionScores, IntentGuess, SarcasmScore, SentimentScore
from services.emotion.urgency import Urgency

FILE = "needs_person.json"
# The heads' outputs the model reads, in the order its weights are stored.
EMOTIONS = ("anger", "frustration", "sadness", "anxiety", "confusion", "gratitude", "joy")
INTENTS = ("complaint", "contact_human_agent")
FEATURES = (
    *EMOTIONS,
    "intensity",
    "sentiment",
    "sarcasm",
    "urgency",
    *(f"intent:{name}" for name in INTENTS),
    "english",
)
MAX_SIGNALS = 3
# Read to calibrate, not to explain: English scores run hotter than the others.
NOT_SIGNALS = frozenset({"english"})


@dataclass(frozen=True, slots=True)
class NeedsPerson:
    score: float  # 0..1, calibrated on development messages
    detected: bool  # score at or above the model's cut
    signals: tuple[str, ...]  # the features that raised the score most, strongest first


def features(
    emotions: EmotionScores,
    intensity: float,
    sentiment: SentimentScore,
    sarcasm: SarcasmScore,
    urgency: Urgency,
    intent: IntentGuess,
    language: str,
) -> dict[str, float]:
    """What the model reads of one analysis, by feature name."""
    values = {name: float(emotions.scores.get(name, 0.0)) for name in EMOTIONS}
    values |= {
        "intensity": intensity,
        "sentiment": sentiment.score,
        "sarcasm": sarcasm.probability,
        "urgency": urgency.score,
        "english": float(language == "en"),
    }
    values |= {f"intent:{name}": float(intent.name == name) for name in INTENTS}
    return values


@dataclass(frozen=True, slots=True)
class NeedsPersonModel:
    """Standardised features, one weight each, a bias, and the cut chosen on dev."""

    version: str
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    cut: float

    @classmethod
    def load(cls, models_dir: Path) -> NeedsPersonModel:
        """Read ``needs_person.json``; a file for other features or a missing number stops
        the service at start-up with the reason."""
        path = models_dir / FILE
        spec = json.loads(path.read_text(encoding="utf-8"))
        if tuple(spec.get("features", ())) != FEATURES:
            raise ValueError(f"{path}: made for features {spec.get('features')}, not {FEATURES}")
        model = cls(
            version=str(spec["version"]),
            means=tuple(float(v) for v in spec["means"]),
            scales=tuple(float(v) for v in spec["scales"]),
            weights=tuple(float(v) for v in spec["weights"]),
            bias=float(spec["bias"]),
            cut=float(spec["cut"]),
        )
        if not len(model.means) == len(model.scales) == len(model.weights) == len(FEATURES):
            raise ValueError(f"{path}: needs {len(FEATURES)} means, scales and weights")
        return model

    @classmethod
    def unfitted(cls) -> NeedsPersonModel:
        """Weighs nothing and flags nothing: what a fit reads the heads through before
        there is a model (``training/needs_person.py``)."""
        count = len(FEATURES)
        return cls("unfitted", (0.0,) * count, (1.0,) * count, (0.0,) * count, 0.0, 1.01)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "features": list(FEATURES),
            "means": list(self.means),
            "scales": list(self.scales),
            "weights": list(self.weights),
            "bias": self.bias,
            "cut": self.cut,
        }

    def contributions(self, values: Mapping[str, float]) -> list[float]:
        """Each feature's share of the log-odds, in ``FEATURES`` order."""
        return [
            weight * (values[name] - mean) / scale
            for name, mean, scale, weight in zip(
                FEATURES, self.means, self.scales, self.weights, strict=True
            )
        ]

    def read(self, values: Mapping[str, float]) -> NeedsPerson:
        shares = self.contributions(values)
        score = 1.0 / (1.0 + math.exp(-(self.bias + sum(shares))))
        # A signal is a reading the message has more of than most (more anger, a complaint
        # intent), not one it lacks (less joy than usual), nor the language it is in.
        raising = sorted(
            (share, name)
            for share, name, mean, weight in zip(
                shares, FEATURES, self.means, self.weights, strict=True
            )
            if share > 0 and weight > 0 and values[name] > mean and name not in NOT_SIGNALS
        )
        signals = tuple(name for _, name in reversed(raising[-MAX_SIGNALS:]))
        return NeedsPerson(round(score, 4), score >= self.cut, signals)
