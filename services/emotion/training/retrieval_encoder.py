"""Exports the pretrained all-MiniLM-L6-v2, untouched, as the English retrieval encoder.

Run in the training venv: ``.venv-models/bin/python -m services.emotion.training.retrieval_encoder``
(``make models`` does). The fine-tuned encoder's embedding has learnt every Banking77 and
Bitext intent, so it separates those intents well and says little about how a business's
own questions will match; the pretrained model was trained for sentence similarity only.
On Banking77 as a knowledge base (ten questions an intent, 20 intents unanswerable) it
is the better match for questions it has never seen (``knowledge.md`` in the orchestrator).
Same tokenizer, mean pooling and int8 export as the fine-tuned encoder, and no heads, so
``services.emotion.encoder.Encoder`` serves it as it is.
"""

from __future__ import annotations

import json

from transformers import AutoTokenizer

from services.emotion.training.datasets import BUILD, MODELS
from services.emotion.training.finetune import SETTINGS, MultiHead, export, extract_base

RETRIEVAL_DIR = MODELS / "retrieval"


def main() -> None:
    base = extract_base()
    model = MultiHead(base, {})
    export(
        model,
        AutoTokenizer.from_pretrained(str(base)),
        RETRIEVAL_DIR,
        BUILD / "retrieval.fp32.onnx",
    )
    manifest = {
        "base": SETTINGS.base,
        "heads": {},
        "outputs": ["embedding"],
        "max_tokens": SETTINGS.max_tokens,
    }
    (RETRIEVAL_DIR / "training.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"retrieval encoder written to {RETRIEVAL_DIR}")


if __name__ == "__main__":
    main()
