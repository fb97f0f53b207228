"""The knowledge folder as the running service sees it: read and checked at start, its
questions embedded by the emotion service, rebuilt when a file changes.

A folder that becomes invalid while the service runs keeps the last good index (the
mistakes are logged, naming file and field); an emotion service that cannot embed keeps
it too, and the next look tries again. Questions already embedded are not embedded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from services.orchestrator.knowledge.articles import (
    Article,
    KnowledgeError,
    article_paths,
    read_folder,
)
from services.orchestrator.knowledge.index import KnowledgeIndex, Scoring
from services.orchestrator.metrics import KNOWLEDGE_ARTICLES, KNOWLEDGE_RELOADS
from shared.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

EmbedEverywhere = Callable[[Sequence[str]], Awaitable[Mapping[str, Sequence[Sequence[float]]]]]
"""Texts in every retrieval space: ``{space: [vector per text]}`` (the emotion service's Embed)."""
Signature = tuple[tuple[str, int, int], ...]


def signature(folder: Path) -> Signature:
    """What changes when an article file is added, removed or edited."""
    if not folder.is_dir():
        return ()
    stats = ((path, os.stat(path)) for path in article_paths(folder))
    return tuple((path, stat.st_mtime_ns, stat.st_size) for path, stat in stats)


def index_of(
    articles: Sequence[Article],
    vectors: Mapping[str, Mapping[str, Sequence[float]]],
    scoring: Scoring,
) -> KnowledgeIndex:
    """The index of ``articles`` from each question's vector by space (``vectors[space][text]``)."""
    questions = [q for article in articles for q in article.questions]
    by_space = {
        space: np.array([found[q] for q in questions], dtype=np.float32).reshape(len(questions), -1)
        for space, found in vectors.items()
    }
    return KnowledgeIndex(articles, by_space, scoring)


class KnowledgeLibrary:
    """The current ``KnowledgeIndex`` of a folder (None until its questions are embedded).

    Questions go to the emotion service a few at a time (``batch``): each call holds the
    service for a fraction of a second, so customers' analyses never wait long behind a
    reload."""

    def __init__(self, folder: Path, embed: EmbedEverywhere, scoring: Scoring, batch: int = 16):
        self.folder = folder
        self._embed = embed
        self._scoring = scoring
        self._batch = batch
        self._vectors: dict[str, dict[str, Sequence[float]]] = {}
        self._embedded: set[str] = set()  # texts with a vector in every space
        self._articles: tuple[Article, ...] | None = None
        self._signature: Signature | None = None
        self.current: KnowledgeIndex | None = None

    def read(self) -> None:
        """Read and check the folder now; raises ``KnowledgeError`` naming every mistake. A
        missing folder means no knowledge (logged), so the bot answers from its intents."""
        self._signature = signature(self.folder)
        if not self.folder.exists():
            log.warning(
                "no knowledge folder at %s: the bot answers from its intents only", self.folder
            )
            self._articles = ()
            return
        self._articles = read_folder(self.folder)

    async def refresh(self) -> None:
        """Re-read the folder if it changed, then embed what is new and swap the index.

        The folder is looked at, and read, on a worker thread: a thousand articles take
        tens of milliseconds to list, and the event loop must not stall customers' replies
        that long every few seconds."""
        if await asyncio.to_thread(signature, self.folder) != self._signature:
            try:
                await asyncio.to_thread(self.read)
            except KnowledgeError as error:
                KNOWLEDGE_RELOADS.labels("invalid").inc()
                log.error("knowledge folder not reloaded, the last good one stays:\n%s", error)
                return
            KNOWLEDGE_RELOADS.labels("read").inc()
        articles = self._articles
        if articles is None or (self.current is not None and self.current.articles == articles):
            return
        questions = sorted({q for article in articles for q in article.questions})
        missing = [q for q in questions if q not in self._embedded]
        for start in range(0, len(missing), self._batch):
            chunk = missing[start : start + self._batch]
            for space, vectors in (await self._embed(chunk)).items():
                self._vectors.setdefault(space, {}).update(zip(chunk, vectors, strict=True))
            self._embedded.update(chunk)
        self.current = index_of(articles, self._vectors, self._scoring)
        KNOWLEDGE_ARTICLES.set(len(articles))
        log.info("knowledge: %d articles from %s", len(articles), self.folder)

    async def first_index(
        self, stop: asyncio.Event, within_seconds: float, retry_seconds: float = 1.0
    ) -> bool:
        """Build the index before the first message, trying for up to ``within_seconds``
        while the emotion service is not answering yet (or until ``stop``); whether it was
        built."""
        deadline = asyncio.get_running_loop().time() + within_seconds
        while not stop.is_set():
            try:
                await self.refresh()
                return True
            except DependencyUnavailableError as error:
                if asyncio.get_running_loop().time() + retry_seconds > deadline:
                    log.warning("starting without knowledge for now (%s)", error)
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), retry_seconds)
        return False

    async def keep_current(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Refresh every ``every_seconds`` until ``stop``; an unreachable emotion service
        leaves the index as it is until the next try."""
        while not stop.is_set():
            try:
                await self.refresh()
            except DependencyUnavailableError as error:
                log.warning("knowledge not embedded yet (%s); trying again", error)
            try:
                await asyncio.wait_for(stop.wait(), every_seconds)
            except TimeoutError:
                pass
