"""Banking77 as a knowledge base, to measure and calibrate answering from knowledge on
questions nobody wrote for it: ``python -m services.orchestrator.knowledge.banking77 OUT``.

57 intents become articles, each with ten customer questions taken from Banking77's train
split (the 90 % the emotion training keeps for training); the other 20 intents have no
article, so their queries are ones the bot should not answer. Writes ``OUT/articles``,
``OUT/dev.jsonl`` (the 10 % of train held out for development) and ``OUT/test.jsonl``
(the official test split, only ever scored).
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from services.emotion.training.datasets import SEED
from services.emotion.training.multitask import banking77_splits

QUESTIONS = 10
UNANSWERABLE = 20


def write(out: Path) -> None:
    splits = banking77_splits()
    rng = random.Random(SEED)
    intents = sorted({label for _, label in splits["train"]})
    unanswerable = set(rng.sample(intents, UNANSWERABLE))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, label in splits["train"]:
        by_intent[label].append(text)
    folder = out / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for intent in sorted(set(intents) - unanswerable):
        article = {
            "id": intent,
            "title": intent.replace("_", " ").capitalize(),
            "questions": rng.sample(by_intent[intent], QUESTIONS),
            "answer": {"en": f"The answer about {intent.replace('_', ' ')}."},
        }
        (folder / f"{intent}.yaml").write_text(yaml.safe_dump(article, allow_unicode=True), "utf-8")
    for split in ("dev", "test"):
        lines = [
            json.dumps({"text": text, "expected": None if label in unanswerable else label})
            for text, label in splits[split]
        ]
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("var/knowledge-banking77"))
