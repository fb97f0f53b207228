"""``python -m services.orchestrator knowledge ...``: a business checks its articles and
measures how the bot would answer from them, in this process (the emotion service's models
loaded here, as ``decide`` does).

- ``check DIR``: reads the folder as the service does at start; every mistake is printed
  with its file and field, and the status is 1.
- ``evaluate --knowledge DIR --queries FILE``: each query line is ``{"text": ...,
  "expected": "<article id>" | null}`` (null: nothing in the knowledge answers it;
  ``language_hint`` optional). Prints the result per article, the curve over thresholds
  for each retrieval space the queries fell in, and as the last line exactly
  ``in_scope_accuracy=0.xxx oos_recall=0.xxx answered_precision=0.xxx n=N`` at the
  shipped thresholds (a ratio with nothing to count prints 0.000).
- ``calibrate --knowledge DIR --queries FILE``: chooses each space's margin weight and
  threshold on development queries (the most answerable queries answered right while
  answered precision stays at ``--precision`` or above) and prints the scoring as JSON,
  the form of ``knowledge/scoring.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from services.emotion.analyzer import Analyzer, Request
from services.emotion.config import EmotionSettings
from services.emotion.in_process import analyze_batch, load_analyzer
from services.orchestrator.knowledge.articles import Article, KnowledgeError, read_folder
from services.orchestrator.knowledge.index import (
    DEFAULT_SCORING,
    KnowledgeIndex,
    Match,
    Scoring,
    SpaceScoring,
)
from services.orchestrator.knowledge.library import index_of
from shared.errors import InvalidInputError
from shared.message_lines import MalformedLine, parse_line

MARGIN_WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)
BATCH = 256


@dataclass(frozen=True, slots=True)
class Query:
    number: int
    text: str
    language_hint: str
    expected: str | None


def read_queries(stream: BinaryIO, articles: Sequence[Article]) -> list[Query]:
    """Every query of ``stream``; ``MalformedLine`` names the first bad line, and a file
    without any is refused too."""
    known = {a.id for a in articles}
    queries = []
    for number, raw in enumerate(stream, 1):
        message = parse_line(number, raw)
        if message is None:
            continue
        document = json.loads(raw.decode("utf-8").removeprefix("\ufeff"))
        if "expected" not in document:
            raise MalformedLine(number, "expected is missing (an article id, or null)")
        expected = document["expected"]
        if expected is not None and not isinstance(expected, str):
            raise MalformedLine(number, "expected must be an article id or null")
        if expected is not None and expected not in known:
            raise MalformedLine(number, f"expected names no article: {expected!r}")
        queries.append(Query(number, message.text, message.language_hint, expected))
    if not queries:
        raise InvalidInputError("no queries: the file has no line to read")
    return queries


def embedded(analyzer: Analyzer, texts: Sequence[str]) -> dict[str, list[Sequence[float]]]:
    """``texts`` in every retrieval space, in order, a batch at a time."""
    found: dict[str, list[Sequence[float]]] = defaultdict(list)
    for start in range(0, len(texts), BATCH):
        for space, vectors in analyzer.embed_everywhere(texts[start : start + BATCH]).items():
            found[space].extend(vectors)
    return found


def embedded_index(
    analyzer: Analyzer, articles: Sequence[Article], scoring: Scoring
) -> KnowledgeIndex:
    """The index the service would build, its questions embedded by ``analyzer``."""
    questions = sorted({q for a in articles for q in a.questions})
    vectors = {
        space: dict(zip(questions, found, strict=True))
        for space, found in embedded(analyzer, questions).items()
    }
    return index_of(articles, vectors, scoring)


def served_matches(
    analyzer: Analyzer, index: KnowledgeIndex, queries: Sequence[Query]
) -> list[Match | None]:
    """What the service matches each query with: analysed as a message (its language
    picks the space), then looked up."""
    matches: list[Match | None] = []
    for start in range(0, len(queries), BATCH):
        chunk = queries[start : start + BATCH]
        requests = [Request(q.text, q.language_hint, include_embedding=True) for q in chunk]
        for analysis in analyze_batch(analyzer, requests, include_drivers=False):
            matches.append(index.match(analysis.embedding_model, analysis.embedding))
    return matches


@dataclass(frozen=True, slots=True)
class Rates:
    in_scope_accuracy: float
    oos_recall: float
    answered_precision: float
    n: int

    def line(self) -> str:
        return (
            f"in_scope_accuracy={self.in_scope_accuracy:.3f} oos_recall={self.oos_recall:.3f} "
            f"answered_precision={self.answered_precision:.3f} n={self.n}"
        )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def rates(answers: Sequence[str | None], expected: Sequence[str | None]) -> Rates:
    """``answers``: the article each query was answered with (None: not answered)."""
    pairs = list(zip(answers, expected, strict=True))
    answerable = [(a, e) for a, e in pairs if e is not None]
    unanswerable = [a for a, e in pairs if e is None]
    right = sum(a == e for a, e in answerable)
    answered = sum(a is not None for a, _ in pairs)
    return Rates(
        _ratio(right, len(answerable)),
        _ratio(sum(a is None for a in unanswerable), len(unanswerable)),
        _ratio(right, answered),
        len(pairs),
    )


def answered_with(match: Match | None, scoring: SpaceScoring | None = None) -> str | None:
    """The article the query is answered with (None: not answered), under the shipped
    scoring or ``scoring``."""
    if match is None:
        return None
    answers = (
        match.answers if scoring is None else scoring.answers(match.similarity, match.runner_up)
    )
    return match.article.id if answers else None


def per_article(matches: Sequence[Match | None], queries: Sequence[Query]) -> Iterable[str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for match, query in zip(matches, queries, strict=True):
        answer = answered_with(match)
        outcome = (
            "not_answered" if answer is None else "right" if answer == query.expected else "wrong"
        )
        counts[query.expected or "(unanswerable)"][outcome] += 1
    for article in sorted(counts):
        c = counts[article]
        yield (
            f"article={article} queries={sum(c.values())} right={c['right']} "
            f"wrong={c['wrong']} not_answered={c['not_answered']}"
        )


def curve(
    matches: Sequence[Match], expected: Sequence[str | None], margin_weight: float, points: int = 21
) -> Iterable[tuple[float, Rates]]:
    """Rates at evenly spaced thresholds over the range the scores take."""
    scores = [SpaceScoring(margin_weight, 0.0).score(m.similarity, m.runner_up) for m in matches]
    for threshold in np.linspace(min(scores), max(scores), points):
        scoring = SpaceScoring(margin_weight, float(threshold))
        yield float(threshold), rates([answered_with(m, scoring) for m in matches], expected)


def evaluate(
    analyzer: Analyzer, articles: Sequence[Article], queries: Sequence[Query], scoring: Scoring
) -> list[str]:
    """The report's lines: per article, the curve per space, then the summary line."""
    index = embedded_index(analyzer, articles, scoring)
    matches = served_matches(analyzer, index, queries)
    lines = list(per_article(matches, queries))
    for space in sorted({m.space for m in matches if m is not None}):
        chosen = [
            (m, q.expected) for m, q in zip(matches, queries, strict=True) if m and m.space == space
        ]
        shipped = scoring.of(space)
        lines.append(
            f"space={space!r} queries={len(chosen)} margin_weight={shipped.margin_weight} "
            f"threshold={shipped.threshold}"
        )
        for threshold, r in curve(
            [m for m, _ in chosen], [e for _, e in chosen], shipped.margin_weight
        ):
            lines.append(f"  curve threshold={threshold:.3f} {r.line()}")
    lines.append(rates([answered_with(m) for m in matches], [q.expected for q in queries]).line())
    return lines


