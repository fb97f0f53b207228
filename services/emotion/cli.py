"""``python -m services.emotion analyze --jsonl FILE``: what the emotion models make of
customer messages, one JSON line per message, in this process (no server, no broker).

Each line is the service's ``AnalyzeResponse`` (protos/rapport/emotion/v1) in protobuf's
JSON form with the proto's field names, after the message's ``id``: language and its
confidence, every emotion's score, the dominant emotion and its intensity, sentiment,
sarcasm, intent, urgency and every head's model version. The models, the analyzer and
the settings (``RAPPORT_EMOTION_*``) are the service's own (``in_process``), so a model
swapped in for the service is the one measured here. Input and errors: ``shared.message_lines``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from rapport.emotion.v1 import emotion_service_pb2 as pb

from services.emotion.analyzer import Analyzer, Request
from services.emotion.config import EmotionSettings
from services.emotion.in_process import analyze_batch, load_analyzer
from shared.message_lines import MessageLine, add_source_argument, run_on_standard_streams

PROGRAM = "python -m services.emotion"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=PROGRAM, description="Without a command, serve the EmotionService over gRPC."
    )
    commands = root.add_subparsers(dest="command", required=True)
    analyze = commands.add_parser(
        "analyze", help="analyse messages from a JSON-lines file with the service's models"
    )
    add_source_argument(analyze)
    analyze.add_argument(
        "--drivers",
        action="store_true",
        help="also name the words that drove the dominant emotion (up to 8 predictions more)",
    )
    analyze.add_argument(
        "--embedding",
        action="store_true",
        help="also print each message's retrieval embedding (384 numbers) and its model",
    )
    return root


def as_json(
    message: MessageLine, analysis: pb.AnalyzeResponse, *, include_embedding: bool = False
) -> dict[str, Any]:
    """The answer for one message: its id, then the service's answer as JSON."""
    fields = json_format.MessageToDict(
        analysis, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    if not include_embedding:
        del fields["embedding"], fields["embedding_model"]
    return {"id": message.id, **fields}


def analyses(
    analyzer: Analyzer,
    messages: Sequence[MessageLine],
    *,
    include_drivers: bool,
    include_embedding: bool = False,
) -> list[Mapping[str, Any]]:
    """One JSON object per message, the batch analysed together."""
    requests = [
        Request(m.text, m.language_hint, include_embedding=include_embedding) for m in messages
    ]
    results = analyze_batch(analyzer, requests, include_drivers=include_drivers)
    return [
        as_json(m, r, include_embedding=include_embedding)
        for m, r in zip(messages, results, strict=True)
    ]


def main(argv: Sequence[str]) -> int:
    """Run the command ``argv`` names; the exit status (2 for a bad argument, from argparse)."""
    args = parser().parse_args(argv)
    analyzer = load_analyzer(EmotionSettings())
    return run_on_standard_streams(
        args.jsonl,
        lambda batch: analyses(
            analyzer, batch, include_drivers=args.drivers, include_embedding=args.embedding
        ),
        program=f"{PROGRAM} {args.command}",
    )
