"""The service's predictor: English through the fine-tuned encoder (one pass, every head),
XED's other languages through the multilingual fastText model, and the language of each
message from ``language_id``.

The encoder beats the English fastText heads on every dev figure (see
``models/encoder.md``); the multilingual fastText model stays for es, fr, de, pt, it, nl
and fi until a multilingual encoder replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from services.emotion.drivers import occlusion_drivers
from services.emotion.encoder_heads import EncoderHeads
from services.emotion.fasttext_predictor import FastTextPredictor
from services.emotion.language_id import LanguageIdentifier
from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    EmotionScores,
    Identified,
    IntentGuess,
    SarcasmScore,
    SentimentScore,
)

ENGLISH = frozenset({"en", "und", ""})
T = TypeVar("T")


class EncoderPredictor:
    """Thread-safe; every method takes a batch."""

    def __init__(
        self, heads: EncoderHeads, fasttext: FastTextPredictor, languages: LanguageIdentifier
    ) -> None:
        self.heads = heads
        self.fasttext = fasttext
        self.languages = languages
        self.supported_languages = fasttext.supported_languages
        self._versions = {
            **fasttext.versions,
            "language": languages.version,
            "emotion": f"{heads.version}+{fasttext.multilingual.version}",
            "sentiment": f"{heads.version}+{fasttext.versions['sentiment']}",
            "sarcasm": heads.version,
            "intent": heads.version,
            "encoder": heads.version,
        }

    @classmethod
    def load(cls, models_dir: Path, intents_file: Path, *, threads: int = 1) -> EncoderPredictor:
        return cls(
            EncoderHeads.load(models_dir / "encoder", intents_file, threads=threads),
            FastTextPredictor.load(models_dir),
            LanguageIdentifier.load(models_dir / "language.json"),
        )

    @property
    def versions(self) -> Mapping[str, str]:
        return dict(self._versions)

    def language(
        self, texts: Sequence[str], hints: Sequence[str], previous: Sequence[str]
    ) -> list[Identified]:
        return self.languages.identify_all(texts, hints, previous)

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]:
        english = [reading.emotions for reading in self.heads.read(texts)]
        return self._by_language(english, texts, languages, self.fasttext.emotions)

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]:
        english = [reading.sentiment for reading in self.heads.read(texts)]
        return self._by_language(english, texts, languages, self.fasttext.sentiment)

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]:
        return [reading.sarcasm for reading in self.heads.read(texts)]

    def intent(self, texts: Sequence[str], languages: Sequence[str]) -> list[IntentGuess]:
        """English: the examples, else the head; other languages: only an example near
        enough (the head and the encoder were trained on English)."""
        return [
            reading.intent if language in ENGLISH else reading.intent_by_examples
            for reading, language in zip(self.heads.read(texts), languages, strict=True)
        ]

    def embeddings(self, texts: Sequence[str]) -> list[tuple[float, ...]]:
        return [reading.embedding for reading in self.heads.read(texts)]

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        """Occlusion (``drivers``) over the model that read the text."""
        if language not in ENGLISH:
            return self.fasttext.emotion_drivers(text, language, label, top_k)
        if label not in RAPPORT_EMOTIONS:
            return []
        return occlusion_drivers(text, lambda texts: self.heads.emotion_scores(texts, label), top_k)

    @staticmethod
    def _by_language(
        english: list[T],
        texts: Sequence[str],
        languages: Sequence[str],
        multilingual: Callable[[Sequence[str], Sequence[str]], list[T]],
    ) -> list[T]:
        """The encoder's answer for English, the multilingual model's for the others."""
        others = [i for i in range(len(texts)) if languages[i] not in ENGLISH]
        if others:
            answers = multilingual([texts[i] for i in others], [languages[i] for i in others])
            for i, answer in zip(others, answers, strict=True):
                english[i] = answer
        return english
