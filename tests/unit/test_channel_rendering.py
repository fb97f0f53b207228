"""SMS segments and per-channel rendering of one reply."""

from __future__ import annotations

import pytest

from shared.channels import gsm
from shared.channels.adapter import Capabilities, Formatting, QuickReply
from shared.channels.rendering import render


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters take two septets
        ("{" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM alphabet
        ("ú" * 70, "UCS-2", 1),  # ú is not
        ("ú" * 71, "UCS-2", 2),
        ("ú" * 134, "UCS-2", 2),
        ("ú" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segments_are_counted_as_carriers_count_them(text: str, encoding: str, count: int) -> None:
    result = gsm.segments(text)
    assert (result.encoding, result.count) == (encoding, count)


def test_fitting_keeps_within_the_segment_budget_at_a_word() -> None:
    text = " ".join(["word"] * 100)
    fitted = gsm.fit(text, 2)
    assert gsm.segments(fitted).count == 2
    assert fitted.endswith("word...")
    assert gsm.fit("short", 1) == "short"
    emoji = "hola 😀 " * 40
    assert gsm.segments(gsm.fit(emoji, 1)).count == 1


REPLY = "I'm **sorry** about that. Your order #12-A (2 items) ships _today_!"
BUTTONS = (QuickReply("Track it", "track"), QuickReply("Talk to a person", "human"))


def test_the_same_reply_takes_each_channels_form() -> None:
    sms = Capabilities(max_text_chars=1600, max_segments=3)
    text, buttons = render(REPLY, BUTTONS, sms)
    assert text == (
        "I'm sorry about that. Your order #12-A (2 items) ships today!\n"
        "Reply 1 for Track it; 2 for Talk to a person."
    )
    assert buttons == ()

    whatsapp = Capabilities(4096, Formatting.WHATSAPP, max_quick_replies=3)
    text, buttons = render(REPLY, BUTTONS, whatsapp)
    assert text == "I'm *sorry* about that. Your order #12-A (2 items) ships _today_!"
    assert buttons == BUTTONS

    telegram = Capabilities(4096, Formatting.TELEGRAM_MARKDOWN_V2, max_quick_replies=1)
    text, buttons = render(REPLY, BUTTONS, telegram)
    assert text == (
        "I'm *sorry* about that\\. Your order \\#12\\-A \\(2 items\\) ships _today_\\!\n"
        "Reply 1 for Talk to a person\\."
    )
    assert buttons == BUTTONS[:1]

    web = Capabilities(4000, Formatting.MARKDOWN, max_quick_replies=5)
    assert render(REPLY, BUTTONS, web) == (REPLY, BUTTONS)


def test_long_replies_are_cut_at_a_word_within_the_limit() -> None:
    text, _ = render("word " * 100, (), Capabilities(max_text_chars=50))
    assert len(text) <= 50 and text.endswith("word...")


def test_a_long_telegram_reply_is_shortened_before_escaping() -> None:
    telegram = Capabilities(60, Formatting.TELEGRAM_MARKDOWN_V2)
    text, _ = render("Price: 1.000 (approx.) - see **details** below! " * 5, (), telegram)
    assert len(text) <= 60
    assert text.endswith("\\.\\.\\.")  # the ellipsis is escaped too
    assert "\\" + "\\" not in text
