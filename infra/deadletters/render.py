"""Dead letters as text: one line each for ``list``, everything for ``show``."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from infra.deadletters.events import UndecodableError, decode_event, event_json
from infra.deadletters.letters import DeadLetter

LIST_ERROR_WIDTH = 80
"""Characters of the error ``list`` shows; ``show`` prints it whole."""

_COLUMNS = ("OFFSET", "WHEN", "ORIGINAL", "GROUP", "KIND", "EVENT TYPE", "EVENT ID", "ERROR")


def _when(letter: DeadLetter) -> str:
    return letter.dead_lettered_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clipped(text: str, width: int) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def table(letters: Sequence[DeadLetter]) -> str:
    """Aligned columns, a header line first; ``-`` for a header the record lacks."""
    rows = [
        (
            str(letter.offset),
            _when(letter),
            letter.origin,
            letter.group or "-",
            letter.kind or "-",
            letter.event_type or "-",
            letter.event_id or "-",
            _clipped(letter.error or "-", LIST_ERROR_WIDTH),
        )
        for letter in letters
    ]
    widths = [max(len(row[i]) for row in (_COLUMNS, *rows)) for i in range(len(_COLUMNS) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in (_COLUMNS, *rows)
    )


def _text(value: bytes) -> str:
    return value.decode(errors="backslashreplace")


def full(letter: DeadLetter, topic: str) -> str:
    """Everything about one dead letter: where it failed and why, every header, the key,
    and the value decoded as its event (or, when it does not decode, why not and its bytes)."""
    lines = [
        f"dead letter {topic}@{letter.offset}, written {_when(letter)}",
        f"  original  {letter.origin}",
        f"  group     {letter.group or '-'}",
        f"  kind      {letter.kind or '-'}",
        f"  error     {letter.error or '-'}",
        f"  key       {_text(letter.key) if letter.key is not None else '(none)'}",
        "headers:",
        *(f"  {name}: {_text(value)}" for name, value in letter.headers),
    ]
    size = len(letter.value) if letter.value is not None else 0
    try:
        event = decode_event(letter.event_type, letter.value)
    except UndecodableError as error:
        lines.append(f"value ({size} bytes) not decoded: {error}")
        if letter.value is not None:
            lines.append(f"  base64: {base64.b64encode(letter.value).decode()}")
    else:
        lines.append(f"value ({size} bytes) as {letter.event_type}:")
        lines.append(event_json(event))
    return "\n".join(lines)
