"""The emotion analysis without a server: the models, the analyzer and the answer the gRPC
service gives, in the calling process.

The service's composition root builds its analyzer here, and so do the commands that try
the models on a file (``analyze`` here, ``decide`` in the orchestrator), so what they
print is what the service would answer, model for model and field for field.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapport.emotion.v1 import emotion_service_pb2 as pb

from services.emotion.analyzer import Analyzer, Request
from services.emotion.config import EmotionSettings
from services.emotion.encoder_predictor import EncoderPredictor
from services.emotion.grpc_server import to_response
from services.emotion.needs_person import NeedsPersonModel


def load_analyzer(settings: EmotionSettings) -> Analyzer:
    """The analyzer over the models in ``settings.models_dir``, tuned by ``settings``."""
    predictor = EncoderPredictor.load(
        settings.models_dir, settings.intents_file, threads=settings.encoder_threads
    )
    needs_person = NeedsPersonModel.load(settings.models_dir)
    return Analyzer(predictor, needs_person, max_chars=settings.max_text_chars)


def analyze_batch(
    analyzer: Analyzer, requests: Sequence[Request], *, include_drivers: bool
) -> list[pb.AnalyzeResponse]:
    """What ``AnalyzeBatch`` answers for ``requests`` (each head predicts the whole batch
    in one call), without the service's checks on the request and its metrics."""
    versions = analyzer.versions
    return [to_response(a, versions) for a in analyzer.analyze_batch(requests, include_drivers)]
