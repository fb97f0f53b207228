"""One reply, rendered within each channel's rules: same words, same tone, different form.

Replies are written in a small Markdown subset (``**bold**``, ``_italic_``). Each channel
gets them in the form it shows: plain text for SMS, WhatsApp's ``*bold*``, Telegram's
MarkdownV2 with every reserved character escaped, Markdown for the web widget. Quick
replies become buttons where the channel has them, numbered options where it does not.
Length limits (characters, or SMS segments) are applied last, at a word boundary.
"""

from __future__ import annotations

import re

from shared.channels import gsm
from shared.channels.adapter import Capabilities, Formatting, QuickReply

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<!\w)_(.+?)_(?!\w)")
_TELEGRAM_RESERVED = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


def _plain(text: str) -> str:
    return _ITALIC.sub(r"\1", _BOLD.sub(r"\1", text))


def _telegram(text: str) -> str:
    """MarkdownV2: escape everything reserved, then re-apply bold and italic."""
    parts: list[str] = []
    position = 0
    for match in re.finditer(r"\*\*(.+?)\*\*|(?<!\w)_(.+?)_(?!\w)", text):
        parts.append(_TELEGRAM_RESERVED.sub(r"\\\1", text[position : match.start()]))
        if match.group(1) is not None:
            parts.append("*" + _TELEGRAM_RESERVED.sub(r"\\\1", match.group(1)) + "*")
        else:
            parts.append("_" + _TELEGRAM_RESERVED.sub(r"\\\1", match.group(2)) + "_")
        position = match.end()
    parts.append(_TELEGRAM_RESERVED.sub(r"\\\1", text[position:]))
    return "".join(parts)


def _format(text: str, formatting: Formatting) -> str:
    if formatting is Formatting.MARKDOWN:
        return text
    if formatting is Formatting.WHATSAPP:
        return _BOLD.sub(r"*\1*", text)
    if formatting is Formatting.TELEGRAM_MARKDOWN_V2:
        return _telegram(text)
    return _plain(text)


def _shorten(text: str, limit: int, ellipsis: str = "...") -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ellipsis)]
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip() + ellipsis


def render(
    text: str, quick_replies: tuple[QuickReply, ...], capabilities: Capabilities
) -> tuple[str, tuple[QuickReply, ...]]:
    """The text and buttons to send on a channel with these capabilities."""
    buttons = quick_replies[: capabilities.max_quick_replies]
    listed = quick_replies[len(buttons) :]
    body = text
    if listed:
        options = "; ".join(f"{i} for {q.title}" for i, q in enumerate(listed, start=1))
        body = f"{text}\nReply {options}."
    if capabilities.formatting is Formatting.TELEGRAM_MARKDOWN_V2:
        return _fit_escaped(body, capabilities.max_text_chars), buttons
    body = _format(body, capabilities.formatting)
    if capabilities.max_segments is not None:
        body = gsm.fit(body, capabilities.max_segments)
    return _shorten(body, capabilities.max_text_chars), buttons


def _fit_escaped(text: str, limit: int) -> str:
    """MarkdownV2 within ``limit``: shorten the source, then escape, so no escape (nor the
    ellipsis) is ever cut in half."""
    source = text
    while len(rendered := _telegram(source)) > limit:
        source = _shorten(source, max(1, len(source) - (len(rendered) - limit) - 1))
    return rendered
