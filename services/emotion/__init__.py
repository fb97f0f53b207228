"""Emotion service: language, emotion, sentiment, sarcasm, intent and urgency over gRPC."""
