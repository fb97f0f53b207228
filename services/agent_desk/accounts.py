"""What an admin may write into an account, checked before anything touches the database,
and how the audit trail reads.

Why strict: teams, languages and skills are matched literally against tickets
(``routing``), so a typo such as ``EN`` or ``bereavement`` without its ``topic:`` kind
would silently hide tickets from an agent; refusing it with the reason is kinder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.agent_desk.models import MAX_CAPACITY, Agent, AuditEntry, Role
from shared.errors import InvalidInputError, RefusedError

MAX_NAME = 100
MAX_ITEMS = 20
SKILL_KINDS = ("topic", "intent", "language")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Teams and languages are matched literally by routing rules too (``teams``).
TEAM = re.compile(r"\w[\w .-]{0,63}")
LANGUAGE = re.compile(r"[a-z]{2,3}")
SKILL_VALUE = re.compile(r"[a-z0-9_-]{1,60}")
_SKILL = re.compile(rf"(?:{'|'.join(SKILL_KINDS)}):{SKILL_VALUE.pattern}")


class AccountRefused(RefusedError):
    """A change refused because of the accounts' state; the message tells the admin why."""


@dataclass(frozen=True)
class Profile:
    """The fields of an account an admin sets: everything but email, password and state."""

    name: str
    role: Role
    team: str
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    # Conversations the desk gives the account at once; None leaves it as it is (a new
    # account gets the default).
    capacity: int | None = None


def split_list(text: str) -> list[str]:
    """``"en, fr"`` → ``["en", "fr"]``."""
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _items(text: str, pattern: re.Pattern[str], what: str, example: str) -> tuple[str, ...]:
    items = sorted({item.lower() for item in split_list(text)})
    if len(items) > MAX_ITEMS:
        raise InvalidInputError(f"at most {MAX_ITEMS} {what}s")
    for item in items:
        if not pattern.fullmatch(item):
            raise InvalidInputError(f"{item!r} is not a {what} (for example {example})")
    return tuple(items)


def profile_from_form(form: Mapping[str, str], default_team: str) -> Profile:
    """A valid profile from a submitted form, or InvalidInputError saying what to fix."""
    name = form.get("name", "").strip()
    if not 0 < len(name) <= MAX_NAME:
        raise InvalidInputError(f"a name needs 1 to {MAX_NAME} characters")
    try:
        role = Role(form.get("role", ""))
    except ValueError as exc:
        raise InvalidInputError("pick a role: agent, supervisor or admin") from exc
    team = form.get("team", "").strip() or default_team
    if not TEAM.fullmatch(team):
        raise InvalidInputError("a team is 1 to 64 letters, digits, spaces, dots or dashes")
    languages = _items(form.get("languages", ""), LANGUAGE, "language code", "en or fr")
    if not languages:
        raise InvalidInputError("list at least one language code, for example en, fr")
    kinds = ", ".join(f"{kind}:" for kind in SKILL_KINDS)
    skills = _items(form.get("skills", ""), _SKILL, f"skill ({kinds})", "topic:bereavement")
    capacity = form.get("capacity", "").strip()
    return Profile(
        name=name,
        role=role,
        team=team,
        languages=languages,
        skills=skills,
        capacity=checked_capacity(capacity) if capacity else None,
    )


def profile_of(agent: Agent) -> Profile:
    """The account's profile as it is (to change one field of it)."""
    return Profile(
        name=agent.name,
        role=Role(agent.role),
        team=agent.team,
        languages=tuple(agent.languages),
        skills=tuple(agent.skills),
        capacity=agent.capacity,
    )


def checked_capacity(raw: str | int) -> int:
    """How many conversations an account may be given at once: 1 to ``MAX_CAPACITY``."""
    try:
        capacity = int(raw)
    except ValueError:
        capacity = 0
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidInputError(f"a capacity is a whole number from 1 to {MAX_CAPACITY}")
    return capacity


def checked_email(raw: str) -> str:
    """An account's email, as the login form will compare it (trimmed, lower case);
    anything that cannot be an address is refused, from the admin page or the command
    line alike."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidInputError(f"an account needs a valid email address, not {raw!r}")
    return email


def email_from_form(form: Mapping[str, str]) -> str:
    return checked_email(form.get("email", ""))


def describe(changes: Mapping[str, Any]) -> list[str]:
    """An audit entry's changes as lines: ``role: agent → supervisor``."""

    def shown(value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return "–" if value is None else str(value)

    return [f"{field}: {shown(old)} → {shown(new)}" for field, (old, new) in changes.items()]


@dataclass(frozen=True)
class AuditLine:
    """An audit entry as the users page shows it."""

    at: datetime
    actor: str
    account: str
    action: str
    changes: list[str]


def audit_lines(entries: Iterable[AuditEntry], agents: Iterable[Agent]) -> list[AuditLine]:
    """Entries with their actor and account named (accounts are never deleted)."""
    names = {agent.id: f"{agent.name} <{agent.email}>" for agent in agents}
    return [
        AuditLine(
            at=entry.at,
            actor=names.get(entry.actor_id, "?") if entry.actor_id else "command line",
            account=names.get(entry.agent_id, "?"),
            action=entry.action,
            changes=describe(entry.changes),
        )
        for entry in entries
    ]
