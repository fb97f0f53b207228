"""CPU per message of each stage of the emotion service's analysis, in one process.

Run: ``.venv/bin/python -m bench.emotion_models --stages [N]``. Reads N customer lines
(the hand-written shop messages of ``tests/data``, cycled) one at a time, as the
orchestrator asks for them (with the retrieval embedding, except for the intents its
policy never answers from knowledge), and prints CPU milliseconds per message
(``time.process_time``: robust to a shared machine, unlike wall time) of:

- each stage on its own (language identification, the English encoder's pass, its heads,
  the English retrieval encoder, the multilingual encoder and heads on the other
  languages' lines);
- the whole analysis of the English lines and of the others (the multilingual encoder
  costs several times the English one), back to back (caches warm) and paced with a
  pause after each message as in a service whose neighbours run meanwhile (caches cooled:
  closer to what a reply costs);
- the answer put on the wire (``to_response`` and serialising it).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the service runs

import numpy as np  # noqa: E402

from services.emotion.analyzer import Analyzer, LanguageAndIntent, Request  # noqa: E402
from services.emotion.config import EmotionSettings  # noqa: E402
from services.emotion.encoder import Encoder, Floats  # noqa: E402
from services.emotion.encoder_heads import EncoderHeads  # noqa: E402
from services.emotion.encoder_predictor import ENGLISH, EncoderPredictor  # noqa: E402
from services.emotion.example_intents import load_examples  # noqa: E402
from services.emotion.grpc_server import to_response  # noqa: E402
from services.emotion.needs_person import NeedsPersonModel  # noqa: E402
from services.orchestrator.policy import Policy  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
CUSTOMER_LINES = (
    REPO_ROOT / "tests" / "data" / "intent_messages.jsonl",
    REPO_ROOT / "tests" / "data" / "customer_moods.jsonl",
)
PAUSE_SECONDS = 0.01
"""After each message in the paced run: the time between two messages at 100 msg/s."""


def customer_lines(count: int) -> list[tuple[str, str]]:
    """``count`` (text, language) lines, cycling through the hand-written ones."""
    lines = [
        json.loads(line)
        for path in CUSTOMER_LINES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    chosen = [lines[i % len(lines)] for i in range(count)]
    return [(line["text"], line["language"]) for line in chosen]


def cpu_ms(each: Callable[[str], object], texts: Sequence[str], pause: float = 0.0) -> float:
    """CPU milliseconds per text of ``each(text)`` over ``texts``."""
    started = time.process_time()
    for text in texts:
        each(text)
        if pause:
            time.sleep(pause)
    return 1000 * (time.process_time() - started) / max(1, len(texts))


class Recorded:
    """Stands in for an encoder: each text's outputs computed once by the real one, then
    given back as they were, so what a timing of the heads measures is the heads."""

    def __init__(self, encoder: Encoder) -> None:
        self.heads = encoder.heads
        self.outputs = encoder.outputs
        self._encoder = encoder
        self._known: dict[str, dict[str, Floats]] = {}

    def run(self, texts: Sequence[str]) -> dict[str, Floats]:
        for text in texts:
            if text not in self._known:
                self._known[text] = self._encoder.run([text])
        return {
            name: np.concatenate([self._known[text][name] for text in texts])
            for name in self.outputs
        }


def stage_costs(
    settings: EmotionSettings, predictor: EncoderPredictor, lines: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """CPU ms per message of each stage, on the lines it serves."""
    english = [t for t, language in lines if language in ENGLISH]
    others = [(t, language) for t, language in lines if language not in ENGLISH]
    heads = predictor.heads
    # The heads alone, on outputs the encoder gave once: the difference of two timings of
    # the pass would be lost in the machine's drift.
    recorded = Recorded(heads.encoder)
    spec = json.loads((settings.models_dir / "encoder" / "heads.json").read_text("utf-8"))
    heads_alone = EncoderHeads(cast(Encoder, recorded), spec)
    heads_alone.use_examples(load_examples(settings.intents_file))
    for text in english:
        recorded.run([text])
    others_cost = 0.0
    if others:
        started = time.process_time()
        for text, language in others:
            predictor.others.read([text], [language])
        others_cost = 1000 * (time.process_time() - started) / len(others)
    return {
        "language identification (all lines)": cpu_ms(
            lambda t: predictor.language([t], [""], [""]), [t for t, _ in lines]
        ),
        "English encoder pass (tokenizer + ONNX)": cpu_ms(
            lambda t: heads.encoder.run([t]), english
        ),
        "English heads (calibration, examples, Bitext)": cpu_ms(
            lambda t: heads_alone.read([t]), english
        ),
        "English retrieval encoder (tokenizer + ONNX)": cpu_ms(
            lambda t: predictor.retrieval.english([t]), english
        ),
        "multilingual encoder + heads (es/fr/de/pt lines)": others_cost,
    }


def main(count: int) -> None:
    settings = EmotionSettings()  # the service's models, as ``in_process.load_analyzer``
    predictor = EncoderPredictor.load(
        settings.models_dir, settings.intents_file, threads=settings.encoder_threads
    )
    needs_person = NeedsPersonModel.load(settings.models_dir)
    analyzer = Analyzer(predictor, needs_person, max_chars=settings.max_text_chars)
    excluded = Policy.load().knowledge_excluded_intents
    lines = customer_lines(count)
    texts = [text for text, _ in lines]

    def analyse(text: str) -> list[LanguageAndIntent]:
        request = Request(text, include_embedding=True, no_embedding_for_intents=excluded)
        return analyzer.analyze_batch([request], include_drivers=False)

    versions = analyzer.versions
    readings = {text: analyse(text) for text in dict.fromkeys(texts)}  # also the warm-up
    print(f"{len(texts)} customer lines ({len(readings)} different), CPU ms per message:")
    for name, cost in stage_costs(settings, predictor, lines).items():
        print(f"  {name:<56} {cost:7.3f}")
    english = [t for t, language in lines if language in ENGLISH]
    others = [t for t, language in lines if language not in ENGLISH]
    for label, group in (("English lines", english), ("other languages' lines", others)):
        whole = cpu_ms(analyse, group)
        paced = cpu_ms(analyse, group[: max(1, len(group) // 4)], PAUSE_SECONDS)
        print(f"  {f'whole analysis, {label}, back to back':<56} {whole:7.3f}")
        print(f"  {f'whole analysis, {label}, paced':<56} {paced:7.3f}")
    wire = cpu_ms(
        lambda t: [to_response(r, versions).SerializeToString() for r in readings[t]], texts
    )
    print(f"  {'answer on the wire (to_response + serialise)':<56} {wire:7.3f}")
