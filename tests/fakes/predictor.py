"""A Predictor that answers from keyword tables, to test what the service makes of model output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.emotion.predictor import (
    RAPPORT_EMOTIONS,
    EmotionScores,
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
LANGUAGE_WORDS = {"hola": "es", "bonjour": "fr", "hello": "en", "furious": "en"}


class KeywordPredictor:
    versions: Mapping[str, str] = {
        "language": "kw-1",
        "emotion": "kw-emotion-1",
        "sentiment": "kw-1",
        "sarcasm": "kw-1",
        "intent": "kw-1",
    }
    supported_languages = frozenset({"en", "es"})

    def __init__(self) -> None:
        self.driver_calls = 0

    def language(self, texts: Sequence[str]) -> list[LanguageGuess]:
        guesses = []
        for text in texts:
            code = next((c for w, c in LANGUAGE_WORDS.items() if w in text.lower()), "und")
            confidence = 0.9 if code != "und" else 0.1
            guesses.append(LanguageGuess(code, confidence, code in self.supported_languages))
        return guesses

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

    def intent(self, texts: Sequence[str]) -> list[IntentGuess]:
        return [
            IntentGuess("track_order", 0.9) if "order" in t else IntentGuess("unknown", 0.2)
            for t in texts
        ]

    def emotion_drivers(
        self, text: str, language: str, label: str, top_k: int = 3
    ) -> list[tuple[str, float]]:
        self.driver_calls += 1
        return [(w, 0.5) for w, e in EMOTION_WORDS.items() if e == label and w in text.lower()]
