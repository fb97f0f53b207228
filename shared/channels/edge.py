"""The edge rules: what a customer's text, a platform's id, a count and a phone number must be.

Every inbound edge applies these same rules (the webhooks through
:mod:`shared.channels.admission`, the web chat's socket in its frame parser), so a message
is judged alike whichever door it came in by, and nothing that an encoder, a topic or the
context service would refuse later gets past the door:

- **Text** a person wrote (messages, names): a lone UTF-16 surrogate becomes U+FFFD (a
  half of an emoji cut in two is still the rest of the message), ``\\r\\n`` and ``\\r``
  become ``\\n``, every other control character but ``\\t`` is dropped, the result is
  NFC-normalised and trimmed, and it is bounded (too long a message is refused, too long
  a name is cut).
- **Identifiers** (senders, message ids, media references): present, bounded, and free of
  what no platform id holds (control characters, surrogates); refused otherwise, never
  repaired, since a repaired id is another id.
- **Counts**: ASCII digits only, few enough that converting them costs nothing, within
  the platform's own maximum.
- **Phone numbers**: E.164 that libphonenumber calls valid, the rule the context service
  applies to phone addresses, in its canonical form.

Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

import phonenumbers

from shared.errors import InvalidInputError

MAX_TEXT_CHARS = 20_000
"""Longest message text taken at the edge unless a channel says less (SMS: 1,600)."""
MAX_ID_CHARS = 512
MAX_NAME_CHARS = 256
MAX_DIGITS = 18
"""More digits than any count a platform sends; int() of this many is cheap."""

_LINE_BREAKS = re.compile(r"\r\n?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # Cc, less \t and \n
_UNFIT_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_E164_SHAPE = re.compile(r"^\+[1-9][0-9]{1,14}$")


class Reason(StrEnum):
    """Why an item was refused at the edge: a small fixed set, used as a metric label."""

    BLANK = "blank"
    TOO_LONG = "too_long"
    MISSING_FIELD = "missing_field"
    BAD_ID = "bad_id"
    BAD_PHONE = "bad_phone"
    BAD_NUMBER = "bad_number"
    BAD_ATTACHMENT = "bad_attachment"
    UNKNOWN_STATUS = "unknown_status"


class RejectedInput(InvalidInputError):
    """One item refused at the edge; ``reason`` is stable, the message says what is wrong."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def clean_text(value: str) -> str:
    """``value`` with surrogates repaired, line breaks unified, control characters dropped, NFC.

    Round-tripping through UTF-16 joins a surrogate pair that arrived as two code points
    and turns each lone surrogate into U+FFFD.
    """
    repaired = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    visible = _CONTROL.sub("", _LINE_BREAKS.sub("\n", repaired))
    return unicodedata.normalize("NFC", visible)


def message_text(value: str, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """What a customer wrote, cleaned and trimmed; :class:`RejectedInput` when too long."""
    text = clean_text(value).strip()
    if len(text) > max_chars:
        raise RejectedInput(
            Reason.TOO_LONG, f"the text has {len(text)} characters; the limit is {max_chars}"
        )
    return text


def label(value: str, *, max_chars: int = MAX_NAME_CHARS) -> str:
    """A name, locale or platform remark: cleaned, on one line, cut to ``max_chars``."""
    return " ".join(clean_text(value).split())[:max_chars].rstrip()


def identifier(
    value: str,
    *,
    field: str,
    max_chars: int = MAX_ID_CHARS,
    reason: Reason = Reason.BAD_ID,
) -> str:
    """A platform's id as given; :class:`RejectedInput` when missing or not an id at all."""
    if not value.strip():
        raise RejectedInput(Reason.MISSING_FIELD, f"{field} is missing")
    if len(value) > max_chars:
        raise RejectedInput(reason, f"{field} is longer than {max_chars} characters")
    if _UNFIT_IN_ID.search(value):
        raise RejectedInput(reason, f"{field} holds control characters or broken Unicode")
    return value


def count(value: str, *, field: str, maximum: int) -> int:
    """A whole number written in ASCII digits, from 0 to ``maximum``."""
    digits = value.strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
        raise RejectedInput(Reason.BAD_NUMBER, f"{field} must be a whole number 0 to {maximum}")
    number = int(digits)
    if number > maximum:
        raise RejectedInput(Reason.BAD_NUMBER, f"{field} must be a whole number 0 to {maximum}")
    return number


def phone_number(value: str, *, field: str) -> str:
    """The canonical E.164 form of a phone number that can exist; :class:`RejectedInput` if not.

    The E.164 shape is checked first: libphonenumber alone also reads national numbers,
    letters and prefixes such as ``tel:``, which no platform sends in an E.164 field.
    """
    candidate = value.strip()
    if not candidate:
        raise RejectedInput(Reason.MISSING_FIELD, f"{field} is missing")
    if not _E164_SHAPE.match(candidate):
        raise RejectedInput(Reason.BAD_PHONE, f"{field} is not an E.164 phone number")
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException as exc:
        raise RejectedInput(Reason.BAD_PHONE, f"{field} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise RejectedInput(Reason.BAD_PHONE, f"{field} is not a phone number that can exist")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
