"""In-process throughput and memory of the emotion service's trained heads, and the CPU
each stage of one analysis costs.

Run: ``.venv/bin/python -m bench.emotion_models [N]``. Pinned to one core where the OS
allows, it analyses N GoEmotions test comments with every head (language, emotion,
sentiment, sarcasm, intent, embedding) in batch mode and one message at a time, and prints
messages/s for each and the resident memory after loading the models.

``.venv/bin/python -m bench.emotion_models --stages [N]`` reads N customer lines
(``bench.emotion_stages``) as the orchestrator asks for them and prints the CPU
milliseconds per message of each stage.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from collections.abc import Sequence

from services.emotion.config import SHIPPED_INTENTS, SHIPPED_MODELS
from services.emotion.encoder_predictor import EncoderPredictor
from services.emotion.text import normalize
from services.emotion.training.datasets import goemotions


def rss_mb() -> float:
    """Current resident set size (VmRSS), in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def all_heads(predictor: EncoderPredictor, texts: Sequence[str]) -> None:
    """One analysis of ``texts`` by every head, as the service does it. The normalisation
    cache is emptied first, as if the texts were new (the bench cycles through the test set)."""
    normalize.cache_clear()
    no_context = [""] * len(texts)  # no channel hint, no earlier message
    codes = [read.guess.code for read in predictor.language(texts, no_context, no_context)]
    predictor.emotions(texts, codes)
    predictor.sentiment(texts, codes)
    predictor.sarcasm(texts)
    predictor.intent(texts, codes)
    predictor.embeddings(texts, codes, [True] * len(texts))


def main(n: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    before = rss_mb()
    started = time.perf_counter()
    predictor = EncoderPredictor.load(SHIPPED_MODELS, SHIPPED_INTENTS, threads=1)
    loaded = time.perf_counter() - started
    after = rss_mb()
    pool = [text for text, _ in goemotions("test")]
    texts = [pool[i % len(pool)] for i in range(n)]
    print(f"models loaded in {loaded:.2f}s; RSS {before:.0f} MB before, {after:.0f} MB after")
    print(f"versions: {dict(predictor.versions)}")

    all_heads(predictor, texts[:200])  # warm-up
    started = time.perf_counter()
    for i in range(0, n, 1000):
        all_heads(predictor, texts[i : i + 1000])
    batch = n / (time.perf_counter() - started)

    single_n = min(n, 5000)
    started = time.perf_counter()
    for text in texts[:single_n]:
        all_heads(predictor, [text])
    single = single_n / (time.perf_counter() - started)

    print(f"all heads, batches of 1000: {batch:,.0f} messages/s ({n} messages, one core)")
    print(f"all heads, one at a time:   {single:,.0f} messages/s ({single_n} messages)")
    print(f"RSS after the runs: {rss_mb():.0f} MB")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stages"]:
        from bench.emotion_stages import main as stages

        stages(int(sys.argv[2]) if len(sys.argv) > 2 else 2_000)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
