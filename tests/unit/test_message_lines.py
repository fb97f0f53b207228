"""Customer messages read from JSON lines: defaults, the edge rules, every malformed line,
and the stop at the first one after answering the lines before it."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from shared.message_lines import (
    MAX_LINE_BYTES,
    MalformedLine,
    MessageLine,
    answer_lines,
    batches,
    parse_line,
    read_messages,
)


def _read(data: bytes) -> list[MessageLine]:
    return list(read_messages(io.BytesIO(data)))


def _echo(messages: Sequence[MessageLine]) -> list[dict[str, Any]]:
    return [{"id": m.id, "text": m.text, "hint": m.language_hint} for m in messages]


def _run(data: bytes, batch_size: int = 256, source: str = "-") -> tuple[int, list[Any], str]:
    stdout, stderr = io.BytesIO(), io.StringIO()
    status = answer_lines(
        source,
        _echo,
        program="prog",
        stdin=io.BytesIO(data),
        stdout=stdout,
        stderr=stderr,
        batch_size=batch_size,
    )
    answers = [json.loads(line) for line in stdout.getvalue().decode("utf-8").splitlines()]
    return status, answers, stderr.getvalue()


def test_id_defaults_to_the_line_number_and_the_hint_to_none() -> None:
    messages = _read(
        b'{"text": "hello"}\n\n   \n{"id": "m-7", "text": "hola", "language_hint": "es-ES"}\n'
        b'{"id": 42, "text": "hi", "label": "joy"}'
    )
    assert messages == [
        MessageLine(1, 1, "hello", ""),
        MessageLine(4, "m-7", "hola", "es-ES"),
        MessageLine(5, 42, "hi", ""),
    ]


def test_text_is_cleaned_by_the_edge_rules_every_channel_applies() -> None:
    line = json.dumps(
        {"text": "  cafe\u0301 \ud83d ok\u0007\r\nbye  ", "language_hint": "en\x00-GB "}
    )
    [message] = _read(b"\xef\xbb\xbf" + line.encode("ascii"))
    assert message.text == "caf\u00e9 \ufffd ok\nbye"  # NFC, lone surrogate, control, CRLF
    assert message.language_hint == "en-GB"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "not JSON (Expecting value at column 1)"),
        (b'{"text": "a\x01"}', "not JSON (Invalid control character at column 12)"),
        (b'["a list"]', "not a JSON object but an array"),
        (b'"text"', "not a JSON object but a string"),
        (b'{"id": "x"}', "text is missing"),
        (b'{"text": null}', "text must be a string, not null"),
        (b'{"text": ["a"]}', "text must be a string, not an array"),
        (b'{"text": " \\u0000\\t\\n "}', "text is blank"),
        (b'{"text": "a", "id": true}', "id must be a string or a whole number, not a boolean"),
        (b'{"text": "a", "id": 1.5}', "id must be a string or a whole number, not a number"),
        (b'{"text": "a", "id": " "}', "id is missing"),
        (b'{"text": "a", "id": "x\\u0000"}', "id holds control characters or broken Unicode"),
        (b'{"text": "a", "language_hint": 3}', "language_hint must be a string, not a number"),
        (b"\xff{}", "not UTF-8 (byte 0xff at byte 1)"),
        (b"[" * 100_000, "not JSON this program can read (nested too deeply)"),
    ],
)
def test_a_malformed_line_is_refused_with_its_number_and_what_is_wrong(
    line: bytes, problem: str
) -> None:
    with pytest.raises(MalformedLine) as caught:
        parse_line(3, line)
    assert str(caught.value) == f"line 3: {problem}"
    assert caught.value.number == 3


def test_a_text_longer_than_the_edge_takes_is_malformed() -> None:
    with pytest.raises(MalformedLine, match=r"^line 1: text: the text has 20001 characters"):
        parse_line(1, json.dumps({"text": "a" * 20_001}).encode())


def test_a_line_longer_than_the_limit_is_refused_without_reading_it_whole() -> None:
    data = b'{"text": "fine"}\n' + b" " * (MAX_LINE_BYTES + 10) + b"\n"
    messages = read_messages(io.BytesIO(data))
    assert next(messages).text == "fine"
    with pytest.raises(MalformedLine, match=rf"^line 2: longer than {MAX_LINE_BYTES} bytes$"):
        next(messages)


def test_batches_hold_at_most_their_size_and_the_lines_before_a_bad_one_come_first() -> None:
    good = b"".join(json.dumps({"text": f"m{n}"}).encode() + b"\n" for n in range(5))
    assert [len(b) for b in batches(_read(good), 2)] == [2, 2, 1]

    read = batches(read_messages(io.BytesIO(good + b"oops\n" + good)), 4)
    assert [m.text for m in next(read)] == ["m0", "m1", "m2", "m3"]
    assert [m.text for m in next(read)] == ["m4"]
    with pytest.raises(MalformedLine, match="^line 6: "):
        next(read)


def test_every_line_is_answered_in_order_and_the_status_is_zero() -> None:
    status, answers, errors = _run(b'{"text": "a"}\n{"text": "b", "id": "x"}\n{"text": "c"}', 2)
    assert status == 0 and errors == ""
    assert answers == [
        {"hint": "", "id": 1, "text": "a"},
        {"hint": "", "id": "x", "text": "b"},
        {"hint": "", "id": 3, "text": "c"},
    ]


def test_empty_input_gives_no_output_and_status_zero() -> None:
    assert _run(b"") == (0, [], "")
    assert _run(b"\n \n") == (0, [], "")


def test_reading_stops_at_the_first_bad_line_after_answering_those_before_it() -> None:
    data = b'{"text": "a"}\n{"text": "b"}\n{"id": 3}\n{"text": "d"}\n'
    status, answers, errors = _run(data, batch_size=256)
    assert status == 1
    assert [a["text"] for a in answers] == ["a", "b"]  # nothing for line 3 or after it
    assert (
        errors == "prog: line 3: text is missing; stopped there, 2 message(s) before it answered\n"
    )


def test_answers_are_utf_8_with_sorted_keys() -> None:
    stdout = io.BytesIO()
    answer_lines(
        "-",
        lambda batch: [{"z": 1, "a": m.text} for m in batch],
        program="prog",
        stdin=io.BytesIO('{"text": "¿dónde? 🙂"}'.encode()),
        stdout=stdout,
        stderr=io.StringIO(),
    )
    assert stdout.getvalue() == '{"a": "¿dónde? 🙂", "z": 1}\n'.encode()


def test_a_file_is_read_by_its_path_and_a_missing_one_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_text('{"text": "from a file"}\n', encoding="utf-8")
    assert _run(b'{"text": "from stdin"}', source=str(path))[1][0]["text"] == "from a file"

    status, answers, errors = _run(b"", source=str(tmp_path / "absent.jsonl"))
    assert (status, answers) == (1, [])
    assert errors.startswith(f"prog: cannot read {tmp_path / 'absent.jsonl'}: No such file")
