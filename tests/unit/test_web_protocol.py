from __future__ import annotations

import json

import pytest

from services.web_adapter.protocol import ChatAttachment, FrameError, parse_frame, visitor_token

LIMITS = {"max_frame_bytes": 1024, "max_text_chars": 100}


def test_a_message_frame_is_parsed_and_trimmed() -> None:
    message = parse_frame(
        json.dumps({"type": "message", "text": "  hi  ", "client_message_id": "c1"}), **LIMITS
    )
    assert (message.text, message.client_message_id) == ("hi", "c1")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        (json.dumps({"type": "typing"}), "unknown_type"),
        (json.dumps({"type": "message", "text": "   "}), "empty_text"),
        (json.dumps({"type": "message", "text": 5}), "empty_text"),
        (json.dumps({"type": "message", "text": "x" * 101}), "text_too_long"),
        (json.dumps({"type": "message", "text": "x" * 2000}), "frame_too_large"),
        (json.dumps({"type": "message", "text": "hi", "client_message_id": 3}), "invalid_frame"),
    ],
)
def test_bad_frames_are_refused_with_a_stable_code(data: str, code: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(data, **LIMITS)
    assert caught.value.code == code


def test_visitor_tokens_are_kept_when_well_formed_and_replaced_otherwise() -> None:
    assert visitor_token("abcdefghijklmnop") == "abcdefghijklmnop"
    assert visitor_token("<script>") != "<script>"
    assert len(visitor_token(None)) >= 16


UPLOAD = "web:upload/" + "ab" * 32


def test_an_image_alone_is_a_message_and_its_name_is_cleaned() -> None:
    frame = {
        "type": "message",
        "attachments": [{"reference": UPLOAD, "file_name": "box\x00 photo.jpg"}],
    }
    message = parse_frame(json.dumps(frame), **LIMITS)
    assert message.text == ""
    assert message.attachments == (ChatAttachment(UPLOAD, "box photo.jpg"),)


@pytest.mark.parametrize(
    "attachments",
    [
        "web:upload/x",
        [{"reference": "https://evil.example/x.png"}],
        [{"reference": "web:upload/" + "AB" * 32}],
        [{"reference": "web:upload/../../etc/passwd"}],
        [{"reference": UPLOAD, "file_name": 5}],
        [UPLOAD],
        [{"reference": UPLOAD}] * 5,
    ],
)
def test_attachments_that_are_not_uploads_are_refused(attachments: object) -> None:
    frame = {"type": "message", "text": "hi", "attachments": attachments}
    with pytest.raises(FrameError) as caught:
        parse_frame(json.dumps(frame), **LIMITS)
    assert caught.value.code == "invalid_attachment"


def test_no_text_and_no_attachment_is_still_empty_text() -> None:
    for frame in ({"type": "message", "attachments": []}, {"type": "message", "text": " "}):
        with pytest.raises(FrameError) as caught:
            parse_frame(json.dumps(frame), **LIMITS)
        assert caught.value.code == "empty_text"
