"""What the service makes of the heads' output: language choice, intensity, urgency, reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from services.emotion.analyzer import Analysis, Analyzer, LanguageAndIntent, Request
from services.emotion.config import SHIPPED_MODELS
from services.emotion.needs_person import NeedsPersonModel
from services.emotion.predictor import EmotionScores, SarcasmScore, SentimentScore
from services.emotion.urgency import urgency
from tests.fakes.predictor import KeywordPredictor


def _analyzer(max_chars: int = 100) -> tuple[Analyzer, KeywordPredictor]:
    predictor = KeywordPredictor()
    needs_person = NeedsPersonModel.load(SHIPPED_MODELS)
    return Analyzer(predictor, needs_person, max_chars=max_chars), predictor


def test_a_clear_message_is_read_with_its_reasons() -> None:
    analyzer, _ = _analyzer()
    result = analyzer.analyze(Request("hello, I am furious about my order"), include_drivers=True)
    assert result.language.code == "en" and not result.language_from_hint
    assert result.dominant_emotion == "anger"
    assert result.intensity > 0.8
    assert result.drivers == (("furious", 0.5),)
    assert result.intent.name == "track_order"
    assert not result.truncated


def test_the_hint_and_previous_language_reach_the_language_identifier() -> None:
    analyzer, _ = _analyzer()
    short = analyzer.analyze(Request("👍", language_hint="es-ES"), include_drivers=False)
    assert (short.language.code, short.language_from_hint, short.language.supported) == (
        "es",
        True,
        True,
    )
    before = analyzer.analyze(
        Request("👍", language_hint="es-ES", previous_language="en"), include_drivers=False
    )
    assert (before.language.code, before.language_from_hint) == ("en", True)
    clear = analyzer.analyze(Request("bonjour", language_hint="es"), include_drivers=False)
    assert (clear.language.code, clear.language_from_hint) == ("fr", False)


def test_neutral_text_has_no_intensity_and_no_drivers() -> None:
    analyzer, predictor = _analyzer()
    result = analyzer.analyze(Request("the sky is blue"), include_drivers=True)
    assert result.dominant_emotion == "neutral"
    assert result.intensity == 0.0
    assert result.drivers == ()
    assert predictor.driver_calls == 0


def test_one_message_is_explained_only_when_asked() -> None:
    analyzer, predictor = _analyzer()
    result = analyzer.analyze(Request("I am furious"), include_drivers=False)
    assert result.dominant_emotion == "anger"
    assert result.drivers == ()
    assert predictor.driver_calls == 0


def test_long_text_is_analysed_on_a_prefix_and_flagged() -> None:
    analyzer, _ = _analyzer(max_chars=20)
    result = analyzer.analyze(Request("x" * 50 + " furious"), include_drivers=False)
    assert result.truncated and result.analysed_chars == 20
    assert result.dominant_emotion == "neutral"  # the word past the prefix is not read


def test_a_batch_keeps_order_and_explains_only_when_asked() -> None:
    analyzer, predictor = _analyzer()
    texts = ["thanks a lot", "I am furious", "hola"]
    results = analyzer.analyze_batch([Request(t) for t in texts], include_drivers=False)
    assert [r.dominant_emotion for r in results] == ["gratitude", "anger", "neutral"]
    assert predictor.driver_calls == 0


class _FeelingsCounted(KeywordPredictor):
    """Counts the calls of the heads that read feelings."""

    def __init__(self) -> None:
        super().__init__()
        self.feeling_calls = 0

    def emotions(self, texts: Sequence[str], languages: Sequence[str]) -> list[EmotionScores]:
        self.feeling_calls += 1
        return super().emotions(texts, languages)

    def sentiment(self, texts: Sequence[str], languages: Sequence[str]) -> list[SentimentScore]:
        self.feeling_calls += 1
        return super().sentiment(texts, languages)

    def sarcasm(self, texts: Sequence[str]) -> list[SarcasmScore]:
        self.feeling_calls += 1
        return super().sarcasm(texts)


def test_an_opted_out_message_is_read_for_language_intent_and_embedding_only() -> None:
    predictor = _FeelingsCounted()
    analyzer = Analyzer(predictor, NeedsPersonModel.load(SHIPPED_MODELS), max_chars=100)
    only = Request("hola, I am furious about my order", include_embedding=True)
    [result] = analyzer.analyze_batch(
        [replace(only, language_and_intent_only=True)], include_drivers=True
    )
    assert type(result) is LanguageAndIntent
    assert (result.language.code, result.intent.name) == ("es", "track_order")
    assert result.embedding is not None
    assert predictor.feeling_calls == 0 and predictor.driver_calls == 0
    [full] = analyzer.analyze_batch([only], include_drivers=True)
    assert isinstance(full, Analysis) and full.dominant_emotion == "anger"
    assert predictor.feeling_calls == 3 and predictor.driver_calls == 1


def test_a_mixed_batch_reads_feelings_only_of_the_messages_that_allow_it() -> None:
    analyzer, predictor = _analyzer()
    texts = ["I am furious", "I am furious about my order"]
    requests = [Request(texts[0]), Request(texts[1], language_and_intent_only=True)]
    allowed, opted_out = analyzer.analyze_batch(requests, include_drivers=True)
    assert isinstance(allowed, Analysis) and allowed.dominant_emotion == "anger"
    assert type(opted_out) is LanguageAndIntent and opted_out.intent.name == "track_order"
    assert predictor.driver_calls == 1


def test_urgency_names_every_signal_it_used() -> None:
    calm = urgency("Could you check my order when you have a moment?", "neutral", 0.0)
    assert (calm.level, calm.signals) == ("low", ())
    loud = urgency("I NEED THIS TODAY!!! or I will switch to another shop", "anger", 0.9)
    assert loud.level == "high"
    assert set(loud.signals) == {
        "deadline",
        "threat_to_leave",
        "repeated_punctuation",
        "all_caps",
        "strong_emotion",
    }
    spanish = urgency("Lo necesito ahora mismo", "neutral", 0.0)
    assert spanish.signals == ("right_now",) and spanish.level == "normal"
