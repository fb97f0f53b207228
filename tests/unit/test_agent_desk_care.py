"""Care for agents, as pure rules: how hard a customer's conversation is (from the
handoff's readings of the customer's own messages), what an agent carried lately, when a
run of hard ones suggests a pause, and how automatic assignment spreads hard
conversations between free agents while calm ones keep the mode's order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rapport.events.v1 import handoff_pb2

from services.agent_desk.load import (
    HALF_LIFE,
    HARD_INTENSITY,
    WINDOW,
    RecentLoad,
    Taken,
    is_hard,
    recent_load,
    ticket_intensity,
    weight_of,
)
from services.agent_desk.routing import QueueEntry, Taker, assignments, choose
from services.agent_desk.teams import AssignmentMode
from tests.unit.test_agent_desk_routing import entry, taker

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ROUND_ROBIN, BALANCED = AssignmentMode.ROUND_ROBIN, AssignmentMode.BALANCED
FURIOUS, CALM = 0.8, 0.1


def reading(
    emotion: str, intensity: float, hours_ago: float | None = 0
) -> handoff_pb2.EmotionReading:
    found = handoff_pb2.EmotionReading(dominant_emotion=emotion, intensity=intensity)
    if hours_ago is not None:
        found.occurred_at.FromDatetime(NOW - timedelta(hours=hours_ago))
    return found


# A conversation's intensity


def test_a_conversation_weighs_its_customers_strongest_negative_feeling() -> None:
    assert ticket_intensity([reading("frustration", 0.3), reading("anger", 0.7, 0.1)]) == 0.7
    assert ticket_intensity([reading("sadness", 0.45), reading("anxiety", 0.2)]) == 0.45
    # Joy, gratitude and confusion are not what wears an agent out; neutral reads 0.
    calm = [reading("joy", 0.9), reading("gratitude", 0.6), reading("confusion", 0.5)]
    assert ticket_intensity([*calm, reading("neutral", 0.0)]) == 0.0


def test_without_readings_nothing_is_known_and_nothing_is_guessed() -> None:
    """The customer opted out of emotion analysis: the handoff carries no trajectory."""
    assert ticket_intensity([]) is None
    assert not is_hard(None) and weight_of(None) == 0.0


def test_only_the_day_before_the_latest_reading_counts() -> None:
    """The trajectory is the customer's latest readings from any conversation: anger two
    weeks ago does not make today's calm question hard."""
    old_anger = reading("anger", 0.9, hours_ago=24 * 14)
    assert ticket_intensity([old_anger, reading("frustration", 0.2)]) == 0.2
    assert ticket_intensity([reading("anger", 0.9, hours_ago=23), reading("neutral", 0)]) == 0.9
    # A reading without its time is taken as recent rather than dropped.
    assert ticket_intensity([reading("anger", 0.6, hours_ago=None), reading("neutral", 0)]) == 0.6


def test_readings_are_kept_to_three_decimals_and_hard_starts_at_the_threshold() -> None:
    # float32 on the wire: 0.4 arrives as 0.4000000059604645.
    assert ticket_intensity([reading("anger", 0.4)]) == HARD_INTENSITY
    assert is_hard(HARD_INTENSITY) and not is_hard(HARD_INTENSITY - 0.001)


# What an agent carried lately


def taken(minutes_ago: float, intensity: float | None) -> Taken:
    return Taken(NOW - timedelta(minutes=minutes_ago), intensity)


ONLINE_SINCE = NOW - timedelta(hours=4)  # the agent's availability's last change


def test_recent_load_counts_the_windows_conversations_and_halves_their_weight_each_half_life() -> (
    None
):
    carried = recent_load(
        [taken(0, FURIOUS), taken(60, 0.5), taken(90, None), taken(200, FURIOUS)],
        NOW,
        ONLINE_SINCE,
    )
    # The one 200 minutes ago is outside the three hours; the unknown one counts as a
    # conversation that weighs nothing.
    assert (carried.conversations, carried.hard) == (3, 2)
    assert carried.weight == pytest.approx(FURIOUS + 0.5 / 2)
    assert weight_of(FURIOUS, HALF_LIFE * 2) == pytest.approx(FURIOUS / 4)
    assert recent_load([], NOW, None) == RecentLoad(0, 0, 0.0, run=False)
    edge = [taken(WINDOW.total_seconds() / 60, FURIOUS)]
    assert recent_load(edge, NOW, None).conversations == 1


def test_a_run_is_the_latest_conversations_all_hard_with_no_pause_since() -> None:
    hard_three = [taken(30, FURIOUS), taken(20, 0.5), taken(10, HARD_INTENSITY)]

    def run(conversations: list[Taken], since: datetime | None = ONLINE_SINCE) -> bool:
        return recent_load(conversations, NOW, since).run

    assert run(hard_three) and run(hard_three, None)
    assert not run(hard_three[1:])  # two are not a run yet
    # A calm one since breaks it, even after more hard ones before.
    assert not run([taken(40, FURIOUS), *hard_three, taken(5, CALM)])
    assert not run([*hard_three, taken(5, None)])  # unknown is not hard
    # A calm one before the run does not.
    assert run([taken(50, CALM), *hard_three])
    # Away after the last of them (or away, then back): the pause was taken.
    assert not run(hard_three, NOW - timedelta(minutes=5))
    assert run(hard_three, NOW - timedelta(minutes=10))  # back before the last one


