"""Who may see which ticket, and in which order the queue shows them.

Pure functions over plain values, so the rules are read and tested in one place:

- A ticket belongs to a team; an admin sees every team, everyone else only their own.
- Within the team, supervisors see every ticket; an agent sees the ones they hold and
  waiting ones they can take: written in a language they have (``language`` and any
  ``language:xx`` skill; an undetermined language needs none) and needing no ``topic:``
  skill they lack (sensitive topics need trained people). ``intent:`` skills only raise
  the ticket in their queue.
- A waiting customer's place in line is their ticket's rank in the team's queue as a
  supervisor sees it (everyone's tickets, no personal bonuses).
- Urgency = the bot's priority, plus waiting time (up to +0.3 after 15 minutes), plus
  repeat contacts (+0.15 each, up to two), plus +0.5 for the agent who handed it back
  (the customer gets the same person), plus +0.05 per matching intent skill.
- In a team that assigns (``teams.AssignmentMode``), the desk gives a waiting ticket
  only to an agent (supervisors oversee) who is online, holds fewer conversations than
  their capacity and can take it; the agent who handed it back first, else round-robin
  (the next in turn after the team's last one given, by name) or balanced (the least
  load for their capacity, the next in turn among equals). Tickets go in the team's
  queue order, each one given adding to its agent's load. A hard conversation (an upset
  customer, ``load.py``) goes to the free agent who carried the least of them lately,
  the mode's order among equals, so no one gets every furious customer in a row.
- A waiting ticket that nobody in its team could be given moves to the team's fallback
  once it has waited there the team's time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from services.agent_desk.load import is_hard, weight_of
from services.agent_desk.models import Agent, Availability, Role, TicketStatus
from services.agent_desk.teams import AssignmentMode, Overflow
from shared.languages import determined

WAIT_FULL_SECONDS = 15 * 60
WAIT_WEIGHT = 0.3
REPEAT_WEIGHT = 0.15
PREFERRED_AGENT_BONUS = 0.5
INTENT_MATCH_BONUS = 0.05


@dataclass(frozen=True)
class Viewer:
    """The signed-in account, as the rules need it."""

    agent_id: str
    role: Role
    team: str
    languages: frozenset[str]
    skills: frozenset[str]


def viewer_of(agent: Agent) -> Viewer:
    return Viewer(
        agent_id=agent.id,
        role=Role(agent.role),
        team=agent.team,
        languages=frozenset(agent.languages),
        skills=frozenset(agent.skills),
    )


@dataclass(frozen=True)
class QueueEntry:
    ticket_id: str
    team: str
    status: TicketStatus
    assignee_id: str | None
    priority: float
    language: str
    required_skills: tuple[str, ...]
    repeat_contacts: int
    handed_off_at: datetime
    preferred_agent_id: str = ""
    emotional_intensity: float | None = None  # the customer's, ``load.py``


def _needed_languages(entry: QueueEntry) -> set[str]:
    """The languages an agent must write; an undetermined one ("👍") asks for none, so
    such a ticket is never hidden from the agents who could take it."""
    languages = {
        s.removeprefix("language:") for s in entry.required_skills if s.startswith("language:")
    }
    languages.add(entry.language)
    return {code for code in languages if determined(code)}


def can_take(viewer: Viewer, entry: QueueEntry) -> bool:
    """Whether the viewer's languages and skills fit the ticket."""
    if viewer.role.at_least(Role.SUPERVISOR):
        return True
    if not _needed_languages(entry) <= viewer.languages:
        return False
    topics = {s for s in entry.required_skills if s.startswith("topic:")}
    return topics <= viewer.skills


def can_see(viewer: Viewer, entry: QueueEntry) -> bool:
    if viewer.role is Role.ADMIN:
        return True
    if entry.team != viewer.team:
        return False
    if viewer.role is Role.SUPERVISOR or entry.assignee_id == viewer.agent_id:
        return True
    return entry.status == TicketStatus.WAITING and can_take(viewer, entry)


def urgency(viewer: Viewer, entry: QueueEntry, now: datetime) -> float:
    waited = max((now - entry.handed_off_at).total_seconds(), 0.0)
    score = entry.priority + WAIT_WEIGHT * min(waited / WAIT_FULL_SECONDS, 1.0)
    score += REPEAT_WEIGHT * min(entry.repeat_contacts, 2)
    if entry.preferred_agent_id and entry.preferred_agent_id == viewer.agent_id:
        score += PREFERRED_AGENT_BONUS
    intents = {s for s in entry.required_skills if s.startswith("intent:")}
    return score + INTENT_MATCH_BONUS * len(intents & viewer.skills)


