"""A Predictor that answers from keyword tables, to test what the service makes of model output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    Embedded,
    EmotionScores,
    Identified,
    IntentGuess,
    LanguageGuess,
    SarcasmScore,
    SentimentScore,
)

EMOTION_WORDS = {
    "furious": "anger",
    "annoyed": "frustration",
    "worried": "anxiety",
    "thanks": "gratitude",
}
KEYWORD_SPACE = "keywords-1"
LANGUAGE_WORDS = {"hola": "es", "bonjour": "fr", "hello": "en", "furious": "en"}


class KeywordPredictor:
    versions: Mapping[str, str] = {
        "language": "kw-1",
        "emotion": "kw-emotion-1",
        "sentiment": "kw-1",
        "sarcasm": "kw-1",
        "intent": "kw-1",
        "encoder": "kw-1",
    }
    supported_languages = frozenset({"en", "es"})

    def __init__(self) -> None:
        self.driver_calls = 0

    def language(
        self, texts: Sequence[str], hints: Sequence[str], previous: Sequence[str]
    ) -> list[Identified]:
        """A keyword's language; without one, the previous language, else the hint's."""
        found = []
        for text, hint, before in zip(texts, hints, previous, strict=True):
            code = next((c for w, c in LANGUAGE_WORDS.items() if w in text.lower()), "")
            context = before or hint.split("-")[0]
            chosen, confidence = (code, 0.9) if code else (context or "und", 0.1)
            guess = LanguageGuess(chosen, confidence, chosen in self.supported_languages)
            found.append(Identified(guess, not code and bool(context)))
        return found

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]:
        results = []
        for text in texts:
            found = [e for w, e in EMOTION_WORDS.items() if w in text.lower()]
            scores = {label: (0.9 if label in found else 0.05) for label in RAPPORT_EMOTIONS}
            results.append(EmotionScores(scores, tuple(found), "kw-emotion-1"))
        return results

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]:
        return [
            SentimentScore("negative", -0.8) if "furious" in t else SentimentScore("neutral", 0)
            for t in texts
        ]

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]:
        return [SarcasmScore(0.1, False) for _ in texts]

    def intent(self, texts: Sequence[str], languages: Sequence[str]) -> list[IntentGuess]:
        return [
            IntentGuess("track_order", 0.9) if "order" in t else IntentGuess("unknown", 0.2)
            for t in texts
        ]

    def embeddings(
        self, texts: Sequence[str], languages: Sequence[str], wanted: Sequence[bool]
    ) -> list[Embedded | None]:
        vectors = self.embed_everywhere(texts)[KEYWORD_SPACE]
        return [
            Embedded(KEYWORD_SPACE, v) if w else None for v, w in zip(vectors, wanted, strict=True)
        ]

    def embed_everywhere(self, texts: Sequence[str]) -> Mapping[str, list[tuple[float, ...]]]:
        """A unit vector per text: which of four keywords it holds, or none."""
        vectors = []
        for text in texts:
            hits = [float(w in text.lower()) for w in EMOTION_WORDS]
            norm = sum(hits) ** 0.5 or 1.0
            vectors.append(tuple(h / norm for h in hits))
        return {KEYWORD_SPACE: vectors}

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        self.driver_calls += 1
        return [(w, 0.5) for w, e in EMOTION_WORDS.items() if e == label and w in text.lower()]
