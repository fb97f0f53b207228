from __future__ import annotations

from services.emotion.analyzer import EMOTION_LABELS, analyze


def test_a_late_order_reads_as_frustrated_delivery_problem() -> None:
    result = analyze("Hi, my order hasn't arrived")
    assert result.language == "en"
    assert result.dominant_emotion == "frustration"
    assert result.intent == "delivery_problem"
    assert result.sentiment_score < 0
    assert set(result.emotions) == set(EMOTION_LABELS)


def test_shouting_and_deadlines_raise_intensity_and_urgency() -> None:
    calm = analyze("The refund is unacceptable")
    loud = analyze("THE REFUND IS UNACCEPTABLE!!! I need it right now")
    assert loud.intensity > calm.intensity
    assert loud.urgency == "high"
    assert {"all_caps", "right_now", "repeated_punctuation"} <= set(loud.urgency_signals)


def test_plain_text_is_neutral_and_intent_unknown() -> None:
    result = analyze("The sky is blue")
    assert result.dominant_emotion == "neutral"
    assert result.intensity == 0.0
    assert result.intent == "unknown"


def test_language_falls_back_to_the_hint_when_the_text_says_nothing() -> None:
    assert analyze("👍", language_hint="fr").language == "fr"
    assert analyze("Hola, ¿dónde está mi pedido?").language == "es"