def queue_for(viewer: Viewer, entries: Iterable[QueueEntry], now: datetime) -> list[QueueEntry]:
    """Waiting tickets the viewer may take, most urgent first (oldest first on a tie)."""
    waiting = [e for e in entries if e.status == TicketStatus.WAITING and can_see(viewer, e)]
    return sorted(waiting, key=lambda e: (-urgency(viewer, e, now), e.handed_off_at))


def team_queue(team: str, entries: Iterable[QueueEntry], now: datetime) -> list[QueueEntry]:
    """The team's waiting tickets as a supervisor sees them (everyone's, no personal
    bonuses): the order of places in line and of automatic assignment."""
    anyone = Viewer(
        agent_id="", role=Role.SUPERVISOR, team=team, languages=frozenset(), skills=frozenset()
    )
    return queue_for(anyone, entries, now)


def position_in_line(
    ticket_id: str, team: str, entries: Iterable[QueueEntry], now: datetime
) -> int | None:
    """The ticket's place (1 = next) in its team's queue, or None once it is not waiting."""
    ordered = [e.ticket_id for e in team_queue(team, entries, now)]
    return ordered.index(ticket_id) + 1 if ticket_id in ordered else None


# Automatic assignment and overflow


@dataclass(frozen=True)
class Taker:
    """An account as automatic assignment sees it: who, whether online, how loaded."""

    viewer: Viewer
    availability: Availability
    capacity: int
    load: int  # the conversations they hold now
    emotional_load: float = 0.0  # what they carried lately (``load.RecentLoad.weight``)

    @property
    def agent_id(self) -> str:
        return self.viewer.agent_id


def taker_of(agent: Agent, load: int, emotional_load: float) -> Taker:
    return Taker(
        viewer_of(agent), Availability(agent.availability), agent.capacity, load, emotional_load
    )


def free_for(taker: Taker, entry: QueueEntry) -> bool:
    """Whether the desk may give this ticket to ``taker`` now."""
    return (
        taker.viewer.role is Role.AGENT
        and taker.availability is Availability.ONLINE
        and taker.load < taker.capacity
        and can_take(taker.viewer, entry)
    )


def in_turn(takers: Sequence[Taker], last: str | None) -> list[Taker]:
    """``takers`` (in the team's fixed order) starting after ``last``, the one given the
    team's latest ticket; from the first when there was none or they left the team."""
    ids = [t.agent_id for t in takers]
    start = ids.index(last) + 1 if last in ids else 0
    return [*takers[start:], *takers[:start]]


def choose(
    mode: AssignmentMode, entry: QueueEntry, takers: Sequence[Taker], last: str | None
) -> Taker | None:
    """Who is given ``entry``, or None (manual mode, or nobody free for it)."""
    free = [t for t in in_turn(takers, last) if free_for(t, entry)]
    if mode is AssignmentMode.MANUAL or not free:
        return None
    preferred = [t for t in free if t.agent_id == entry.preferred_agent_id]
    if preferred:
        return preferred[0]
    if mode is AssignmentMode.BALANCED:
        free.sort(key=lambda t: t.load / t.capacity)  # stable: in turn among equals
    if is_hard(entry.emotional_intensity):
        return min(free, key=lambda t: t.emotional_load)  # the mode's order among equals
    return free[0]


def assignments(
    mode: AssignmentMode,
    waiting: Sequence[QueueEntry],
    takers: Sequence[Taker],
    last: str | None,
) -> list[tuple[str, str]]:
    """(ticket id, agent id) for each waiting ticket someone is given, in queue order;
    each one given adds to its agent's load and moves the turn on."""
    plan: list[tuple[str, str]] = []
    current = list(takers)
    for entry in waiting:
        chosen = choose(mode, entry, current, last)
        if chosen is None:
            continue
        plan.append((entry.ticket_id, chosen.agent_id))
        carried = chosen.emotional_load + weight_of(entry.emotional_intensity)
        current = [
            replace(t, load=t.load + 1, emotional_load=carried) if t is chosen else t
            for t in current
        ]
        last = chosen.agent_id
    return plan


def overflow_due(
    entry: QueueEntry,
    since: datetime,
    overflow: Overflow | None,
    takers: Sequence[Taker],
    now: datetime,
) -> bool:
    """Whether a ticket that joined its team at ``since`` moves to the team's fallback
    now: still waiting, there long enough, and nobody in the team could be given it."""
    return (
        overflow is not None
        and entry.status == TicketStatus.WAITING
        and now - since >= overflow.after
        and not any(free_for(t, entry) for t in takers)
    )
