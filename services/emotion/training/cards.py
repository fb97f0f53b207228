"""Model cards (Markdown, one per model) and the console tables, from the measured metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.emotion.predictor import RAPPORT_EMOTIONS
from services.emotion.training.datasets import MODELS, XED_LANGUAGES
from services.emotion.training.taxonomy import (
    GOEMOTIONS_TO_RAPPORT,
    XED_INEXPRESSIBLE,
    XED_TO_RAPPORT,
)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (also readable on a console)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _mapping_table(mapping: Mapping[str, str]) -> str:
    rows = [
        (target, ", ".join(sorted(k for k, v in mapping.items() if v == target)) or "—")
        for target in RAPPORT_EMOTIONS
    ]
    return table(("Rapport", "source labels"), rows)


def _hyper(training: Mapping[str, Any], name: str) -> str:
    entry = training[name]
    members = "\n".join(f"- member {i + 1}: `{m}`" for i, m in enumerate(entry["members"]))
    return f"{members}\n- quantization: `{entry['quantize']}`\n- files: {', '.join(entry['files'])}"


def _tables(metrics: Mapping[str, Any]) -> dict[str, str]:
    en, xx = metrics["emotion-en"], metrics["emotion-xx"]
    sentiment, sarcasm = metrics["sentiment-en"], metrics["sarcasm-en"]
    intent, banking = metrics["intent-en"], metrics["intent-banking77"]
    return {
        "emotion-en": table(
            ("metric (GoEmotions test)", "value", "target"),
            [
                ("macro-F1, 28 labels", en["goemotions28_macro_f1"], "≥ 0.42"),
                (
                    "macro-F1, Ekman 6 + neutral, dedicated Ekman model",
                    en["ekman_model_macro_f1"],
                    "≥ 0.60",
                ),
                (
                    "macro-F1, Ekman 6 + neutral, mapped from the 28",
                    en["ekman_macro_f1_from_28"],
                    "≥ 0.60",
                ),
                ("macro-F1, Rapport 8", en["rapport_macro_f1"], "—"),
                *[(f"F1 {k}", v, "") for k, v in en["rapport_f1"].items()],
            ],
        ),
        "emotion-xx": table(
            ("language", "test n", "Plutchik-8 macro-F1", "Rapport macro-F1", "sentiment macro-F1"),
            [
                (
                    x,
                    xx[x]["test_n"],
                    xx[x]["plutchik_macro_f1"],
                    xx[x]["rapport_macro_f1"],
                    xx[x]["sentiment"]["macro_f1"],
                )
                for x in XED_LANGUAGES
            ],
        ),
        "sentiment": table(
            ("metric (GoEmotions test)", "value"),
            [
                ("accuracy", sentiment["accuracy"]),
                ("macro-F1", sentiment["macro_f1"]),
                *[(f"F1 {k}", v) for k, v in sentiment["f1"].items()],
            ],
        ),
        "sarcasm-en": table(
            ("metric (iSarcasmEval task A test)", "value"),
            [
                ("F1 (sarcastic)", sarcasm["f1_sarcastic"]),
                ("threshold (tuned on held-out train)", sarcasm["threshold"]),
            ],
        ),
        "intent-en": table(
            ("metric", "value"),
            [
                ("accuracy, Bitext test (27 intents)", intent["accuracy"]),
                ("unknown threshold (tuned on dev)", intent["threshold"]),
                *[(f"unknown rate, {k}", v) for k, v in intent["ood_unknown_rate"].items()],
            ],
        ),
        "intent-banking77": table(
            ("metric (Banking77 test)", "value", "BERT (paper)"),
            [("accuracy", banking["accuracy"], "0.937")],
        ),
    }


def print_tables(metrics: Mapping[str, Any]) -> None:
    for name, text in _tables(metrics).items():
        print(f"\n## {name}\n{text}")


_FAIRNESS = (
    "GoEmotions and iSarcasmEval are English Reddit / Twitter text; XED is film subtitles. "
    "Dialects and registers under-represented there (e.g. African-American English, "
    "non-native English, code-switching) are likely scored less accurately, and profanity "
    "is read as anger even when it is friendly. Scores must never decide on their own what "
    "happens to a customer: they route and prioritise for a human."
)


def write_all(
    metrics: Mapping[str, Any], heads: Mapping[str, Any], training: Mapping[str, Any]
) -> None:
    """One Markdown card per model under ``models/``."""
    tables = _tables(metrics)
    en, xx = heads["emotion"]["en"], heads["emotion"]["xx"]
    cards = {
        "emotion-en": f"""# {en["version"]}: English emotion model

**Data.** GoEmotions (Demszky et al. 2020, Apache-2.0): 43,410 / 5,426 / 5,427 Reddit
comments (official train / dev / test), 27 emotions + neutral, multi-label.

**Model.** fastText supervised over the 28 GoEmotions labels, two members, quantized.
{_hyper(training, "emotion-en")}

**Rapport taxonomy.** Rapport's score of a label is the highest probability among its
GoEmotions labels, Platt-calibrated on dev; a label is detected at or above its threshold
(tuned on dev for F1). Mapping (customer-service reading):

{_mapping_table(GOEMOTIONS_TO_RAPPORT)}

Thresholds: `{en["thresholds"]}`

**Metrics on the held-out test split** (thresholds for the 28-label and Ekman figures
tuned on dev; the test split was used for nothing else):

{tables["emotion-en"]}

**Ensemble.** Two members (one-vs-all and softmax losses) start from skip-gram vectors
trained on all in-project English text (no downloaded vectors); their probabilities are
averaged. The dedicated Ekman model (evaluation only, not shipped to the service) follows
the paper's Ekman setting.

