"""Knowledge articles: one YAML file each, in a folder the business keeps.

```yaml
id: delivery-times                # unique, stable: decision records name it
title: How long does delivery take?
questions:                        # how customers ask; any language; at least one
  - How long does shipping take?
  - ¿Cuánto tarda el envío?
answer:                           # per language; the voice's default language is required
  en: "Orders in France arrive in 2–3 working days."
  es: "Los pedidos a Francia llegan en 2–3 días laborables."
escalate: false                   # true: answer, and also hand over to a person
```

Reading a folder checks every file completely and reports every mistake with its file and
field, so a business fixes its folder in one pass; answers are held to the brand voice
(no banned word), since the bot sends them as its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.voice.replies import VOICE, Voice

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
FIELDS = frozenset({"id", "title", "questions", "answer", "escalate"})
SUFFIXES = frozenset({".yaml", ".yml"})


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    questions: tuple[str, ...]
    answers: Mapping[str, str]  # language → answer
    escalate: bool
    source: Path

    def answer_in(self, language: str, voice: Voice = VOICE) -> tuple[str, str]:
        """The answer in ``language`` if the article has it, else in the voice's default
        language (which every article has); with the language used."""
        code, _ = voice.resolve(language)
        if code in self.answers:
            return self.answers[code], code
        return self.answers[voice.default_language], voice.default_language


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path}: {self.field}: {self.message}"
            if self.field
            else f"{self.path}: {self.message}"
        )


class KnowledgeError(ValueError):
    """A folder that cannot be read as articles; ``problems`` names each mistake."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(map(str, self.problems)))


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _article(path: Path, document: Any, voice: Voice) -> tuple[Article | None, list[Problem]]:
    """The article in one parsed file, or the problems that keep it from being one."""
    if not isinstance(document, dict):
        return None, [Problem(path, "", "expected a mapping with id, title, questions, answer")]
    problems = [
        Problem(path, str(key), f"unknown field; the fields are {', '.join(sorted(FIELDS))}")
        for key in document
        if key not in FIELDS
    ]
    identifier = document.get("id")
    if not (isinstance(identifier, str) and ID_PATTERN.match(identifier)):
        problems.append(
            Problem(path, "id", "required: lower-case letters, digits, '-' or '_' (at most 80)")
        )
    if not _text(document.get("title")):
        problems.append(Problem(path, "title", "required: a non-empty text"))
    questions = document.get("questions")
    if not isinstance(questions, list) or not questions:
        problems.append(Problem(path, "questions", "required: a list of at least one question"))
        questions = []
    for i, question in enumerate(questions):
        if not _text(question):
            problems.append(Problem(path, f"questions[{i}]", "must be a non-empty text"))
    answers = document.get("answer")
    if not isinstance(answers, dict) or not answers:
        problems.append(Problem(path, "answer", "required: a text per language, e.g. {en: ...}"))
        answers = {}
    elif voice.default_language not in answers:
        problems.append(
            Problem(
                path, "answer", f"needs the voice's default language {voice.default_language!r}"
            )
        )
    for language, text in answers.items():
        where = f"answer.{language}"
        if language not in voice.languages:
            problems.append(
                Problem(
                    path,
                    where,
                    f"the voice has no {language!r}; it has {', '.join(voice.languages)}",
                )
            )
        elif not _text(text):
            problems.append(Problem(path, where, "must be a non-empty text"))
        elif banned := voice.banned_words_in(text):
            problems.append(
                Problem(path, where, f"uses words the brand voice never says: {banned}")
            )
    escalate = document.get("escalate", False)
    if not isinstance(escalate, bool):
        problems.append(Problem(path, "escalate", "must be true or false"))
    if problems:
        return None, problems
    article = Article(
        id=str(identifier),
        title=document["title"].strip(),
        questions=tuple(q.strip() for q in questions),
        answers={str(k): v.strip() for k, v in answers.items()},
        escalate=escalate,
        source=path,
    )
    return article, []


def article_files(folder: Path) -> list[Path]:
    """The folder's YAML files, in its sub-folders too (not behind a link to a folder), in
    a stable order.

    Hidden files and folders are skipped: a Kubernetes ConfigMap volume keeps the real
    files in a hidden ``..<timestamp>`` folder behind the visible symlinks, which would
    otherwise be read twice (and refused as duplicate ids)."""
    return [Path(path) for path in article_paths(folder)]


def article_paths(folder: Path) -> list[str]:
    """``article_files`` as strings, in the same order (the order of the paths' parts).

    The running service lists the folder every few seconds for changes: walked with
    ``os.scandir``, whose entries know their type without a system call, and kept as
    strings, the listing of a thousand articles costs a few milliseconds of CPU where
    path objects took 16 (a tenth of a millisecond per reply at 100 messages a second)."""
    found: list[str] = []
    folders = [str(folder)]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except PermissionError:  # an unreadable sub-folder holds nothing readable
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            elif os.path.splitext(entry.name)[1] in SUFFIXES and entry.is_file():
                found.append(entry.path)
    return sorted(found, key=lambda path: path.split(os.sep))


def read_folder(folder: Path, voice: Voice = VOICE) -> tuple[Article, ...]:
    """Every article in ``folder``; raises ``KnowledgeError`` naming every mistake."""
    if not folder.is_dir():
        raise KnowledgeError([Problem(folder, "", "is not a folder")])
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in article_files(folder):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(Problem(path, "", f"is not readable YAML: {error}"))
            continue
        article, found = _article(path, document, voice)
        problems += found
        if article is not None:
            articles.append(article)
    first_file: dict[str, Path] = {}
    for article in articles:
        if article.id in first_file:
            problems.append(
                Problem(
                    article.source,
                    "id",
                    f"{article.id!r} is also the id in {first_file[article.id]}",
                )
            )
        first_file.setdefault(article.id, article.source)
    if problems:
        raise KnowledgeError(problems)
    return tuple(articles)
