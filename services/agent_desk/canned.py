"""Canned responses and macros: what agents send often, written once, filled per conversation.

A response has a title, a shortcut (typed after "/" in the reply box), its text in one or
more of the brand voice's languages, and optionally a macro: actions the desk takes once
the reply is sent (resolve the ticket, give it back to the bot, tag it, move it to another
team). A team's responses are shared by its members (written by its supervisors); an
agent's personal ones are theirs alone.

Placeholders are ``{name}`` in the text: the customer's name, the agent's, and what the
customer gave the bot (their order number, email, postal code, the item), filled from the
conversation when the response is inserted. One the conversation has no value for stays
in the text, and the desk refuses to send a reply that still has one, so a customer never
reads "{order_reference}".

Pure: no I/O, so checks and filling are read and tested here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import InvalidInputError

PLACEHOLDERS: Mapping[str, str] = {
    "customer_name": "the customer's name",
    "first_name": "the customer's first name",
    "agent_name": "your name",
    "order_reference": "the order number the customer gave",
    "email": "the email the customer gave",
    "postal_code": "the postal code the customer gave",
    "product": "the item the customer named",
}
"""Every placeholder a response may use, with what it stands for (shown when writing one)."""

SLOT_PLACEHOLDERS = frozenset({"order_reference", "email", "postal_code", "product"})
"""Filled from what the customer told the bot (the context service's remembered slots)."""

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_TITLE = 100
MAX_TEXT = 2000
MAX_TAG = 32


class MacroStep(StrEnum):
    RESOLVE = "resolve"
    RETURN = "return"  # back to the bot
    TAG = "tag"
    TRANSFER = "transfer"  # to another team's queue


@dataclass(frozen=True)
class MacroAction:
    """One thing a macro does after its reply is sent; ``value`` is the tag or the team."""

    step: MacroStep
    value: str = ""

    def __str__(self) -> str:
        return f"{self.step}:{self.value}" if self.value else str(self.step)

    @classmethod
    def stored(cls, line: str) -> MacroAction:
        """A step as stored: checked when written (a team removed since still reads)."""
        step, _, value = line.partition(":")
        return cls(MacroStep(step), value)


@dataclass(frozen=True)
class Response:
    """A canned response as agents see it (``team`` "" for a personal one)."""

    id: str
    title: str
    shortcut: str
    texts: Mapping[str, str]  # by language code
    actions: tuple[MacroAction, ...]
    team: str = ""
    owner_id: str = ""

    @property
    def personal(self) -> bool:
        return bool(self.owner_id)


def placeholders_in(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def check_text(text: str) -> None:
    """Refuse a text with an unknown placeholder or a stray brace, naming what is wrong."""
    if not text.strip():
        raise InvalidInputError("The response needs a text.")
    if len(text) > MAX_TEXT:
        raise InvalidInputError(f"The text is longer than {MAX_TEXT} characters.")
    unknown = sorted({name for name in placeholders_in(text) if name not in PLACEHOLDERS})
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise InvalidInputError(
            f"Unknown placeholder {', '.join(f'{{{u}}}' for u in unknown)}; use one of {known}."
        )
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise InvalidInputError("A brace is not closed: placeholders are written {name}.")


def check_shortcut(shortcut: str) -> str:
    """The shortcut as stored: lower case letters, digits, - and _, up to 32."""
    cleaned = shortcut.strip().lstrip("/").lower()
    if not _SHORTCUT.match(cleaned):
        raise InvalidInputError(
            "The shortcut is 1 to 32 lower-case letters, digits, - or _ (typed after /)."
        )
    return cleaned


def check_title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not cleaned or len(cleaned) > MAX_TITLE:
        raise InvalidInputError(f"The title is 1 to {MAX_TITLE} characters.")
    return cleaned


def parse_actions(lines: Iterable[str], teams: Sequence[str]) -> tuple[MacroAction, ...]:
    """Macro steps as written ("resolve", "return", "tag:refund", "transfer:billing"),
    checked: at most one of resolve / return / transfer (each ends the agent's part), a
    known team to transfer to, short tags."""
    actions: list[MacroAction] = []
    for line in lines:
        written = line.strip()
        if not written:
            continue
        name, _, value = written.partition(":")
        try:
            step = MacroStep(name.strip().lower())
        except ValueError:
            raise InvalidInputError(
                f"Unknown macro step {written!r}: use resolve, return, tag:<tag> or "
                "transfer:<team>."
            ) from None
        value = value.strip()
        if step is MacroStep.TAG:
            value = value.lower()
            if not value or len(value) > MAX_TAG or not _SHORTCUT.match(value):
                raise InvalidInputError(
                    f"A tag is 1 to {MAX_TAG} lower-case letters, digits, - or _."
                )
        elif step is MacroStep.TRANSFER:
            if value not in teams:
                raise InvalidInputError(
                    f"Cannot transfer to {value!r}: the teams are {', '.join(teams)}."
                )
        elif value:
            raise InvalidInputError(f"{step} takes no value.")
        actions.append(MacroAction(step, value))
    endings = [a for a in actions if a.step is not MacroStep.TAG]
    if len(endings) > 1:
        raise InvalidInputError("A macro may resolve, return or transfer, only one of them.")
    return tuple(actions)


def conversation_values(
    customer_name: str, agent_name: str, slots: Mapping[str, str]
) -> dict[str, str]:
    """What this conversation fills placeholders with; what it does not know is absent."""
    values = {name: slots[name] for name in SLOT_PLACEHOLDERS if slots.get(name)}
    if customer_name.strip():
        values["customer_name"] = customer_name.strip()
        values["first_name"] = customer_name.split()[0]
    if agent_name.strip():
        values["agent_name"] = agent_name.strip()
    return values


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with every placeholder this conversation has a value for filled in."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def unfilled(text: str) -> list[str]:
    """Placeholders still in a reply about to be sent (it must not go with them)."""
    return [name for name in placeholders_in(text) if name in PLACEHOLDERS]


def text_for(response: Response, language: str, fallback: str) -> tuple[str, str]:
    """The response's text in ``language``, else in ``fallback`` (the brand voice's
    default), else in any language it has; with the language used."""
    for code in (language, fallback):
        if code in response.texts:
            return response.texts[code], code
    code = sorted(response.texts)[0]
    return response.texts[code], code


def _folded(text: str) -> str:
    """Lower case without accents, so "reembolso" finds "Reembolsó"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def matching(responses: Sequence[Response], query: str) -> list[Response]:
    """Responses whose shortcut, title or text has every word of ``query``: shortcut
    matches first, then title matches, then the rest, each by title."""
    words = _folded(query.lstrip("/")).split()

    def rank(response: Response) -> int:
        if not words or all(response.shortcut.startswith(w) for w in words[:1]):
            return 0
        return 1 if all(w in _folded(response.title) for w in words) else 2

    found = [
        r
        for r in responses
        if all(w in _folded(" ".join((r.shortcut, r.title, *r.texts.values()))) for w in words)
    ]
    return sorted(found, key=lambda r: (rank(r), r.title.casefold()))
