"""The desk's database access: accounts (and their audit trail), sessions, tickets (and
their history), ratings, the conversations the desk saw start and customers' tiers.

Ticket changes are conditional updates (``WHERE status IN ... AND assignee = ...``), so
two agents clicking "claim" at once cannot both win, and the events announcing a change
are written to the outbox in the same transaction (``outbox.py``): they are published
once it commits, and never for a change that was not kept. Each change is keyed by the
id of the event announcing it, so doing the same action twice changes nothing more; the
ticket's history entry (``TicketEvent``) is written in the same transaction too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from rapport.events.v1 import feedback_pb2, handoff_pb2
from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from services.agent_desk.accounts import AccountRefused, Profile
from services.agent_desk.load import Taken, ticket_intensity
from services.agent_desk.models import (
    DEFAULT_CAPACITY,
    OPEN_STATUSES,
    Agent,
    AuditAction,
    AuditEntry,
    Availability,
    ConversationSeen,
    CustomerTier,
    DeskSession,
    HandoffEvent,
    OutgoingMessage,
    Rating,
    Role,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from services.agent_desk.outbox import StagedEvents, is_staged
from services.agent_desk.routing import QueueEntry, can_see, viewer_of
from shared.errors import NotFoundError, RefusedError
from shared.kafka.producer import Publisher

REPEAT_WINDOW = timedelta(days=30)

Announce = Callable[[Ticket, Publisher], Awaitable[None]]
"""Writes the events announcing a ticket's change, through the transaction's outbox."""

ACTIVE_ADMIN = (Agent.role == Role.ADMIN.value, Agent.active.is_(True))


class HandoffOutcome(StrEnum):
    QUEUED = "queued"
    REFRESHED = "refreshed"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class AccountChange:
    """An account after a change, and the tickets it held that went back to the queue."""

    agent: Agent
    requeued: list[Ticket]


@dataclass(frozen=True)
class Transition:
    """A ticket after an action; ``applied`` is False when the action had been done
    already (its event is in the outbox) and nothing changed this time."""

    ticket: Ticket
    applied: bool


@dataclass(frozen=True)
class Note:
    """A ticket's history entry, written with the change it records (the ticket's team
    after the change and the moment are added then)."""

    kind: TicketEventKind
    actor_id: str | None = None  # None: the desk itself
    agent_id: str | None = None
    from_team: str | None = None
    detail: str = ""

    def entry(self, ticket: Ticket, now: datetime) -> TicketEvent:
        return TicketEvent(
            ticket_id=ticket.id,
            at=now,
            kind=self.kind.value,
            actor_id=self.actor_id,
            agent_id=self.agent_id,
            team=ticket.team,
            from_team=self.from_team,
            detail=self.detail[:200],
        )


@dataclass(frozen=True)
class SignedIn:
    agent: Agent
    csrf_token: str
    token_hash: str


class KpiTicket(NamedTuple):
    """A ticket's columns the dashboard counts (``kpis.TicketFacts``)."""

    conversation_id: str
    channel: int
    status: str
    repeat_contacts: int
    reason_codes: list[str]
    handed_off_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    sentiment_first: float | None
    sentiment_last: float | None


class KpiSeen(NamedTuple):
    """A conversation the desk saw start, as the dashboard counts it (``kpis.SeenFacts``)."""

    conversation_id: str
    channel: int
    started_at: datetime


def packet_of(ticket: Ticket) -> handoff_pb2.HandoffRequested:
    return handoff_pb2.HandoffRequested.FromString(ticket.packet)


def entry_of(ticket: Ticket) -> QueueEntry:
    return QueueEntry(
        ticket_id=ticket.id,
        team=ticket.team,
        status=TicketStatus(ticket.status),
        assignee_id=ticket.assignee_id,
        priority=ticket.priority,
        language=ticket.language,
        required_skills=tuple(ticket.required_skills),
        repeat_contacts=ticket.repeat_contacts,
        handed_off_at=ticket.handed_off_at,
        preferred_agent_id=packet_of(ticket).preferred_agent_id,
        emotional_intensity=ticket.emotional_intensity,
    )


