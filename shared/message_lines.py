"""Customer messages as JSON lines, for the commands that try the models and the policy on
a file (``python -m services.emotion analyze``, ``python -m services.orchestrator decide``).

One JSON object per line: ``{"id": ..., "text": ..., "language_hint": ...}``.

- ``text`` (required): cleaned by the edge rules every channel applies
  (:mod:`shared.channels.edge`), so a line is read as the message would be had a customer
  sent it; blank once cleaned, or longer than the edge takes, is malformed.
- ``id`` (optional): a string or a whole number, echoed in the answer; the line's number
  when absent, so a file of bare texts can still be matched line by line.
- ``language_hint`` (optional): what a channel says of the customer's language
  (``es-ES``, ``fr``); none when absent.

Other keys are ignored, so a labelled data set is read as it is. Blank lines are skipped.
Reading stops at the first malformed line (not UTF-8, not JSON, not an object, a missing
or blank text, a field of the wrong type): stopping is what a script can rely on, since
one non-zero status and one error naming the line cannot be missed the way a skipped
line in a long output can. The messages before it have been answered; nothing is written
for it or after it. Lines are read one at a time and answered in batches, so a file of
any length streams.

Each answer is one JSON object on one line, UTF-8, keys in alphabetical order, so the
outputs of two runs (two policy files, two model versions) compare line by line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, TextIO

from shared.channels import edge
from shared.errors import InvalidInputError

STDIN = "-"
"""The source that names standard input."""

BATCH_SIZE = 256
"""Messages analysed together: the models' per-call cost is shared, and the first answers
still come out after a few milliseconds."""

MAX_LINE_BYTES = 1 << 20
"""Longest line read (1 MiB): far above the longest text the edge takes, even escaped."""


@dataclass(frozen=True, slots=True)
class MessageLine:
    """One customer message read from a line."""

    number: int  # the line's number in the input, from 1
    id: str | int
    text: str
    language_hint: str = ""


class MalformedLine(InvalidInputError):
    """A line that is not a message; the error names the line and what is wrong."""

    def __init__(self, number: int, problem: str) -> None:
        super().__init__(f"line {number}: {problem}")
        self.number = number


def _kind(value: Any) -> str:
    """How JSON calls a decoded value, for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _text(number: int, document: Mapping[str, Any]) -> str:
    if "text" not in document:
        raise MalformedLine(number, "text is missing")
    value = document["text"]
    if not isinstance(value, str):
        raise MalformedLine(number, f"text must be a string, not {_kind(value)}")
    try:
        text = edge.message_text(value)
    except edge.RejectedInput as exc:
        raise MalformedLine(number, f"text: {exc}") from None
    if not text:
        raise MalformedLine(number, "text is blank")
    return text


def _id(number: int, document: Mapping[str, Any]) -> str | int:
    value = document.get("id", number)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise MalformedLine(number, f"id must be a string or a whole number, not {_kind(value)}")
    try:
        return edge.identifier(value, field="id")
    except edge.RejectedInput as exc:
        raise MalformedLine(number, str(exc)) from None


def _language_hint(number: int, document: Mapping[str, Any]) -> str:
    value = document.get("language_hint", "")
    if not isinstance(value, str):
        raise MalformedLine(number, f"language_hint must be a string, not {_kind(value)}")
    return edge.label(value)


def parse_line(number: int, raw: bytes) -> MessageLine | None:
    """The message on line ``number``; None for a blank line; :class:`MalformedLine` if
    it is not a message. A file that is not UTF-8 is refused rather than repaired: read
    as mojibake, its messages would be analysed as something nobody wrote."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 (byte {raw[exc.start]:#04x} at byte {exc.start + 1})"
        raise MalformedLine(number, problem) from None
    if number == 1:
        decoded = decoded.removeprefix("\ufeff")  # the byte order mark some editors write
    if not decoded.strip():
        return None
    try:
        document = json.loads(decoded)
    except json.JSONDecodeError as exc:
        problem = exc.msg.removesuffix(" at")  # "Invalid control character at"
        raise MalformedLine(number, f"not JSON ({problem} at column {exc.colno})") from None
    except RecursionError:
        raise MalformedLine(number, "not JSON this program can read (nested too deeply)") from None
    if not isinstance(document, dict):
        raise MalformedLine(number, f"not a JSON object but {_kind(document)}")
    return MessageLine(
        number, _id(number, document), _text(number, document), _language_hint(number, document)
    )


def read_messages(stream: BinaryIO) -> Iterator[MessageLine]:
    """The messages of ``stream``, one line at a time; stops at the first malformed line."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise MalformedLine(number, f"longer than {MAX_LINE_BYTES} bytes")
        message = parse_line(number, raw)
        if message is not None:
            yield message


def batches(messages: Iterable[MessageLine], size: int) -> Iterator[list[MessageLine]]:
    """``messages`` in lists of at most ``size``. When reading stops at a malformed line,
    the messages read before it come out first, then the error is raised."""
    batch: list[MessageLine] = []
    try:
        for message in messages:
            batch.append(message)
            if len(batch) == size:
                yield batch
                batch = []
    except MalformedLine:
        if batch:
            yield batch
        raise
    if batch:
        yield batch


Answer = Callable[[Sequence[MessageLine]], Iterable[Mapping[str, Any]]]
"""What a command says about a batch of messages: one JSON object per message, in order."""


def answer_lines(
    source: str,
    answer: Answer,
    *,
    program: str,
    stdin: BinaryIO,
    stdout: BinaryIO,
    stderr: TextIO,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Answer every message of ``source`` (a path, or ``-`` for ``stdin``) with one JSON
    line on ``stdout``. Returns the exit status: 0 when every line was answered, 1 when
    the input cannot be read or a line is malformed (the reason on ``stderr``)."""
    try:
        opened = contextlib.nullcontext(stdin) if source == STDIN else open(source, "rb")
    except OSError as exc:
        print(f"{program}: cannot read {source}: {exc.strerror}", file=stderr)
        return 1
    answered = 0
    try:
        with opened as stream:
            for batch in batches(read_messages(stream), batch_size):
                for result in answer(batch):
                    line = json.dumps(result, ensure_ascii=False, sort_keys=True)
                    stdout.write(line.encode("utf-8") + b"\n")
                stdout.flush()
                answered += len(batch)
    except MalformedLine as exc:
        print(
            f"{program}: {exc}; stopped there, {answered} message(s) before it answered",
            file=stderr,
        )
        return 1
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep the interpreter's own
        # last flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return 1
    return 0


def add_source_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--jsonl FILE`` option every command reading messages takes."""
    parser.add_argument(
        "--jsonl",
        required=True,
        metavar="FILE",
        help='one JSON object per line, {"id", "text", "language_hint"}; "-" reads standard input',
    )


def run_on_standard_streams(source: str, answer: Answer, *, program: str) -> int:
    """:func:`answer_lines` on this process's standard input, output and error."""
    return answer_lines(
        source,
        answer,
        program=program,
        stdin=sys.stdin.buffer,
        stdout=sys.stdout.buffer,
        stderr=sys.stderr,
    )
