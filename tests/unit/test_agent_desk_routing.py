"""Routing in the agent desk, as pure rules: which team a handoff joins (first matching
rule), the routing file's checks and their messages, who a waiting ticket is given to
(round-robin with capacity, balanced, the agent who handed it back first) and when a
ticket nobody can take overflows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import handoff_pb2

from services.agent_desk.models import Availability, Role, TicketStatus
from services.agent_desk.routing import (
    QueueEntry,
    Taker,
    Viewer,
    assignments,
    choose,
    free_for,
    in_turn,
    overflow_due,
    team_queue,
)
from services.agent_desk.teams import (
    AssignmentMode,
    HandoffFacts,
    Overflow,
    RoutingError,
    configured_routing,
    facts_of,
    load_routing,
    route,
    routing_from,
    single,
)

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "routing.example.yaml"
ROUND_ROBIN, BALANCED, MANUAL = (
    AssignmentMode.ROUND_ROBIN,
    AssignmentMode.BALANCED,
    AssignmentMode.MANUAL,
)


def document(**overrides: Any) -> dict[str, Any]:
    """Three teams, by topic, tier and language, and one by channel and intent."""
    return {
        "default_team": "support",
        "teams": {
            "support": {"assignment": "round_robin"},
            "care": None,
            "french": {
                "assignment": "balanced",
                "overflow": {"after_seconds": 60, "to": "support"},
            },
            "vip": {},
        },
        "rules": [
            {"team": "care", "when": {"topic": ["bereavement", "self_harm"]}},
            {"team": "vip", "when": {"tier": "gold"}},
            {"team": "french", "when": {"language": ["fr"]}},
            {"team": "support", "when": {"channel": ["sms"], "intent": ["get_refund"]}},
        ],
        **overrides,
    }


ROUTING = routing_from(document(), "routing.yaml", "unused")


def facts(**fields: Any) -> HandoffFacts:
    values: dict[str, Any] = {
        "language": "en",
        "channel": "web",
        "topics": frozenset(),
        "intents": frozenset(),
        "tier": "",
    }
    values.update(fields)
    return HandoffFacts(**values)


# Which team


@pytest.mark.parametrize(
    ("handoff", "team", "why"),
    [
        (facts(language="fr"), "french", "rule 3: language fr"),
        (facts(topics=frozenset({"bereavement"}), language="fr"), "care", "rule 1: topic"),
        (facts(tier="gold", language="fr"), "vip", "rule 2: tier gold"),
        (facts(channel="sms", intents=frozenset({"get_refund"})), "support", "rule 4"),
        (facts(channel="sms"), "support", "no rule matched: the default team"),
        (facts(intents=frozenset({"get_refund"})), "support", "no rule matched"),
        (facts(language=""), "support", "no rule matched"),  # "👍": no language rule
        (facts(tier="silver"), "support", "no rule matched"),
    ],
)
def test_the_first_rule_whose_every_condition_holds_names_the_team(
    handoff: HandoffFacts, team: str, why: str
) -> None:
    routed = route(ROUTING, handoff)
    assert routed.team == team and routed.why.startswith(why)


def test_a_handoff_is_read_for_its_language_channel_topics_intents_and_tier() -> None:
    packet = handoff_pb2.HandoffRequested(
        envelope=envelope_pb2.Envelope(channel=envelope_pb2.CHANNEL_WHATSAPP),
        language="und",
        intent="get_refund",
        required_skills=["topic:health", "intent:track_refund", "language:it"],
    )
    assert facts_of(packet, "gold") == HandoffFacts(
        language="",
        channel="whatsapp",
        topics=frozenset({"health"}),
        intents=frozenset({"get_refund", "track_refund"}),
        tier="gold",
    )
    unclear = handoff_pb2.HandoffRequested(language="fr", intent="unknown")
    assert facts_of(unclear, "").intents == frozenset() and facts_of(unclear, "").language == "fr"


def test_without_a_file_every_handoff_goes_to_the_default_team_whose_agents_claim(
    tmp_path: Path,
) -> None:
    routing = configured_routing(None, "help", default=tmp_path / "routing.yaml")
    assert routing == single("help")
    assert route(routing, facts(language="fr")).team == "help"
    assert routing.policy("help").assignment is MANUAL
    assert routing.policy("an account's own team").assignment is MANUAL  # not in a file


def test_the_shipped_example_reads_and_routes_as_its_comments_say(tmp_path: Path) -> None:
    example = load_routing(EXAMPLE, "unused")
    assert route(example, facts(topics=frozenset({"health"}), tier="gold")).team == "care"
    assert route(example, facts(tier="gold", language="fr")).team == "priority"
    assert route(example, facts(language="fr")).team == "french"
    assert example.policy("french").overflow == Overflow(to="support", after_seconds=300)
    copy = tmp_path / "routing.yaml"
    copy.write_text(EXAMPLE.read_text())
    assert configured_routing(None, "unused", default=copy) == example


def test_the_default_team_comes_from_the_file_else_the_desks_setting() -> None:
    without = {k: v for k, v in document().items() if k != "default_team"}
    assert routing_from(without, "routing.yaml", "care").default_team == "care"
    assert routing_from(document(), "routing.yaml", "care").default_team == "support"


# The file's checks


def rules(**when: Any) -> dict[str, Any]:
    return {"rules": [{"team": "care", "when": when}]}


def teams(**policies: Any) -> dict[str, Any]:
    return {"teams": {"support": {}, **policies}, "rules": []}


def flow(to: str, after: float = 1) -> dict[str, Any]:
    return {"overflow": {"to": to, "after_seconds": after}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"rules": [{"team": "biling", "when": {"language": "fr"}}]},
            "rules[0].team: 'biling' is not declared under teams (care, french, support, vip)",
        ),
        (rules(channel=["smss"]), "rules[0].when.channel[0]: 'smss' is not a channel (one of web"),
        (rules(intent="refnd"), "rules[0].when.intent[0]: 'refnd' is not a known intent (one of"),
        (rules(intent="unknown"), "'unknown' is not a known intent"),
        (rules(language=["FR"]), "rules[0].when.language[0]: 'FR' is not a language code"),
        (rules(language="und"), "an undetermined language matches no rule"),
        (rules(language=[False]), 'False is not a language code: quote it, e.g. "no"'),
        (rules(tier=["Gold!"]), "rules[0].when.tier[0]: 'Gold!' is not a tier"),
        (rules(topic=[]), "rules[0].when.topic: list at least one value"),
        (rules(), "rules[0].when: a rule needs at least one of language, channel, topic"),
        ({"rules": [{"team": "care", "whn": {"tier": "gold"}}]}, "rules[0].whn: unknown field"),
        (
            teams(support={"assignment": "fastest"}),
            "teams.support.assignment: Input should be 'manual', 'round_robin' or 'balanced'",
        ),
        (teams(**{"<b>": {}}), "teams.<b>: '<b>' is not a team name"),
        (teams(support=flow("support")), "teams.support.overflow.to: a team cannot overflow to"),
        (teams(support=flow("nowhere")), "teams.support.overflow.to: 'nowhere' is not declared"),
        (
            teams(support=flow("a", after=0), a={}),
            "teams.support.overflow.after_seconds: Input should be greater than 0",
        ),
        (
            teams(a=flow("b"), b=flow("c"), c=flow("a")),
            "teams.a.overflow: tickets would go round a → b → c → a for ever",
        ),
        (
            {"default_team": "sales"},
            "default_team (else RAPPORT_AGENT_DESK_DEFAULT_TEAM): 'sales' is not declared",
        ),
        ({"extra": 1}, "extra: unknown field"),
    ],
)
def test_a_mistake_in_the_file_is_refused_with_the_file_the_field_and_what_would_do(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(RoutingError) as refused:
        routing_from({**document(), **change}, "routing.yaml", "support")
    assert str(refused.value).startswith("routing.yaml: ")
    assert message in str(refused.value)


def test_an_unreadable_or_broken_file_stops_the_start_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.yaml"
    with pytest.raises(RoutingError, match=f"{missing}: cannot be read"):
        configured_routing(missing, "support")
    broken = tmp_path / "routing.yaml"
    broken.write_text("teams: [support\n")
    with pytest.raises(RoutingError, match="not valid YAML"):
        load_routing(broken, "support")
    broken.write_text(yaml.safe_dump(["support"]))
    with pytest.raises(RoutingError, match="expected a mapping with default_team, teams"):
        load_routing(broken, "support")


# Who is given a waiting ticket


def entry(
    ticket_id: str = "t1",
    language: str = "en",
    skills: tuple[str, ...] = (),
    preferred: str = "",
    minutes_ago: float = 1,
) -> QueueEntry:
    return QueueEntry(
        ticket_id=ticket_id,
        team="support",
        status=TicketStatus.WAITING,
        assignee_id=None,
        priority=0.5,
        language=language,
        required_skills=skills,
        repeat_contacts=0,
        handed_off_at=NOW - timedelta(minutes=minutes_ago),
        preferred_agent_id=preferred,
    )


def taker(
    name: str,
    load: int = 0,
    capacity: int = 2,
    availability: Availability = Availability.ONLINE,
    role: Role = Role.AGENT,
    languages: tuple[str, ...] = ("en",),
    skills: tuple[str, ...] = (),
) -> Taker:
    viewer = Viewer(name, role, "support", frozenset(languages), frozenset(skills))
    return Taker(viewer, availability, capacity, load)


def ids(takers: list[Taker]) -> list[str]:
    return [t.agent_id for t in takers]


def given(mode: AssignmentMode, ticket: QueueEntry, team: list[Taker], last: str | None) -> str:
    """Who ``choose`` gives the ticket to ("" for nobody)."""
    chosen = choose(mode, ticket, team, last)
    return chosen.agent_id if chosen else ""


def test_turns_go_on_after_the_agent_given_the_teams_last_ticket() -> None:
    team = [taker("ann"), taker("bob"), taker("cleo")]
    assert ids(in_turn(team, None)) == ["ann", "bob", "cleo"]
    assert ids(in_turn(team, "bob")) == ["cleo", "ann", "bob"]
    assert ids(in_turn(team, "cleo")) == ["ann", "bob", "cleo"]
    assert ids(in_turn(team, "gone")) == ["ann", "bob", "cleo"]  # left the team


def test_round_robin_gives_in_turn_and_skips_an_agent_at_capacity() -> None:
    team = [taker("ann"), taker("bob", load=2), taker("cleo")]
    assert given(ROUND_ROBIN, entry(), team, "ann") == "cleo"
    assert given(ROUND_ROBIN, entry(), team, "cleo") == "ann"

    plan = assignments(ROUND_ROBIN, [entry(f"t{i}") for i in range(5)], team, None)
    # ann, cleo, ann, cleo: then everyone is at capacity and t4 waits.
    assert plan == [("t0", "ann"), ("t1", "cleo"), ("t2", "ann"), ("t3", "cleo")]


def test_only_an_online_agent_under_capacity_with_the_language_and_skills_is_given_one() -> None:
    ticket = entry(language="fr", skills=("language:fr", "topic:bereavement"))
    trained: dict[str, Any] = {"languages": ("fr",), "skills": ("topic:bereavement",)}
    able = taker("ann", **trained)
    assert free_for(able, ticket)
    for unable in (
        taker("away", availability=Availability.AWAY, **trained),
        taker("off", availability=Availability.OFFLINE, **trained),
        taker("full", load=2, **trained),
        taker("boss", role=Role.SUPERVISOR, **trained),
        taker("no-french", skills=("topic:bereavement",)),
        taker("untrained", languages=("fr",)),
    ):
        assert not free_for(unable, ticket), unable.agent_id
    assert choose(ROUND_ROBIN, ticket, [taker("no-french"), able], None) == able


def test_an_emoji_only_ticket_needs_no_language_so_any_agent_may_be_given_it() -> None:
    emoji = entry(language="und")
    assert free_for(taker("ann", languages=("de",)), emoji)
    assert assignments(BALANCED, [emoji], [taker("ann", languages=("de",))], None) == [
        ("t1", "ann")
    ]


def test_balanced_gives_the_least_load_for_the_capacity_and_the_next_in_turn_among_equals() -> None:
    team = [
        taker("ann", load=2, capacity=4),
        taker("bob", load=1, capacity=2),
        taker("cleo", load=2, capacity=8),
    ]
    assert given(BALANCED, entry(), team, None) == "cleo"
    even = [taker("ann", load=1), taker("bob", load=1), taker("cleo", load=1)]
    assert given(BALANCED, entry(), even, "ann") == "bob"

    plan = assignments(BALANCED, [entry(f"t{i}") for i in range(4)], team, None)
    # cleo 2/8 then 3/8 are the least; at 4/8 all three are at a half: ann (next in
    # turn after cleo), then bob (next after ann).
    assert plan == [("t0", "cleo"), ("t1", "cleo"), ("t2", "ann"), ("t3", "bob")]


def test_the_agent_who_handed_it_back_is_given_it_first_if_free() -> None:
    team = [taker("ann"), taker("bob", load=1)]
    assert given(ROUND_ROBIN, entry(preferred="bob"), team, None) == "bob"
    assert given(BALANCED, entry(preferred="bob"), team, None) == "bob"
    busy = [taker("ann"), taker("bob", load=2)]
    assert given(BALANCED, entry(preferred="bob"), busy, None) == "ann"


def test_a_manual_team_is_never_given_anything_and_nobody_free_means_it_waits() -> None:
    team = [taker("ann")]
    assert assignments(MANUAL, [entry()], team, None) == []
    assert (
        choose(ROUND_ROBIN, entry(), [taker("ann", availability=Availability.AWAY)], None) is None
    )
    assert assignments(ROUND_ROBIN, [], team, None) == []


def test_assignment_follows_the_teams_queue_order() -> None:
    urgent = replace(entry("urgent", minutes_ago=1), priority=0.9)
    older = entry("older", minutes_ago=10)
    queue = team_queue("support", [older, urgent], NOW)
    assert [e.ticket_id for e in queue] == ["urgent", "older"]
    assert assignments(ROUND_ROBIN, queue, [taker("ann", capacity=1)], None) == [("urgent", "ann")]


# Overflow


OVERFLOW = Overflow(to="general", after_seconds=300)


def test_a_ticket_overflows_only_after_the_wait_and_when_nobody_in_the_team_can_be_given_it() -> (
    None
):
    french = entry(language="fr", skills=("language:fr",))
    joined = NOW - timedelta(seconds=300)
    nobody = [taker("ann"), taker("bea", languages=("fr",), availability=Availability.AWAY)]
    assert overflow_due(french, joined, OVERFLOW, nobody, NOW)
    assert not overflow_due(french, joined + timedelta(seconds=1), OVERFLOW, nobody, NOW)  # not yet
    assert not overflow_due(french, joined, None, nobody, NOW)  # the team has no fallback
    free = [*nobody, taker("cleo", languages=("fr",))]
    assert not overflow_due(french, joined, OVERFLOW, free, NOW)  # cleo could take it
    full = [*nobody, taker("cleo", languages=("fr",), load=2)]
    assert overflow_due(french, joined, OVERFLOW, full, NOW)  # cleo is at capacity
    claimed = replace(french, status=TicketStatus.CLAIMED)
    assert not overflow_due(claimed, joined, OVERFLOW, nobody, NOW)
