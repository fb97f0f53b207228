"""Trains and quantizes every fastText model from the prepared files (needs .venv-models).

Run: ``.venv-models/bin/python -m services.emotion.training.train [name ...]``. Writes
``models/<name>[.<i>].ftz`` and ``models/training.json`` (versions, files, settings).

Reproducibility: one thread and fixed seeds, and every model is trained in a fresh
process. fastText 0.9.3 is deterministic only in a fresh process: a second model trained
in the same process can come out different or stop with "Encountered NaN".
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from services.emotion.training.datasets import BUILD, MODELS

Params = dict[str, Any]

VECTORS: dict[str, Params] = {
    # Skip-gram word vectors over all in-project English text (prepare.py's corpus-en).
    "vectors-en": {"model": "skipgram", "dim": 100, "epoch": 10, "minCount": 2},
}


@dataclass(frozen=True)
class Spec:
    """One shipped model: an ensemble of ``members`` fastText models averaged at runtime."""

    name: str
    version: str
    members: tuple[Params, ...]
    quantize: Params = field(default_factory=dict)
    vectors: str = ""  # a VECTORS entry the members start from


_QUANTIZE: Params = {"qnorm": True, "retrain": True, "cutoff": 100_000}
_SMALL_QUANTIZE: Params = {"qnorm": True, "retrain": True, "cutoff": 30_000}
# Word unigrams only (no n-gram buckets), starting from the in-project skip-gram vectors.
_EMOTION_EN: Params = {"epoch": 12, "lr": 0.1, "dim": 100, "bucket": 0}

SPECS: tuple[Spec, ...] = (
    Spec(
        "emotion-en",
        "emotion-en-2026.11.1",
        # One-vs-all and softmax members: their average beat either alone on dev.
        ({**_EMOTION_EN, "loss": "ova", "seed": 1}, {**_EMOTION_EN, "loss": "softmax", "seed": 1}),
        _QUANTIZE,
        vectors="vectors-en",
    ),
    Spec(
        # Evaluation only: the GoEmotions paper's Ekman setting, a model trained on the
        # Ekman groups (not loaded by the service, which needs Rapport's finer labels).
        "emotion-en-ekman",
        "emotion-en-ekman-2026.11.1",
        (
            {**_EMOTION_EN, "loss": "ova", "seed": 1},
            {**_EMOTION_EN, "loss": "ova", "minn": 3, "maxn": 5, "bucket": 200_000, "seed": 1},
        ),
        _QUANTIZE,
        vectors="vectors-en",
    ),
    Spec(
        "emotion-xx",
        "emotion-xx-2026.11.1",
        (
            {
                "loss": "ova",
                "epoch": 10,
                "lr": 0.1,
                "dim": 100,
                "minn": 3,
                "maxn": 5,
                "bucket": 200_000,
                "seed": 1,
            },
        ),
        _QUANTIZE,
    ),
    Spec(
        "sarcasm-en",
        "sarcasm-en-2026.11.1",
        (
            {
                "loss": "softmax",
                "epoch": 10,
                "lr": 0.1,
                "dim": 100,
                "minn": 2,
                "maxn": 5,
                "bucket": 100_000,
                "seed": 1,
            },
        ),
        _SMALL_QUANTIZE,
        vectors="vectors-en",
    ),
    Spec(
        "intent-en",
        "intent-en-2026.11.1",
        (
            {
                "loss": "softmax",
                "epoch": 15,
                "lr": 0.3,
                "dim": 50,
                "wordNgrams": 2,
                "minn": 3,
                "maxn": 5,
                "bucket": 200_000,
                "seed": 1,
            },
        ),
        _SMALL_QUANTIZE,
    ),
    Spec(
        "intent-banking77",
        "intent-banking77-2026.11.1",
        (
            {
                "loss": "softmax",
                "epoch": 30,
                "lr": 0.3,
                "dim": 100,
                "wordNgrams": 2,
                "minn": 3,
                "maxn": 5,
                "bucket": 200_000,
                "seed": 1,
            },
        ),
        _SMALL_QUANTIZE,
    ),
)


def member_file(spec: Spec, index: int) -> str:
    return f"{spec.name}.ftz" if len(spec.members) == 1 else f"{spec.name}.{index + 1}.ftz"


def member_params(spec: Spec, index: int) -> Params:
    params = dict(spec.members[index])
    if spec.vectors:
        params["pretrainedVectors"] = str(BUILD / f"{spec.vectors}.vec")
    return params


def train_vectors(name: str) -> None:
    """Unsupervised vectors, saved in the text .vec format ``pretrainedVectors`` reads."""
    import fasttext  # type: ignore[import-untyped]

    model = fasttext.train_unsupervised(
        str(BUILD / "corpus-en.txt"), thread=1, verbose=0, **VECTORS[name]
    )
    with open(BUILD / f"{name}.vec", "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{len(model.words)} {model.get_dimension()}\n")
        for word in model.words:
            vector = " ".join(f"{x:.5f}" for x in model.get_word_vector(word))
            f.write(f"{word} {vector}\n")


def train_member(spec: Spec, index: int) -> list[str]:
    """Train and quantize one member; return the model's labels."""
    import fasttext

    data = str(BUILD / f"{spec.name}.train.txt")
    model = fasttext.train_supervised(input=data, thread=1, verbose=0, **member_params(spec, index))
    if spec.quantize:
        model.quantize(input=data, thread=1, verbose=0, **spec.quantize)
    model.save_model(str(MODELS / member_file(spec, index)))
    return sorted(label.removeprefix("__label__") for label in model.get_labels())


def _in_fresh_process(*args: str) -> str:
    """Run this module with ``args`` in a new interpreter; return what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "services.emotion.training.train", *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    print(f"  {' '.join(args[1:])}: {time.perf_counter() - started:.1f}s", flush=True)
    return str(done.stdout)


def main(names: list[str]) -> None:
    MODELS.mkdir(parents=True, exist_ok=True)
    manifest_path = MODELS / "training.json"
    manifest: dict[str, Any] = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    )
    specs = [spec for spec in SPECS if not names or spec.name in names]
    for vectors in sorted({spec.vectors for spec in specs if spec.vectors}):
        _in_fresh_process("--vectors", vectors)
    for spec in specs:
        labels: list[str] = []
        for index in range(len(spec.members)):
            labels = json.loads(_in_fresh_process("--member", spec.name, str(index)))
        manifest[spec.name] = {
            "version": spec.version,
            "files": [member_file(spec, i) for i in range(len(spec.members))],
            "labels": labels,
            "members": [member_params(spec, i) for i in range(len(spec.members))],
            "vectors": VECTORS.get(spec.vectors, {}),
            "quantize": spec.quantize,
        }
        for index in range(len(spec.members)):
            manifest[spec.name]["members"][index].pop("pretrainedVectors", None)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--vectors"]:
        train_vectors(sys.argv[2])
    elif sys.argv[1:2] == ["--member"]:
        spec = next(s for s in SPECS if s.name == sys.argv[2])
        print(json.dumps(train_member(spec, int(sys.argv[3]))))
    else:
        main(sys.argv[1:])