class DeskStore:
    def __init__(self, engine: AsyncEngine, outbox_ready: asyncio.Event | None = None) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # Set after every commit that wrote to the outbox: the relay's cue.
        self._outbox_ready = outbox_ready or asyncio.Event()

    # Accounts

    async def create_agent(
        self,
        *,
        email: str,
        name: str,
        password_hash: str,
        role: Role,
        team: str,
        languages: Collection[str],
        skills: Collection[str],
        now: datetime,
        actor_id: str | None = None,
        capacity: int | None = None,
    ) -> Agent:
        """A new active account, offline until it says otherwise, with the default
        capacity unless given; ``actor_id`` is the admin creating it (None: the CLI)."""
        agent = Agent(
            id=str(uuid.uuid4()),
            email=email.strip().lower(),
            name=name.strip(),
            password_hash=password_hash,
            role=role.value,
            team=team,
            languages=sorted(set(languages)),
            skills=sorted(set(skills)),
            active=True,
            created_at=now,
            capacity=DEFAULT_CAPACITY if capacity is None else capacity,
            availability=Availability.OFFLINE.value,
        )
        shown = ("email", "name", "role", "team", "languages", "skills", "capacity")
        try:
            async with self._sessions() as session, session.begin():
                session.add(agent)
                await session.flush()  # the account before the audit entry naming it
                session.add(
                    _audit(
                        agent.id,
                        actor_id,
                        AuditAction.CREATED,
                        {field: [None, getattr(agent, field)] for field in shown},
                        now,
                    )
                )
        except IntegrityError as exc:
            raise AccountRefused(f"an account for {agent.email} already exists") from exc
        return agent

    async def update_agent(
        self,
        agent_id: str,
        *,
        actor_id: str | None,
        now: datetime,
        profile: Profile | None = None,
        active: bool | None = None,
    ) -> AccountChange:
        """Apply a profile and/or an active state, always leaving an active admin.

        One transaction holds the account, its audit entry (nothing when nothing
        changed), its sessions (ended on deactivation) and the claimed tickets it can no
        longer work (back to waiting, so no customer is stranded with a closed account).
        """
        wanted: dict[str, Any] = {}
        if profile is not None:
            wanted.update(
                name=profile.name,
                role=profile.role.value,
                team=profile.team,
                languages=list(profile.languages),
                skills=list(profile.skills),
            )
            if profile.capacity is not None:
                wanted["capacity"] = profile.capacity
        if active is not None:
            wanted["active"] = active
        async with self._sessions() as session, session.begin():
            # A no-op write on the active admins first: SQLite takes its write lock,
            # PostgreSQL those rows' locks, so two admins demoting each other at once
            # are serialised and the second one counts what the first left.
            await session.execute(
                update(Agent)
                .where(*ACTIVE_ADMIN)
                .values(role=Agent.role)
                .execution_options(synchronize_session=False)
            )
            agent = await session.get(Agent, agent_id, populate_existing=True)
            if agent is None:
                raise NotFoundError(f"no account {agent_id}")
            changes = {
                field: [getattr(agent, field), value]
                for field, value in wanted.items()
                if getattr(agent, field) != value
            }
            if not changes:
                return AccountChange(agent, [])
            was_admin = _active_admin(agent)
            for field, (_before, value) in changes.items():
                setattr(agent, field, value)
            await session.flush()
            if (
                was_admin
                and not _active_admin(agent)
                and not await session.scalar(select(func.count()).where(*ACTIVE_ADMIN))
            ):
                raise AccountRefused(
                    f"{agent.email} is the last active admin: make another account an "
                    "admin first, so someone can still manage accounts"
                )
            if not agent.active:
                await _end_sessions(session, agent.id)
            requeued = await _requeue_lost_tickets(session, agent, actor_id, now)
            action = AuditAction.EDITED
            if "active" in changes:
                action = AuditAction.REACTIVATED if agent.active else AuditAction.DEACTIVATED
            session.add(_audit(agent.id, actor_id, action, changes, now))
        return AccountChange(agent, requeued)

    async def set_password(
        self, agent_id: str, password_hash: str, *, actor_id: str | None, now: datetime
    ) -> Agent:
        """Replace the account's password hash and end its sessions (whoever held the old
        password is signed out); audited without the hash."""
        async with self._sessions() as session, session.begin():
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise NotFoundError(f"no account {agent_id}")
            agent.password_hash = password_hash
            await _end_sessions(session, agent.id)
            session.add(_audit(agent.id, actor_id, AuditAction.PASSWORD_RESET, {}, now))
        return agent

    async def record_unlock(self, agent_id: str, *, actor_id: str, now: datetime) -> Agent:
        """Audit an admin's unlock of the account's sign-ins (the counters are in memory)."""
        async with self._sessions() as session, session.begin():
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise NotFoundError(f"no account {agent_id}")
            session.add(_audit(agent.id, actor_id, AuditAction.UNLOCKED, {}, now))
        return agent

    async def audit_trail(self, agent_id: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The latest changes to accounts (to one account when given), newest first."""
        query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        if agent_id is not None:
            query = query.where(AuditEntry.agent_id == agent_id)
        async with self._sessions() as session:
            return list(await session.scalars(query.limit(limit)))

    async def agent_by_email(self, email: str) -> Agent | None:
        async with self._sessions() as session:
            found: Agent | None = await session.scalar(
                select(Agent).where(Agent.email == email.strip().lower())
            )
            return found

    async def agent(self, agent_id: str) -> Agent | None:
        async with self._sessions() as session:
            return await session.get(Agent, agent_id)

    async def agents(self, team: str | None = None) -> list[Agent]:
        """Accounts (of one team), by team, then name: the order round-robin takes turns."""
        query = select(Agent).order_by(Agent.team, Agent.name, Agent.id)
        if team is not None:
            query = query.where(Agent.team == team)
        async with self._sessions() as session:
            return list(await session.scalars(query))

    # Sessions

    async def open_session(
        self, agent_id: str, token_hash: str, csrf: str, expires: datetime, now: datetime
    ) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                DeskSession(
                    token_hash=token_hash,
                    agent_id=agent_id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                )
            )

    async def signed_in(self, token_hash: str, now: datetime) -> SignedIn | None:
        """The active account behind a session, or None when unknown or expired."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(DeskSession, Agent)
                    .join(Agent, Agent.id == DeskSession.agent_id)
                    .where(DeskSession.token_hash == token_hash)
                )
            ).one_or_none()
        if row is None:
            return None
        desk_session, agent = row
        if desk_session.expires_at <= now or not agent.active:
            return None
        return SignedIn(agent, desk_session.csrf_token, token_hash)

    async def close_session(self, token_hash: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(DeskSession).where(DeskSession.token_hash == token_hash))

    # Tickets

    async def record_handoff(
        self, packet: handoff_pb2.HandoffRequested, team: str, now: datetime, why: str = ""
    ) -> tuple[Ticket, HandoffOutcome]:
        """Queue a handoff in ``team`` (routed there for ``why``); a repeat of a seen event
        changes nothing, and a new handoff for a conversation already open refreshes its
        ticket instead of adding one (it stays in its team)."""
        envelope = packet.envelope
        async with self._sessions() as session, session.begin():
            seen = await session.get(HandoffEvent, envelope.event_id)
            if seen is not None:
                ticket = await session.get(Ticket, seen.ticket_id)
                assert ticket is not None  # a foreign key guarantees it
                return ticket, HandoffOutcome.DUPLICATE
            ticket = await session.scalar(
                select(Ticket)
                .where(
                    Ticket.conversation_id == envelope.conversation_id,
                    Ticket.status.in_(OPEN_STATUSES),
                )
                .order_by(Ticket.handed_off_at.desc())
                .limit(1)
            )
            fields: dict[str, Any] = {
                "priority": packet.priority,
                "language": packet.language,
                "required_skills": list(packet.required_skills),
                "packet": packet.SerializeToString(),
                "updated_at": now,
                "emotional_intensity": ticket_intensity(packet.trajectory),
            }
            if ticket is not None:
                for name, value in fields.items():
                    setattr(ticket, name, value)
                outcome = HandoffOutcome.REFRESHED
            else:
                customer_id = envelope.customer.customer_id
                handed_off_at = (
                    envelope.occurred_at.ToDatetime(tzinfo=UTC)
                    if envelope.HasField("occurred_at")
                    else now
                )
                repeats = await session.scalar(
                    select(func.count())
                    .select_from(Ticket)
                    .where(
                        Ticket.customer_id == customer_id,
                        Ticket.handed_off_at >= handed_off_at - REPEAT_WINDOW,
                    )
                )
                ticket = Ticket(
                    id=envelope.event_id,
                    conversation_id=envelope.conversation_id,
                    customer_id=customer_id,
                    customer_name=_display_name(packet),
                    channel=envelope.channel,
                    team=team,
                    repeat_contacts=int(repeats or 0),
                    reason_codes=[reason.code for reason in packet.reasons],
                    status=TicketStatus.WAITING.value,
                    assignee_id=None,
                    handed_off_at=handed_off_at,
                    team_since=handed_off_at,
                    **fields,
                )
                session.add(ticket)
                outcome = HandoffOutcome.QUEUED
            await session.flush()
            if outcome is HandoffOutcome.QUEUED:
                session.add(Note(TicketEventKind.QUEUED, detail=why).entry(ticket, now))
            session.add(
                HandoffEvent(event_id=envelope.event_id, ticket_id=ticket.id, received_at=now)
            )
        return ticket, outcome

    async def ticket(self, ticket_id: str) -> Ticket:
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        return ticket

    async def open_tickets(self, team: str | None) -> list[Ticket]:
        """Waiting and claimed tickets of a team (of every team for ``None``)."""
        query = select(Ticket).where(Ticket.status.in_(OPEN_STATUSES))
        if team is not None:
            query = query.where(Ticket.team == team)
        async with self._sessions() as session:
            return list(await session.scalars(query.order_by(Ticket.handed_off_at)))

    async def transition(
        self,
        ticket_id: str,
        *,
        event_id: str,
        allowed: Collection[TicketStatus],
        holder: str | None,
        changes: dict[str, Any],
        now: datetime,
        announce: Announce | None = None,
        where: Sequence[ColumnElement[bool]] = (),
        sending: Sequence[OutgoingMessage] = (),
        note: Note | None = None,
    ) -> Transition:
        """Apply ``changes`` if the ticket is in an ``allowed`` status (and held by
        ``holder`` when given, and ``where`` holds), and ``announce`` it (when there is
        something to tell) in the same transaction, with the messages the action is
        ``sending`` and its ``note`` in the ticket's history, unless the event
        ``event_id`` announcing it is in the outbox already: then the action was done
        before and nothing changes."""
        try:
            async with self._sessions() as session, session.begin():
                if await is_staged(session, event_id):
                    return Transition(await _ticket(session, ticket_id), applied=False)
                ticket = await _change(session, ticket_id, allowed, holder, changes, now, where)
                session.add_all(sending)
                if note is not None:
                    session.add(note.entry(ticket, now))
                if announce is not None:
                    await announce(ticket, StagedEvents(session, now))
        except (RefusedError, IntegrityError) as exc:
            # The same action, done concurrently, won the update or the outbox row.
            async with self._sessions() as session:
                if await is_staged(session, event_id):
                    return Transition(await _ticket(session, ticket_id), applied=False)
            if isinstance(exc, IntegrityError):  # e.g. a message sent again already
                raise RefusedError(f"ticket {ticket_id} changed meanwhile") from exc
            raise
        self._outbox_ready.set()
        return Transition(ticket, applied=True)

    async def add_tags(self, ticket_id: str, tags: Sequence[str], now: datetime) -> Ticket:
        """The ticket with ``tags`` added to its own (each once, in the order first put)."""
        async with self._sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None:
                raise NotFoundError(f"no ticket {ticket_id}")
            merged = list(dict.fromkeys([*ticket.tags, *tags]))
            if merged != ticket.tags:
                ticket.tags = merged
                ticket.updated_at = now
            return ticket

    async def open_ticket_of(self, conversation_id: str) -> Ticket | None:
        """The conversation's waiting or claimed ticket, if it has one."""
        async with self._sessions() as session:
            found: Ticket | None = await session.scalar(
                select(Ticket)
                .where(
                    Ticket.conversation_id == conversation_id,
                    Ticket.status.in_(OPEN_STATUSES),
                )
                .order_by(Ticket.handed_off_at.desc())
                .limit(1)
            )
            return found

    async def recent_waits(self, team: str, since: datetime) -> list[timedelta]:
        """Handoff to first claim of the team's tickets first claimed since ``since``."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Ticket.handed_off_at, Ticket.claimed_at).where(
                    Ticket.team == team, Ticket.claimed_at >= since
                )
            )
            return [claimed - handed for handed, claimed in rows if claimed is not None]

    async def owe_notice(self, ticket_id: str, event_id: str, now: datetime) -> None:
        """Remember a waiting customer's message that a notice still has to answer."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == TicketStatus.WAITING.value)
                .values(unanswered_event_id=event_id, updated_at=now)
            )

    async def settle_notice(self, ticket_id: str, event_id: str) -> None:
        """Forget a held-back message that turned out to be answered already (a
        redelivery of one the desk had answered)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.unanswered_event_id == event_id)
                .values(unanswered_event_id=None)
            )

    async def owed_notices(self, told_before: datetime) -> list[Ticket]:
        """Waiting tickets with a message unanswered, last told before ``told_before``."""
        return await self._waiting(
            Ticket.unanswered_event_id.is_not(None), Ticket.holding_sent_at <= told_before
        )

    async def overdue(self, handed_off_before: datetime) -> list[Ticket]:
        """Waiting tickets handed off before ``handed_off_before`` and not marked yet."""
        return await self._waiting(
            Ticket.overdue_at.is_(None), Ticket.handed_off_at <= handed_off_before
        )

    async def _waiting(self, *where: ColumnElement[bool]) -> list[Ticket]:
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(Ticket)
                    .where(Ticket.status == TicketStatus.WAITING.value, *where)
                    .order_by(Ticket.handed_off_at)
                )
            )

    async def waiting_by_channel(self) -> dict[int, int]:
        """How many tickets wait, per channel number (for the queue-length gauge)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Ticket.channel, func.count())
                .where(Ticket.status == TicketStatus.WAITING.value)
                .group_by(Ticket.channel)
            )
            return {int(channel): int(count) for channel, count in rows}

    # Routing: who is free, where a team's turn is, tickets' history, customers' tiers

    async def set_availability(
        self, agent_id: str, availability: Availability, now: datetime
    ) -> Agent:
        """Whether the account takes new conversations now (it says so itself)."""
        async with self._sessions() as session, session.begin():
            agent = await session.get(Agent, agent_id)
            if agent is None:
                raise NotFoundError(f"no account {agent_id}")
            if agent.availability != availability.value:
                agent.availability = availability.value
                agent.availability_since = now
        return agent

    async def loads(self) -> dict[str, int]:
        """How many conversations each account holds now (accounts holding none are
        left out)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Ticket.assignee_id, func.count())
                .where(Ticket.status == TicketStatus.CLAIMED.value, Ticket.assignee_id.is_not(None))
                .group_by(Ticket.assignee_id)
            )
            return {str(agent_id): int(count) for agent_id, count in rows}

    async def taken_since(
        self, agent_ids: Collection[str], since: datetime
    ) -> dict[str, list[Taken]]:
        """The conversations each of ``agent_ids`` was given (claimed, assigned, handed on)
        since ``since``, each once, at the latest time, with its customer's intensity: what
        they carried lately (``load.py``)."""
        given = [
            kind.value
            for kind in (
                TicketEventKind.CLAIMED,
                TicketEventKind.ASSIGNED,
                TicketEventKind.TRANSFERRED,
            )
        ]
        async with self._sessions() as session:
            rows = await session.execute(
                select(TicketEvent.agent_id, func.max(TicketEvent.at), Ticket.emotional_intensity)
                .join(Ticket, Ticket.id == TicketEvent.ticket_id)
                .where(
                    TicketEvent.agent_id.in_(agent_ids),
                    TicketEvent.kind.in_(given),
                    TicketEvent.at >= since,
                )
                .group_by(TicketEvent.agent_id, TicketEvent.ticket_id, Ticket.emotional_intensity)
            )
            taken: dict[str, list[Taken]] = {}
            for agent_id, at, intensity in rows:
                taken.setdefault(str(agent_id), []).append(Taken(at, intensity))
            return taken

    async def last_assigned(self, team: str) -> str | None:
        """The agent the desk gave the team's latest ticket to (round-robin goes on after
        them), from the tickets' history."""
        async with self._sessions() as session:
            found: str | None = await session.scalar(
                select(TicketEvent.agent_id)
                .where(
                    TicketEvent.team == team,
                    TicketEvent.kind == TicketEventKind.ASSIGNED.value,
                    TicketEvent.actor_id.is_(None),
                )
                .order_by(TicketEvent.id.desc())
                .limit(1)
            )
            return found

    async def history(self, ticket_id: str) -> list[TicketEvent]:
        """The ticket's changes, oldest first."""
        async with self._sessions() as session:
            return list(
                await session.scalars(
                    select(TicketEvent)
                    .where(TicketEvent.ticket_id == ticket_id)
                    .order_by(TicketEvent.id)
                )
            )

    async def tier_of(self, customer_id: str) -> str:
        """The customer's service tier, "" when they have none."""
        async with self._sessions() as session:
            found = await session.get(CustomerTier, customer_id)
            return found.tier if found is not None else ""

    async def set_tier(self, customer_id: str, tier: str, now: datetime) -> None:
        """Give the customer a tier for routing, or none (``""``); their open ticket keeps
        its team, the next handoff is routed with it."""
        async with self._sessions() as session, session.begin():
            found = await session.get(CustomerTier, customer_id)
            if not tier:
                if found is not None:
                    await session.delete(found)
            elif found is None:
                session.add(CustomerTier(customer_id=customer_id, tier=tier, updated_at=now))
            else:
                found.tier, found.updated_at = tier, now

    # Ratings and conversations (the KPIs)

    async def record_rating(self, event: feedback_pb2.SatisfactionRated, now: datetime) -> bool:
        """Store a rating against the conversation's latest resolved ticket; False when
        this event id was recorded already."""
        envelope = event.envelope
        rated_at = (
            envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else now
        )
        try:
            async with self._sessions() as session, session.begin():
                if await session.get(Rating, envelope.event_id) is not None:
                    return False
                ticket_id = await session.scalar(
                    select(Ticket.id)
                    .where(
                        Ticket.conversation_id == envelope.conversation_id,
                        Ticket.status == TicketStatus.RESOLVED.value,
                    )
                    .order_by(Ticket.resolved_at.desc())
                    .limit(1)
                )
                session.add(
                    Rating(
                        event_id=envelope.event_id,
                        ticket_id=ticket_id,
                        conversation_id=envelope.conversation_id,
                        agent_id=event.agent_id,
                        channel=envelope.channel,
                        score=event.score,
                        comment=event.comment,
                        rated_at=rated_at,
                        scale=event.scale or feedback_pb2.RATING_SCALE_CSAT_5,
                    )
                )
        except IntegrityError:  # the same event recorded concurrently
            return False
        return True

    async def saw_conversation(self, conversation_id: str, channel: int, at: datetime) -> bool:
        """Remember that a customer wrote in this conversation; True the first time."""
        try:
            async with self._sessions() as session, session.begin():
                if await session.get(ConversationSeen, conversation_id) is not None:
                    return False
                session.add(
                    ConversationSeen(
                        conversation_id=conversation_id, channel=channel, started_at=at
                    )
                )
        except IntegrityError:  # seen concurrently
            return False
        return True

    async def kpi_records(
        self, since: datetime
    ) -> tuple[list[KpiTicket], list[Rating], list[KpiSeen]]:
        """Tickets handed off, ratings given and conversations started since ``since``;
        the tickets and conversations as the columns the figures read, not as objects
        (a year of them loaded as objects took seconds: ``bench/dashboard.py``)."""
        async with self._sessions() as session:
            tickets = await session.execute(
                select(*(getattr(Ticket, name) for name in KpiTicket._fields))
                .where(Ticket.handed_off_at >= since)
                .order_by(Ticket.handed_off_at)
            )
            ratings = await session.scalars(select(Rating).where(Rating.rated_at >= since))
            seen = await session.execute(
                select(*(getattr(ConversationSeen, name) for name in KpiSeen._fields)).where(
                    ConversationSeen.started_at >= since
                )
            )
            return (
                [KpiTicket(*row) for row in tickets],
                list(ratings),
                [KpiSeen(*row) for row in seen],
            )


