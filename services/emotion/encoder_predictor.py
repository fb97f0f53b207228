"""The service's predictor: English through the fine-tuned English encoder (one pass,
every head), every other language through the frozen multilingual encoder and its heads,
and the language of each message from ``language_id``.

Two encoders, chosen by measurement (``models/encoder.md``, ``models/multilingual.md``):
the fine-tuned English one reads English better than any multilingual head here and is
about five times faster, so it takes the bulk of the traffic; multilingual-e5 reads the
other languages far better than the fastText model it replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from services.emotion.drivers import occlusion_drivers
from services.emotion.encoder import as_tuple
from services.emotion.encoder_heads import EncoderHeads, Reading
from services.emotion.example_intents import load_examples
from services.emotion.language_id import LanguageIdentifier
from services.emotion.multilingual_encoder import VERSION as MULTILINGUAL_SPACE
from services.emotion.multilingual_heads import MultilingualHeads, MultilingualReading
from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    Embedded,
    EmotionScores,
    Identified,
    IntentGuess,
    SarcasmScore,
    SentimentScore,
)
from services.emotion.retrieval import RetrievalEncoders

T = TypeVar("T")
ENGLISH = frozenset({"en", "und", ""})
UNSUPPORTED_EMOTIONS = EmotionScores(
    MappingProxyType({x: (0.5 if x == "neutral" else 0.05) for x in RAPPORT_EMOTIONS}), (), "none"
)
"""A language without a measured model: low-confidence, neutral-leaning, nothing detected."""


class EncoderPredictor:
    """Thread-safe; every method takes a batch."""

    def __init__(
        self,
        english: EncoderHeads,
        others: MultilingualHeads,
        languages: LanguageIdentifier,
        retrieval: RetrievalEncoders,
    ) -> None:
        self.heads = english
        self.others = others
        self.languages = languages
        self.retrieval = retrieval
        # The languages the heads were trained and measured in (XED's, which the
        # multilingual heads carry a mean vector for); others are not guessed at.
        self.supported_languages = frozenset({"en", *others.centring.means})
        both = f"{english.version}+{others.version}"
        self._versions = {
            "language": languages.version,
            "emotion": both,
            "sentiment": both,
            "sarcasm": english.version,
            "intent": both,
            "encoder": english.version,
            "retrieval": "+".join(retrieval.spaces),
        }

    @classmethod
    def load(cls, models_dir: Path, intents_file: Path, *, threads: int = 1) -> EncoderPredictor:
        examples = load_examples(intents_file)
        english = EncoderHeads.load(models_dir / "encoder", examples, threads=threads)
        others = MultilingualHeads.load(models_dir / "multilingual", examples, threads=threads)
        retrieval = RetrievalEncoders.load(
            models_dir / "retrieval", others.encoder, threads=threads
        )
        return cls(
            english, others, LanguageIdentifier.load(models_dir / "language.json"), retrieval
        )

    @property
    def versions(self) -> Mapping[str, str]:
        return dict(self._versions)

    def language(
        self, texts: Sequence[str], hints: Sequence[str], previous: Sequence[str]
    ) -> list[Identified]:
        return self.languages.identify_all(texts, hints, previous)

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]:
        return self._per_text(texts, languages, "emotions", UNSUPPORTED_EMOTIONS)

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]:
        return self._per_text(texts, languages, "sentiment", SentimentScore("neutral", 0.0))

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]:
        return [reading.sarcasm for reading in self.heads.read(texts)]

    def intent(self, texts: Sequence[str], languages: Sequence[str]) -> list[IntentGuess]:
        """English: the examples, else the Bitext head; other languages: the examples, through
        the multilingual encoder."""
        return self._per_text(texts, languages, "intent", IntentGuess("unknown", 0.0))

    def embeddings(
        self, texts: Sequence[str], languages: Sequence[str], wanted: Sequence[bool]
    ) -> list[Embedded | None]:
        """English (and undetermined) texts through the English retrieval encoder; the
        other languages' e5 vectors from the pass that read them."""
        found: list[Embedded | None] = [None] * len(texts)
        english = [i for i, w in enumerate(wanted) if w and languages[i] in ENGLISH]
        if english:
            vectors = self.retrieval.english([texts[i] for i in english])
            for i, vector in zip(english, vectors, strict=True):
                found[i] = Embedded(self.retrieval.english_space, as_tuple(vector))
        others = [i for i, w in enumerate(wanted) if w and languages[i] not in ENGLISH]
        if not others:
            return found
        already_read = dict(self._others(texts, languages))  # the analysis's own pass
        for i in others:
            if i in already_read:
                found[i] = Embedded(MULTILINGUAL_SPACE, already_read[i].vector)
        unread = [i for i in others if found[i] is None]  # languages without heads
        if unread:
            vectors = self.retrieval.multilingual([texts[i] for i in unread])
            for i, vector in zip(unread, vectors, strict=True):
                found[i] = Embedded(MULTILINGUAL_SPACE, as_tuple(vector))
        return found

    def embed_everywhere(self, texts: Sequence[str]) -> dict[str, list[tuple[float, ...]]]:
        return {
            space: [as_tuple(v) for v in vectors]
            for space, vectors in self.retrieval.everywhere(texts).items()
        }

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        """Occlusion (``drivers``) over the model that read the text."""
        if label not in RAPPORT_EMOTIONS:
            return []
        if language in ENGLISH:
            return occlusion_drivers(
                text, lambda texts: self.heads.emotion_scores(texts, label), top_k
            )
        if language not in self.supported_languages:
            return []
        return occlusion_drivers(
            text, lambda texts: self.others.emotion_scores(texts, language, label), top_k
        )

    def _per_text(
        self, texts: Sequence[str], languages: Sequence[str], head: str, otherwise: T
    ) -> list[T]:
        """Each text's answer of ``head`` (a field both encoders' readings have) from the
        encoder that reads its language; ``otherwise`` for languages neither reads."""
        answers = [otherwise] * len(texts)
        for i, reading in [*self._english(texts, languages), *self._others(texts, languages)]:
            answers[i] = getattr(reading, head)
        return answers

    def _english(self, texts: Sequence[str], languages: Sequence[str]) -> list[tuple[int, Reading]]:
        """(index, reading) of the English texts. Every text goes through the English
        encoder once (its sarcasm head reads every language), so this reuses that pass."""
        readings = self.heads.read(texts)
        return [(i, readings[i]) for i, language in enumerate(languages) if language in ENGLISH]

    def _others(
        self, texts: Sequence[str], languages: Sequence[str]
    ) -> list[tuple[int, MultilingualReading]]:
        """(index, reading) of the texts in the other supported languages, from one pass."""
        chosen = [
            i
            for i, language in enumerate(languages)
            if language not in ENGLISH and language in self.supported_languages
        ]
        if not chosen:
            return []
        readings = self.others.read([texts[i] for i in chosen], [languages[i] for i in chosen])
        return list(zip(chosen, readings, strict=True))