**Known failure modes.** Words absent from GoEmotions are invisible: "furious" occurs 9
times with mixed labels, so "I am furious" is barely read as anger (frustration wins only
from context such as "third time I ask"). Short or sarcastic messages; negation ("not
happy" leans joy); rare labels (grief, relief, pride, nervousness: few training
examples) are unstable; Reddit register differs from customer-service messages.

**Fairness.** {_FAIRNESS}
""",
        "emotion-xx": f"""# {xx["version"]}: multilingual emotion model

**Data.** XED (Öhman et al. 2020, CC BY 4.0): film subtitles with Plutchik's 8 emotions;
English and Finnish annotated by people, es/fr/de/pt/it/nl projected from them; English
neutral lines added as a `neutral` class. Each language split 80/10/10 (stratified on the
first label, seed 2026). Languages served: {", ".join(xx["languages"])} (English goes to
the GoEmotions model).

**Model.** One fastText model across all eight languages (char n-grams for morphology).
{_hyper(training, "emotion-xx")}

**Rapport taxonomy.**

{_mapping_table(XED_TO_RAPPORT)}

Cannot be expressed (no Plutchik counterpart): {", ".join(XED_INEXPRESSIBLE)} — always
0 for these languages. Calibration and thresholds tuned on the pooled non-English dev
splits.

**Metrics on the held-out test splits** (Rapport macro-F1 over the expressible labels
{", ".join(metrics["emotion-xx"]["rapport_labels_scored"])}; `en` shown for reference):

{tables["emotion-xx"]}

**Known failure modes.** Projected labels are noisy (machine-aligned subtitles); subtitle
dialogue is not customer-service text; the subtitle lines of one language are
translations of another's, so a test line may have a translated twin in training.

**Fairness.** {_FAIRNESS}
""",
        "sentiment": f"""# {heads["sentiment"]["version"]}: sentiment

**Method.** Derived from the emotion models: score = highest positive-label probability
minus highest negative-label probability, in [-1, 1]; the cut points between negative,
neutral and positive were tuned on dev for macro-F1 (English cut points:
`{en["sentiment"]}`; other languages: `{xx["sentiment"]}`).

**Gold labels.** GoEmotions' `sentiment_dict.json`: positive / negative groups;
`ambiguous` (surprise, realization, curiosity, confusion) and `neutral` → neutral; an
example with both positive and negative labels (mixed) → neutral. XED: joy, trust →
positive; anger, disgust, fear, sadness → negative; anticipation, surprise, neutral →
neutral.

**Metrics on GoEmotions test:**

{tables["sentiment"]}

XED per-language sentiment macro-F1 is in the emotion-xx card.

**Known failure modes.** Sarcasm flips sentiment and is not corrected here (see the
sarcasm head); mixed messages land near 0.

**Fairness.** {_FAIRNESS}
""",
        "sarcasm-en": f"""# {heads["sarcasm"]["version"]}: sarcasm (English)

**Data.** iSarcasmEval (SemEval-2022 Task 6, MIT): train.En.csv split 80% train / 20%
held-out (stratified, seed 2026); sarcastic training tweets are repeated three times to
balance the classes. Evaluated on the official task A test set (14% sarcastic, so
calling every tweet sarcastic scores F1 0.25: the floor to beat).

**Model.** fastText supervised (softmax, 2 classes), quantized; the sarcastic
probability is Platt-calibrated and thresholded on the held-out part.
{_hyper(training, "sarcasm-en")}

{tables["sarcasm-en"]}

For scale: the best SemEval-2022 system reached 0.605 F1-sarcastic with large pretrained
transformers; crowd annotators (third-party file) disagree often with the authors.

**Known failure modes.** Intended sarcasm is often invisible in the text alone; the
model mostly learns cue words and punctuation. Treat it as a weak signal.

**Fairness.** {_FAIRNESS}
""",
        "intent-en": f"""# {heads["intent"]["version"]}: customer-service intent (English)

**Data.** Bitext customer support (CDLA-Sharing-1.0), 27 intents; de-duplicated on the
text, `{{{{placeholders}}}}` filled with realistic values, split 80/10/10 stratified on
the intent (seed 2026). An `unknown` class is trained on 1,500 out-of-domain lines (GoEmotions
train comments), and any guess below the confidence threshold is also `unknown`. The
threshold is the lowest one whose sum of in-domain accuracy and out-of-domain unknown rate
on dev (Bitext dev; GoEmotions dev as out-of-domain) is within half a point of the best:
the `unknown` class already catches chit-chat, and higher thresholds mostly turn terse
real requests ("where is my order") away.

**Model.** fastText supervised (softmax), quantized.
{_hyper(training, "intent-en")}

{tables["intent-en"]}

The iSarcasmEval tweets were never used to train or tune the intent model.

**Known failure modes.** Bitext is synthetic and tidy; real messages mix several
requests. Intents outside the 27 (e.g. product questions) become `unknown` or the
nearest intent.

**Fairness.** English only; other languages mostly come out `unknown`.
""",
        "intent-banking77": f"""# {training["intent-banking77"]["version"]}: Banking77 (benchmark)

Not loaded by the service: it measures how the intent recipe does on a standard, harder
benchmark (77 fine-grained banking intents, PolyAI, CC BY 4.0). Trained on the official
train split, scored on the official test split.
{_hyper(training, "intent-banking77")}

{tables["intent-banking77"]}

**Known failure modes.** Fine-grained neighbours (e.g. `pending_transfer` vs
`transfer_not_received_by_recipient`) are confused; bag-of-words features miss word order.
""",
    }
    for name, text in cards.items():
        (MODELS / f"{name}.md").write_text(text, encoding="utf-8")