# Routing weighs it


def carrying(name: str, emotional_load: float, load: int = 0) -> Taker:
    return replace(taker(name, load=load), emotional_load=emotional_load)


def hard() -> QueueEntry:
    return replace(entry(), emotional_intensity=FURIOUS)


@pytest.mark.parametrize("mode", [ROUND_ROBIN, BALANCED])
def test_a_hard_conversation_goes_to_the_free_agent_who_carried_least(
    mode: AssignmentMode,
) -> None:
    team = [carrying("ann", 1.2), carrying("bob", 0.3), carrying("cleo", 0.0, load=2)]
    # Cleo carried nothing but is at capacity; Ann is next in turn but carried more.
    chosen = choose(mode, hard(), team, None)
    assert chosen is not None and chosen.agent_id == "bob"


@pytest.mark.parametrize("mode", [ROUND_ROBIN, BALANCED])
def test_among_equals_a_hard_conversation_follows_the_modes_order(mode: AssignmentMode) -> None:
    team = [carrying("ann", 0.5), carrying("bob", 0.5), carrying("cleo", 0.9)]
    chosen = choose(mode, hard(), team, "ann")
    assert chosen is not None and chosen.agent_id == "bob"
    # Balanced's order is the load for the capacity first.
    team = [carrying("ann", 0.5), carrying("bob", 0.5, load=1)]
    chosen = choose(BALANCED, hard(), team, None)
    assert chosen is not None and chosen.agent_id == "ann"


@pytest.mark.parametrize("mode", [ROUND_ROBIN, BALANCED])
def test_a_calm_or_unknown_conversation_keeps_the_modes_order(mode: AssignmentMode) -> None:
    team = [carrying("ann", 2.0), carrying("bob", 0.0)]
    for intensity in (CALM, None, HARD_INTENSITY - 0.001):
        calm = replace(entry(), emotional_intensity=intensity)
        chosen = choose(mode, calm, team, None)
        assert chosen is not None and chosen.agent_id == "ann", intensity


def test_the_agent_who_handed_it_back_still_gets_it_first() -> None:
    """The customer gets the same person, who knows the case, however loaded."""
    team = [carrying("ann", 0.0), carrying("bob", 2.0)]
    returning = replace(entry(preferred="bob"), emotional_intensity=FURIOUS)
    chosen = choose(ROUND_ROBIN, returning, team, None)
    assert chosen is not None and chosen.agent_id == "bob"


def test_two_free_agents_alternate_on_a_run_of_furious_customers() -> None:
    """Balanced, Ann closing each conversation at once and Bob holding a long calm one:
    by capacity alone Ann is always the least loaded and gets the whole run; weighed by
    what each carried, they alternate."""
    team = [taker("ann", capacity=6), taker("bob", load=1, capacity=6)]
    assert given_one_by_one(BALANCED, CALM, team) == ["ann"] * 4
    assert given_one_by_one(BALANCED, FURIOUS, team) == ["ann", "bob", "ann", "bob"]


def test_calm_customers_between_furious_ones_no_longer_line_the_furious_up_for_one_agent() -> None:
    """Round-robin over furious, calm, furious, calm...: by turn alone Ann gets every
    furious one. Weighed, each goes to whoever carried less (in turn among equals), and
    each one given adds to its agent's load within the pass."""
    team = [taker("ann", capacity=6), taker("bob", capacity=6)]

    def furious_ones_go_to(intensity: float) -> list[str]:
        queue = [
            replace(entry(f"t{i}"), emotional_intensity=intensity if i % 2 == 0 else 0.0)
            for i in range(6)
        ]
        plan = dict(assignments(ROUND_ROBIN, queue, team, None))
        return [plan[f"t{i}"] for i in (0, 2, 4)]

    assert furious_ones_go_to(HARD_INTENSITY - 0.001) == ["ann", "ann", "ann"]  # not hard
    # t0 Ann; t2 Bob, who carried nothing; t4 when both carried as much: Bob, in turn
    # after Ann's calm t3.
    assert furious_ones_go_to(FURIOUS) == ["ann", "bob", "bob"]


def given_one_by_one(mode: AssignmentMode, intensity: float, team: list[Taker]) -> list[str]:
    """Four tickets of ``intensity`` given one at a time, each closed before the next (the
    holder's conversations stay as they were; what they carried grows)."""
    chosen_ids: list[str] = []
    last = None
    for number in range(4):
        ticket = replace(entry(f"t{number}"), emotional_intensity=intensity)
        chosen = choose(mode, ticket, team, last)
        assert chosen is not None
        carried = chosen.emotional_load + weight_of(intensity)
        team = [replace(t, emotional_load=carried) if t is chosen else t for t in team]
        chosen_ids.append(last := chosen.agent_id)
    return chosen_ids