def calibrate(
    analyzer: Analyzer,
    articles: Sequence[Article],
    queries: Sequence[Query],
    precision: float,
    nearest: int,
) -> dict[str, Any]:
    """Per retrieval space, every query embedded in it: the margin weight and threshold
    answering the most answerable queries right at answered precision >= ``precision``."""
    index = embedded_index(analyzer, articles, Scoring(nearest, {}))
    expected = [q.expected for q in queries]
    spaces: dict[str, Any] = {}
    for space, vectors in embedded(analyzer, [q.text for q in queries]).items():
        # Every space the analyzer embeds in is indexed: there is always a match.
        matches = [m for m in (index.match(space, v) for v in vectors) if m is not None]
        best: tuple[float, float, Rates] | None = None
        for weight in MARGIN_WEIGHTS:
            for threshold, r in curve(matches, expected, weight, points=400):
                if r.answered_precision >= precision and (
                    best is None or r.in_scope_accuracy > best[2].in_scope_accuracy
                ):
                    best = (weight, threshold, r)
        if best is None:
            raise ValueError(f"{space}: no threshold reaches answered precision {precision}")
        weight, threshold, r = best
        spaces[space] = {
            "margin_weight": weight,
            "threshold": round(threshold, 4),
            "dev": {
                "in_scope_accuracy": round(r.in_scope_accuracy, 4),
                "oos_recall": round(r.oos_recall, 4),
                "answered_precision": round(r.answered_precision, 4),
                "n": r.n,
            },
        }
    return {"nearest": nearest, "precision_target": precision, "spaces": spaces}


def parser(program: str) -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=f"{program} knowledge", description=__doc__.split("\n\n")[0]
    )
    commands = root.add_subparsers(dest="action", required=True)
    check = commands.add_parser("check", help="check a knowledge folder as the service reads it")
    check.add_argument("folder", type=Path, metavar="DIR")
    for name, text in (
        ("evaluate", "how the bot would answer queries from a knowledge folder"),
        ("calibrate", "choose the scoring on development queries (prints JSON)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--knowledge", required=True, type=Path, metavar="DIR")
        command.add_argument("--queries", required=True, type=Path, metavar="FILE")
        if name == "evaluate":
            command.add_argument("--scoring", type=Path, default=DEFAULT_SCORING, metavar="FILE")
        else:
            command.add_argument(
                "--precision", type=float, default=0.87, help="answered precision to keep on dev"
            )
            command.add_argument(
                "--nearest", type=int, default=2, help="questions averaged per article"
            )
    return root


def main(argv: Sequence[str], program: str) -> int:
    args = parser(program).parse_args(argv)
    name = f"{program} knowledge {args.action}"
    folder = args.folder if args.action == "check" else args.knowledge
    try:
        articles = read_folder(folder)
    except KnowledgeError as error:
        for problem in error.problems:
            print(f"{name}: {problem}", file=sys.stderr)
        return 1
    if args.action == "check":
        questions = sum(len(a.questions) for a in articles)
        print(f"{folder}: {len(articles)} articles, {questions} questions, all valid")
        return 0
    try:
        with args.queries.open("rb") as stream:
            queries = read_queries(stream, articles)
    except OSError as error:
        print(f"{name}: cannot read {args.queries}: {error.strerror}", file=sys.stderr)
        return 1
    except InvalidInputError as error:  # a malformed line, or none at all
        print(f"{name}: {args.queries}: {error}", file=sys.stderr)
        return 1
    analyzer = load_analyzer(EmotionSettings())
    if args.action == "calibrate":
        print(
            json.dumps(
                calibrate(analyzer, articles, queries, args.precision, args.nearest), indent=1
            )
        )
        return 0
    for line in evaluate(analyzer, articles, queries, Scoring.load(args.scoring)):
        print(line)
    return 0