async def _ticket(session: AsyncSession, ticket_id: str) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise NotFoundError(f"no ticket {ticket_id}")
    return ticket


async def _change(
    session: AsyncSession,
    ticket_id: str,
    allowed: Collection[TicketStatus],
    holder: str | None,
    changes: dict[str, Any],
    now: datetime,
    where: Sequence[ColumnElement[bool]],
) -> Ticket:
    """The conditional update of a ticket; :class:`RefusedError` when its state forbids it."""
    condition = [Ticket.id == ticket_id, Ticket.status.in_([s.value for s in allowed]), *where]
    if holder is not None:
        condition.append(Ticket.assignee_id == holder)
    result = await session.execute(
        update(Ticket)
        .where(*condition)
        .values(**changes, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise RefusedError(f"ticket {ticket_id} is not in a state that allows this")
    return await _ticket(session, ticket_id)


def _active_admin(agent: Agent) -> bool:
    return agent.active and agent.role == Role.ADMIN.value


def _audit(
    agent_id: str,
    actor_id: str | None,
    action: AuditAction,
    changes: dict[str, Any],
    now: datetime,
) -> AuditEntry:
    return AuditEntry(
        at=now, actor_id=actor_id, agent_id=agent_id, action=action.value, changes=changes
    )


async def _end_sessions(session: AsyncSession, agent_id: str) -> None:
    """Sign the account out everywhere: its next request has no session."""
    await session.execute(delete(DeskSession).where(DeskSession.agent_id == agent_id))


async def _requeue_lost_tickets(
    session: AsyncSession, agent: Agent, actor_id: str | None, now: datetime
) -> list[Ticket]:
    """Put back in the queue the claimed tickets ``agent`` no longer may work: all of
    them once deactivated, another team's after a move (noted in their history)."""
    viewer = viewer_of(agent)
    held = await session.scalars(
        select(Ticket).where(
            Ticket.assignee_id == agent.id, Ticket.status == TicketStatus.CLAIMED.value
        )
    )
    lost = [t.id for t in held if not agent.active or not can_see(viewer, entry_of(t))]
    if not lost:
        return []
    await session.execute(
        update(Ticket)
        .where(
            Ticket.id.in_(lost),
            Ticket.assignee_id == agent.id,  # unless resolved or handed on meanwhile
            Ticket.status == TicketStatus.CLAIMED.value,
        )
        .values(status=TicketStatus.WAITING.value, assignee_id=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    requeued = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.id.in_(lost), Ticket.status == TicketStatus.WAITING.value)
            .execution_options(populate_existing=True)
        )
    )
    why = "deactivated" if not agent.active else f"moved to team {agent.team}"
    note = Note(TicketEventKind.REQUEUED, actor_id, agent.id, detail=f"{agent.name} was {why}")
    session.add_all(note.entry(ticket, now) for ticket in requeued)
    return requeued


def free_agent(agent_id: str) -> ColumnElement[bool]:
    """The account is active, online and holds fewer conversations than its capacity, as
    the database has it when a change is written (a condition of automatic assignment)."""
    held = aliased(Ticket)
    load = (
        select(func.count())
        .select_from(held)
        .where(held.assignee_id == agent_id, held.status == TicketStatus.CLAIMED.value)
        .scalar_subquery()
    )
    return exists().where(
        Agent.id == agent_id,
        Agent.active.is_(True),
        Agent.availability == Availability.ONLINE.value,
        Agent.capacity > load,
    )


def first_time(column: Any, now: datetime) -> Any:
    """Keep the first moment something happened: ``COALESCE(column, now)``."""
    return func.coalesce(column, now)


def _display_name(packet: handoff_pb2.HandoffRequested) -> str:
    names = [packet.envelope.customer.display_name, *(i.display_name for i in packet.identities)]
    return next((n for n in names if n), "")
