"""The heads whose model versions every analysis names (AnalyzeResponse.model_versions)."""

MODEL_VERSION_KEYS = frozenset(
    {
        "language",
        "emotion",
        "sentiment",
        "sarcasm",
        "intent",
        "encoder",
        "retrieval",
        "needs_person",
    }
)
