"""Teams and routing rules: which team's queue a handoff joins, how a team's tickets reach
its agents, and where a ticket nobody in the team can take goes after a while. Read from
a YAML file the operator edits::

    default_team: support          # a handoff no rule matches (else DEFAULT_TEAM)
    teams:                         # every team the file names
      support: {}                  # agents claim (manual, the default)
      french:
        assignment: round_robin    # manual | round_robin | balanced
        overflow: {after_seconds: 300, to: support}
      care:
        assignment: balanced
    rules:                         # the first that matches wins
      - team: care
        when: {topic: [bereavement, self_harm]}
      - team: french
        when: {language: [fr]}
      - team: support
        when: {tier: [gold], channel: [whatsapp, sms]}

A rule matches when each condition it lists holds, and a condition holds when the
handoff has one of its values: ``language`` the language the customer writes (an
undetermined one, as of "👍", matches no language), ``channel``, ``topic`` a sensitive
topic the bot noticed (a ``topic:`` skill), ``intent`` what the customer wants (the
handoff's intent or an ``intent:`` skill), ``tier`` the customer's service tier (which
the desk keeps, ``CustomerTier``).

Why a first-match list: an operator reads it top to bottom and knows where a handoff
goes, and the conversation's history names the rule that sent it.

Checked whole at start-up with pydantic: an unknown field, a team ``teams`` does not
declare, a channel or intent Rapport does not know, an overflow to its own team or in a
circle stop the desk with the file and the field in the message. Without a file every
handoff goes to the default team and agents claim (``single``).

Pure apart from reading the file: ``route`` is a plain function of the rules and the
handoff's facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from rapport.events.v1 import handoff_pb2

from services.agent_desk.accounts import LANGUAGE, SKILL_VALUE, TEAM
from services.agent_desk.yaml_files import yaml_document
from shared.channel_names import CHANNEL_NAMES, channel_name
from shared.languages import UNDETERMINED, determined
from shared.voice.replies import VOICE

DEFAULT_ROUTING_FILE = Path(__file__).resolve().parents[2] / "routing.yaml"
"""Read when no file is configured and it exists; without it, one team that claims."""

UNKNOWN_INTENT = "unknown"
TIER = re.compile(r"[a-z0-9_-]{1,32}")
CONDITIONS = ("language", "channel", "topic", "intent", "tier")


class RoutingError(ValueError):
    """The routing file is missing, unreadable or wrong (the message says where)."""


class AssignmentMode(StrEnum):
    """How a team's waiting tickets reach its agents."""

    MANUAL = "manual"  # agents claim, supervisors assign
    ROUND_ROBIN = "round_robin"  # the next online agent in turn who can take it
    BALANCED = "balanced"  # the online agent with the least load for their capacity


@dataclass(frozen=True)
class HandoffFacts:
    """What routing rules look at in a handoff."""

    language: str  # "" when undetermined
    channel: str
    topics: frozenset[str]
    intents: frozenset[str]
    tier: str  # "" when the customer has none


def facts_of(packet: handoff_pb2.HandoffRequested, tier: str) -> HandoffFacts:
    """The handoff as the rules see it; ``tier`` is the customer's ("" for none)."""

    def skills(kind: str) -> frozenset[str]:
        return frozenset(s.removeprefix(kind) for s in packet.required_skills if s.startswith(kind))

    stated = {packet.intent} - {"", UNKNOWN_INTENT}
    return HandoffFacts(
        language=determined(packet.language),
        channel=channel_name(packet.envelope.channel),
        topics=skills("topic:"),
        intents=skills("intent:") | stated,
        tier=tier,
    )


# The file's fields, each checked with a message that says what would do.


def _value(what: str, fits: Callable[[str], bool], example: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, bool):  # YAML reads a bare no, yes, on or off as true/false
            raise ValueError(f'{value!r} is not a {what}: quote it, e.g. "no"')
        if not isinstance(value, str) or not fits(value):
            raise ValueError(f"{value!r} is not a {what} ({example})")
        return value

    return check


