"""The customer's new words in a mail: quoted history and signature taken away.

Mail clients quote the whole thread under (or, for Outlook, after a header block) every
reply, and people sign their mails; what the analysis of a message needs is only what
was written this time. The work is shared with mail-parser-reply, which knows many
clients' header blocks and signature habits; the attribution lines it misses (Portuguese,
Gmail's wrapped ones, Spanish with one space), RFC 3676's ``-- `` delimiter and the
line a phone or mail app adds ("Sent from my iPhone", "Von meinem iPhone gesendet") are
cut here first, and its signature guess is taken only when it looks like one, since it reads
a line such as "Thanks, the refund came but..." as the start of a signature.

Pure: no I/O.
"""

from __future__ import annotations

import re

from mailparser_reply import EmailMessage  # type: ignore[import-untyped]
from mailparser_reply.constants import MAIL_LANGUAGES  # type: ignore[import-untyped]

from services.email_adapter.html_text import tidy_text

LANGUAGES = ("en", "de", "fr", "es", "pt")
"""The languages whose quoting habits are recognised (the library knows those it has)."""

_LINE = r"[^\n]{0,300}?"
_WRAPPED = rf"{_LINE}(?:\n{_LINE})?"  # an attribution line wrapped once by the client
_QUOTE_STARTS = re.compile(
    "|".join(
        (
            rf"^[ \t]*On\b{_WRAPPED}\bwrote[ \t]*:[ \t]*$",  # en
            rf"^[ \t]*Am\b{_WRAPPED}\bschrieb\b{_LINE}:[ \t]*$",  # de
            rf"^[ \t]*Le\b{_WRAPPED}\ba\s+écrit[ \t]*:[ \t]*$",  # fr
            rf"^[ \t]*El\b{_WRAPPED}\bescribió[ \t]*:[ \t]*$",  # es
            rf"^[ \t]*Em\b{_WRAPPED}\bescreveu[ \t]*:[ \t]*$",  # pt
            # Outlook and friends: "-----Original Message-----" in each language.
            r"^[ \t]*-{3,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine"
            r"|Mensaje original|Mensagem original|Forwarded message|Message transféré"
            r"|Weitergeleitete Nachricht|Mensaje reenviado|Mensagem encaminhada)[ \t]*-{3,}",
            # Outlook's header block: a From line followed by a Sent/Date line.
            r"^[ \t]*[*]?(?:From|Von|De)[*]?[ \t]?:[^\n]{1,300}\n[ \t]*[*]?(?:Sent|Date|Gesendet"
            r"|Datum|Envoyé|Enviado|Fecha|Data)[*]?[ \t]?:",
        )
    ),
    re.MULTILINE | re.IGNORECASE,
)
# Sign-offs alone on their line, for languages the library has none for (Portuguese).
_SIGN_OFF_LINE = re.compile(
    r"^[ \t]*(?:Atenciosamente|Att|Abs|Abraços|Um abraço|Obrigad[oa]|Cumprimentos|Beijos)"
    r"[ \t]*[,.!]?[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
# The line a phone or mail app adds under every mail, alone on its line.
_DEVICE = r"\S+(?:[ \t]\S+){0,3}"  # a device or app name: a few words
_APP_TAGLINES = "|".join(
    (
        rf"Sent from (?:my {_DEVICE}|(?:Outlook|Mail|Yahoo Mail|Gmail)(?:[ \t]\S+){{0,3}})",
        rf"Get Outlook for {_DEVICE}",
        rf"Von meinem {_DEVICE} gesendet|Gesendet von (?:meinem )?{_DEVICE}",  # de
        rf"Envoyé (?:de|depuis) (?:mon )?{_DEVICE}",  # fr
        rf"Enviado (?:desde mi|de mi|do meu|de meu|desde o meu) {_DEVICE}",  # es, pt
    )
)
_APP_TAGLINE = re.compile(rf"^[ \t]*(?:{_APP_TAGLINES})[ \t]*$", re.MULTILINE | re.IGNORECASE)
_SIGNATURE_DELIMITER = re.compile(r"^-- ?$", re.MULTILINE)  # RFC 3676 section 4.3
_QUOTED_LINE = re.compile(r"^[ \t]*>[^\n]*(?:\n|$)", re.MULTILINE)
_SIGNATURE_MAX_LINES = 8
_SIGNOFF_MAX_CHARS = 40


def new_words(text: str) -> str:
    """What ``text`` adds to the thread: no quoted history, no signature.

    Empty when nothing is left; the caller then keeps the whole text, so that a mail
    whose every line looks quoted is not taken for an empty one.
    """
    kept = _before(_QUOTE_STARTS, text)
    kept = _before(_SIGNATURE_DELIMITER, kept)
    kept = _APP_TAGLINE.sub("", kept)
    kept = _without_sign_off(_without_library_quotes_and_signature(kept))
    return tidy_text(_QUOTED_LINE.sub("", kept))


def _before(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return text[: match.start()] if match else text


def _without_library_quotes_and_signature(text: str) -> str:
    languages = [language for language in LANGUAGES if language in MAIL_LANGUAGES]
    replies = EmailMessage(text=text, languages=languages, keep_hyphen_lists=True).read().replies
    if not replies:
        return text
    newest = replies[0]
    words: str = newest.full_body
    for disclaimer in newest.disclaimers:
        words = words.replace(disclaimer, "")
    if newest.signatures and _looks_like_signature(newest.signatures):
        words = words.replace(newest.signatures, "")
    return words


def _without_sign_off(text: str) -> str:
    for match in _SIGN_OFF_LINE.finditer(text):
        if match.start() > 0 and _looks_like_signature(text[match.start() :]):
            return text[: match.start()]
    return text


def _looks_like_signature(block: str) -> bool:
    """A few short lines starting with a short sign-off, not a paragraph the customer wrote."""
    lines = [line for line in block.strip().splitlines() if line.strip()]
    return (
        0 < len(lines) <= _SIGNATURE_MAX_LINES
        and len(lines[0].strip()) <= _SIGNOFF_MAX_CHARS
        and all(len(line) <= 2 * _SIGNOFF_MAX_CHARS for line in lines)
    )
