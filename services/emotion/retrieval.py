"""Retrieval embeddings: the vectors a business's questions and its customers' messages are
compared with (the orchestrator's knowledge base).

Two spaces, chosen by measurement on Banking77 as a knowledge base (ten questions an
intent, 20 intents unanswerable; ``services/orchestrator/knowledge.md``):

- English text: the pretrained all-MiniLM-L6-v2, untouched, int8
  (``training/retrieval_encoder.py``). The fine-tuned encoder under the heads has learnt
  Banking77's and Bitext's intents, so it cannot say how a business's unseen questions
  will match; the pretrained model answered more questions right at the same precision
  than multilingual-e5 did (0.72 against 0.57 of the answerable ones).
- Every other language: multilingual-e5-small, which matches across languages; for a
  message the analysis has already embedded its text, so the vector costs nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from services.emotion.encoder import Encoder, Floats
from services.emotion.multilingual_encoder import VERSION as MULTILINGUAL_SPACE
from services.emotion.multilingual_encoder import MultilingualEncoder

Embedded = tuple[str, tuple[float, ...]]
"""A retrieval embedding and the space it is in."""


class RetrievalEncoders:
    """The English retrieval encoder and the multilingual one; thread-safe."""

    def __init__(self, english: Encoder, english_space: str, multilingual: MultilingualEncoder):
        self._english = english
        self.english_space = english_space
        self._multilingual = multilingual
        self.spaces: tuple[str, ...] = (english_space, MULTILINGUAL_SPACE)

    @classmethod
    def load(
        cls, directory: Path, multilingual: MultilingualEncoder, *, threads: int = 1
    ) -> RetrievalEncoders:
        manifest = json.loads((directory / "training.json").read_text(encoding="utf-8"))
        space = f"{manifest['base'].split(' ')[0]} (int8)"
        return cls(Encoder(directory, threads=threads), space, multilingual)

    def english(self, texts: Sequence[str]) -> Floats:
        return self._english.run(texts)["embedding"]

    def multilingual(self, texts: Sequence[str]) -> Floats:
        return self._multilingual.embed(texts)

    def everywhere(self, texts: Sequence[str]) -> dict[str, Floats]:
        """Each text in every space, so any message can be compared with it."""
        return {
            self.english_space: self.english(texts),
            MULTILINGUAL_SPACE: self.multilingual(texts),
        }