def _language(code: str) -> bool:
    return bool(LANGUAGE.fullmatch(code)) and code != UNDETERMINED


KNOWN_INTENTS = frozenset(VOICE.intents) - {UNKNOWN_INTENT}

TeamName = Annotated[
    str,
    BeforeValidator(
        _value(
            "team name",
            lambda v: bool(TEAM.fullmatch(v)),
            "1 to 64 letters, digits, spaces, dots or dashes",
        )
    ),
]
Language = Annotated[
    str,
    BeforeValidator(
        _value(
            "language code",
            _language,
            "like fr; an undetermined language matches no rule, so such handoffs follow the others",
        )
    ),
]
Channel = Annotated[
    str,
    BeforeValidator(
        _value("channel", lambda v: v in CHANNEL_NAMES, f"one of {', '.join(CHANNEL_NAMES)}")
    ),
]
Topic = Annotated[
    str,
    BeforeValidator(
        _value(
            "topic",
            lambda v: bool(SKILL_VALUE.fullmatch(v)),
            "like bereavement, as in a topic: skill",
        )
    ),
]
Intent = Annotated[
    str,
    BeforeValidator(
        _value(
            "known intent",
            lambda v: v in KNOWN_INTENTS,
            f"one of {', '.join(sorted(KNOWN_INTENTS))}",
        )
    ),
]
checked_tier = _value("tier", lambda v: bool(TIER.fullmatch(v)), "like gold: a-z, 0-9, _ or -")
"""A customer's tier as rules name it (the command line sets them); ValueError if not."""
Tier = Annotated[str, BeforeValidator(checked_tier)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """What a rule asks of a handoff: each listed condition, any of its values."""

    language: tuple[Language, ...] | None = None
    channel: tuple[Channel, ...] | None = None
    topic: tuple[Topic, ...] | None = None
    intent: tuple[Intent, ...] | None = None
    tier: tuple[Tier, ...] | None = None

    @field_validator(*CONDITIONS, mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """``language: fr`` reads as ``language: [fr]``."""
        return [value] if isinstance(value, str | bool) else value

    @field_validator(*CONDITIONS)
    @classmethod
    def _not_empty(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("list at least one value, or leave the condition out")
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not any(self.listed().values()):
            raise ValueError(
                f"a rule needs at least one of {', '.join(CONDITIONS)} "
                "(a handoff no rule matches goes to default_team)"
            )
        return self

    def listed(self) -> dict[str, tuple[str, ...]]:
        return {name: values for name in CONDITIONS if (values := getattr(self, name))}

    def holds(self, facts: HandoffFacts) -> bool:
        found: dict[str, frozenset[str]] = {
            "language": frozenset({facts.language}) - {""},
            "channel": frozenset({facts.channel}),
            "topic": facts.topics,
            "intent": facts.intents,
            "tier": frozenset({facts.tier}) - {""},
        }
        return all(found[name] & set(values) for name, values in self.listed().items())

    def describe(self) -> str:
        """``language fr; channel sms, whatsapp``."""
        return "; ".join(f"{name} {', '.join(values)}" for name, values in self.listed().items())


class Rule(_Strict):
    team: TeamName
    when: Conditions


class Overflow(_Strict):
    """Where a waiting ticket nobody in the team can take goes, after how long there."""

    to: TeamName
    after_seconds: float = Field(gt=0)

    @property
    def after(self) -> timedelta:
        return timedelta(seconds=self.after_seconds)


class TeamPolicy(_Strict):
    assignment: AssignmentMode = AssignmentMode.MANUAL
    overflow: Overflow | None = None


MANUAL = TeamPolicy()


class Routing(_Strict):
    """The whole file: the default team, every team's policy, the rules in order."""

    default_team: TeamName
    teams: dict[TeamName, TeamPolicy]
    rules: tuple[Rule, ...] = ()

    @field_validator("teams", mode="before")
    @classmethod
    def _bare_teams(cls, value: Any) -> Any:
        """``support:`` alone (nothing under it) is a team with the defaults."""
        if isinstance(value, Mapping):
            return {name: {} if policy is None else policy for name, policy in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        declared = ", ".join(sorted(self.teams)) or "none"

        def known(team: str, where: str) -> None:
            if team not in self.teams:
                raise ValueError(f"{where}: {team!r} is not declared under teams ({declared})")

        known(self.default_team, "default_team (else RAPPORT_AGENT_DESK_DEFAULT_TEAM)")
        for index, rule in enumerate(self.rules):
            known(rule.team, f"rules[{index}].team")
        for name, policy in self.teams.items():
            if policy.overflow is None:
                continue
            known(policy.overflow.to, f"teams.{name}.overflow.to")
            if policy.overflow.to == name:
                raise ValueError(f"teams.{name}.overflow.to: a team cannot overflow to itself")
            path = [name]
            while (step := self.teams[path[-1]].overflow) is not None:
                if step.to in path:
                    circle = " → ".join([*path[path.index(step.to) :], step.to])
                    raise ValueError(
                        f"teams.{name}.overflow: tickets would go round {circle} for ever"
                    )
                path.append(step.to)
        return self

    def policy(self, team: str) -> TeamPolicy:
        """A team's policy; a team the file does not name (an account's own) claims."""
        return self.teams.get(team, MANUAL)


def single(default_team: str) -> Routing:
    """Without a file: every handoff to the default team, whose agents claim."""
    return Routing(default_team=default_team, teams={default_team: MANUAL})


@dataclass(frozen=True)
class Routed:
    """The team a handoff goes to, and why in words (for the ticket's history)."""

    team: str
    why: str


def route(routing: Routing, facts: HandoffFacts) -> Routed:
    """The first rule that matches, else the default team."""
    for number, rule in enumerate(routing.rules, start=1):
        if rule.when.holds(facts):
            return Routed(rule.team, f"rule {number}: {rule.when.describe()}")
    why = "no rule matched: the default team" if routing.rules else "the default team"
    return Routed(routing.default_team, why)


# Reading the file


def _where(location: tuple[int | str, ...]) -> str:
    """``("rules", 2, "when", "channel", 0)`` → ``rules[2].when.channel[0]``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _explained(error: ErrorDetails) -> str:
    message = (
        "unknown field"
        if error["type"] == "extra_forbidden"
        else error["msg"].removeprefix("Value error, ")
    )
    where = _where(tuple(part for part in error["loc"] if part != "[key]"))  # a team's name
    return f"{where}: {message}" if where else message


def routing_from(document: Any, source: str, default_team: str) -> Routing:
    """The routing a parsed document describes; ``source`` names it in every error, and
    ``default_team`` is the team when the document names none."""
    if not isinstance(document, Mapping):
        raise RoutingError(f"{source}: expected a mapping with default_team, teams and rules")
    try:
        return Routing.model_validate({"default_team": default_team, **document})
    except ValidationError as exc:
        problems = "; ".join(_explained(error) for error in exc.errors())
        raise RoutingError(f"{source}: {problems}") from None


def load_routing(path: Path, default_team: str) -> Routing:
    """Read and check a routing file; a mistake stops the desk at start-up."""
    return routing_from(yaml_document(path, RoutingError), str(path), default_team)


def configured_routing(
    path: Path | None, default_team: str, default: Path = DEFAULT_ROUTING_FILE
) -> Routing:
    """The routing in ``path``; without one, the repository's ``routing.yaml`` if there is
    one, else every handoff to ``default_team``."""
    if path is not None:
        return load_routing(path, default_team)
    return load_routing(default, default_team) if default.is_file() else single(default_team)
