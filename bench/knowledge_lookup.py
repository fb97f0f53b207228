"""Knowledge lookup benchmark: the time to find a message's article in a large knowledge
base, on real sentence embeddings.

Articles get questions taken from GoEmotions and Banking77 lines (real customer-ish
sentences, so the vectors have the structure real questions have), embedded once by the
English retrieval encoder and cached under ``var/bench``; queries are other lines. Prints
the time per lookup (one message, as the orchestrator looks up) and how often the
shortlist used for large bases agrees with the exact search.

    python -m bench.knowledge_lookup --articles 10000 --questions 3
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bench.measure import percentile
from services.emotion.encoder import Encoder
from services.emotion.training import datasets
from shared.nearest_groups import NearestGroups

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE = REPO_ROOT / "var" / "bench"
RETRIEVAL = REPO_ROOT / "services" / "emotion" / "models" / "retrieval"


def texts(count: int) -> list[str]:
    """``count`` distinct lines from GoEmotions train, then Banking77 train."""
    lines = [t for t, _ in datasets.goemotions("train")] + [
        t for t, _ in datasets.banking77("train")
    ]
    unique = list(dict.fromkeys(lines))
    if len(unique) < count:
        raise SystemExit(f"only {len(unique)} distinct lines for {count}")
    return unique[:count]


def embedded(count: int) -> np.ndarray:
    path = CACHE / f"retrieval-vectors-{count}.npy"
    if path.exists():
        return np.asarray(np.load(path))
    encoder = Encoder(RETRIEVAL, threads=2)
    chosen = texts(count)
    started = time.monotonic()
    vectors = np.concatenate(
        [encoder.run(chosen[i : i + 256])["embedding"] for i in range(0, count, 256)]
    )
    print(f"embedded {count} lines in {time.monotonic() - started:.0f} s (cached in {path})")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=3, help="questions per article")
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    members = args.articles * args.questions
    vectors = embedded(members + args.queries)
    questions, queries = vectors[:members], vectors[members:]
    started = time.monotonic()
    groups = NearestGroups(questions, [args.questions] * args.articles, 2)
    print(
        f"{args.articles} articles, {members} questions: index built in "
        f"{(time.monotonic() - started) * 1000:.0f} ms"
    )
    for query in queries[:50]:
        groups.best(query)
    times, same_best, same_both, score_gap = [], 0, 0, 0.0
    exact = groups.similarities(queries)
    for query, row in zip(queries, exact, strict=True):
        started = time.perf_counter()
        (best, similarity), (runner_up, second) = groups.best(query)
        times.append((time.perf_counter() - started) * 1000)
        top = np.argsort(-row)[:2]
        same_best += int(best == top[0])
        same_both += int(best == top[0] and runner_up == top[1])
        # How far the margin (best - runner-up) moved when the shortlist missed one.
        score_gap = max(score_gap, abs((similarity - second) - (row[top[0]] - row[top[1]])))
    ordered = sorted(times)
    print(
        f"lookup per message: mean {np.mean(times):.2f} ms, p50 {percentile(ordered, 0.5):.2f} ms, "
        f"p99 {percentile(ordered, 0.99):.2f} ms over {len(times)} messages"
    )
    print(
        f"as the exact search: best article {same_best / len(times):.3f}, best and runner-up "
        f"{same_both / len(times):.3f}; largest margin difference {score_gap:.3f}"
    )


if __name__ == "__main__":
    main()
