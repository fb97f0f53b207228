"""The fine-tuned sentence encoder and its heads, served int8 by onnxruntime.

One forward pass per text gives every head's logits and the normalised sentence
embedding (``training/finetune.py`` builds the file). Thread-safe: an onnxruntime
session may be run from several threads at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

from services.emotion.text import clean_text

Floats = npt.NDArray[np.float32]
MODEL_FILE = "encoder.int8.onnx"


def as_tuple(vector: Floats) -> tuple[float, ...]:
    """A vector as the wire carries it: plain floats, rounded to 6 places."""
    return tuple(np.round(np.asarray(vector, dtype=np.float64), 6).tolist())


class Encoder:
    """Every output of the encoder for a batch of texts, keyed by output name."""

    def __init__(self, directory: Path, *, threads: int = 1) -> None:
        manifest = json.loads((directory / "training.json").read_text(encoding="utf-8"))
        self.heads: Mapping[str, tuple[str, ...]] = {
            name: tuple(labels) for name, labels in manifest["heads"].items()
        }
        self.outputs: tuple[str, ...] = tuple(manifest["outputs"])
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(manifest["max_tokens"]))
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def run(self, texts: Sequence[str]) -> dict[str, Floats]:
        """One row per text, in the order given, for every output.

        Each text is its own call: the int8 model scales its activations per call
        (dynamic quantisation), so texts encoded together would move each other's scores
        (by up to 0.06 measured) and a decision could flip with the batch. One text a
        call keeps every answer the same wherever it is asked (unary, a batch, the
        ``analyze`` and ``decide`` commands), and costs little: short texts pad little
        anyway (about 290 texts/s a core against 500 batched; static quantisation, which
        would allow batches, lost 0.03 of GoEmotions test macro-F1)."""
        results: dict[str, Floats] = {}
        for row, encoding in enumerate(
            self._tokenizer.encode_batch([clean_text(text) for text in texts])
        ):
            ids = np.array([encoding.ids], dtype=np.int64)
            outputs = self._session.run(
                None, {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            )
            for name, values in zip(self.outputs, outputs, strict=True):
                if name not in results:
                    results[name] = np.empty((len(texts), values.shape[1]), dtype=np.float32)
                results[name][row] = values[0]
        return results

    def run_together(self, texts: Sequence[str]) -> dict[str, Floats]:
        """Every output for ``texts`` encoded in one padded call: several times faster for
        many variants of one text (explanations by occlusion), whose scores then move a
        little with each other, which a ranking of words can afford."""
        encodings = self._tokenizer.encode_batch([clean_text(text) for text in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        outputs = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
        return dict(zip(self.outputs, outputs, strict=True))


def sigmoid(logits: Floats) -> Floats:
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float32)


def softmax(logits: Floats) -> Floats:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True), dtype=np.float32)
