"""What the desk does: take handoffs into the queue, apply agents' actions, record
ratings, and keep waiting customers told of their place in line.

Every action checks who may do it (team, role, who holds the ticket), changes the
ticket conditionally and publishes the matching ``AgentActionTaken`` for the
orchestrator, which quiets the bot, sends the agent's reply on the customer's channel,
or gives the conversation back. Browsers hear about every change at once (``live``).

The desk consumes three topics with its own group: handoffs (the queue), ratings
(``SatisfactionRated``, the CSAT records) and customers' messages. A message tells the
desk a conversation exists (the escalation rate's denominator), shows up live on an
open conversation page, and, from a customer still waiting, earns a holding message
with their place in line. That last one lives here because only the desk knows the
queue; the orchestrator stays quiet while a conversation waits for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, feedback_pb2, handoff_pb2, messages_pb2

from services.agent_desk.accounts import AccountRefused, Profile
from services.agent_desk.live import CustomerMessage, LiveUpdates, TicketChanged
from services.agent_desk.metrics import (
    ACTIONS,
    CONVERSATIONS,
    CSAT_RATINGS,
    ESCALATION_REASONS,
    ESCALATIONS,
    FIRST_CONTACT_RESOLUTIONS,
    HANDLE_SECONDS,
    HANDOFFS,
    HOLDING_MESSAGES,
    QUEUE_LENGTH,
    REPEAT_CONTACTS,
    RESOLUTIONS,
    SENTIMENT_CHANGE,
    WAIT_SECONDS,
)
from services.agent_desk.models import Agent, Role, Ticket, TicketStatus
from services.agent_desk.routing import (
    can_see,
    can_take,
    position_in_line,
    queue_for,
    viewer_of,
)
from services.agent_desk.store import DeskStore, HandoffOutcome, entry_of, first_time, packet_of
from shared.channel_names import CHANNEL_NAMES, channel_name, channel_number
from shared.errors import ContractError, InvalidInputError, RapportError, RefusedError
from shared.kafka.codec import caused_by, new_envelope
from shared.kafka.topics import AGENT_ACTIONS
from shared.sending import send_bot_message, step_record
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessDenied(RapportError):
    """The signed-in account may not see or do this."""


class PublisherPort(Protocol):
    async def publish(self, topic: str, event: Message) -> None: ...


class DeskContextPort(Protocol):
    """What the desk itself reads and writes in the context service."""

    async def list_turns(self, conversation_id: str) -> list[context_pb.Turn]: ...

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]: ...


HOLDING = "queue-position"
"""The purpose a queue-position message is derived under from the customer's message."""


def channel_label(channel: int) -> str:
    return channel_name(channel)  # type: ignore[arg-type]


def sentiment_span(
    turns: list[context_pb.Turn], packet: handoff_pb2.HandoffRequested
) -> tuple[float, float] | None:
    """The customer's sentiment at the conversation's first and last emotion reading:
    from the stored turns, else from the trajectory the handoff carried."""
    readings = [
        t.emotion.sentiment_score
        for t in turns
        if t.role == context_pb.ROLE_CUSTOMER and t.HasField("emotion")
    ] or [p.sentiment_score for p in packet.trajectory]
    return (readings[0], readings[-1]) if readings else None


class Desk:
    def __init__(
        self,
        *,
        store: DeskStore,
        publisher: PublisherPort,
        context: DeskContextPort,
        live: LiveUpdates,
        default_team: str,
        max_reply_chars: int,
        holding_interval: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._context = context
        self._live = live
        self._default_team = default_team
        self._max_reply_chars = max_reply_chars
        self._holding_interval = holding_interval
        self._clock = clock

    # Intake (the consumer's handler: handoffs, ratings, customers' messages)

    async def __call__(self, event: Message) -> None:
        if isinstance(event, handoff_pb2.HandoffRequested):
            await self._take_handoff(event)
        elif isinstance(event, feedback_pb2.SatisfactionRated):
            await self._record_rating(event)
        elif isinstance(event, messages_pb2.MessageReceived):
            await self._customer_wrote(event)
        else:
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")

    async def _take_handoff(self, event: handoff_pb2.HandoffRequested) -> None:
        ticket, outcome = await self._store.record_handoff(event, self._default_team, self._clock())
        HANDOFFS.labels(outcome.value).inc()
        if outcome is HandoffOutcome.QUEUED:
            channel = channel_label(ticket.channel)
            ESCALATIONS.labels(channel).inc()
            for code in ticket.reason_codes:
                ESCALATION_REASONS.labels(channel, code).inc()
            if ticket.repeat_contacts:
                REPEAT_CONTACTS.labels(channel).inc()
        if outcome is not HandoffOutcome.DUPLICATE:
            await self._changed(ticket)
            log.info("handoff %s: ticket %s", outcome.value, ticket.id)

    async def _record_rating(self, event: feedback_pb2.SatisfactionRated) -> None:
        if not 1 <= event.score <= 5:
            raise InvalidInputError(f"rating {event.envelope.event_id} is not 1 to 5")
        if await self._store.record_rating(event, self._clock()):
            CSAT_RATINGS.labels(channel_label(event.envelope.channel), str(event.score)).inc()
            log.info("rating %d recorded for agent %s", event.score, event.agent_id)

    async def _customer_wrote(self, event: messages_pb2.MessageReceived) -> None:
        envelope = event.envelope
        now = self._clock()
        sent_at = (
            envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else now
        )
        if await self._store.saw_conversation(envelope.conversation_id, envelope.channel, sent_at):
            CONVERSATIONS.labels(channel_label(envelope.channel)).inc()
        ticket = await self._store.open_ticket_of(envelope.conversation_id)
        if ticket is None:
            return
        message = CustomerMessage(event.text, channel_label(envelope.channel), sent_at)
        self._live.notify(TicketChanged(ticket.id, ticket.team, message))
        # Replayed old messages earn nothing; a fresh one, a reminder every interval.
        told = ticket.holding_sent_at or ticket.handed_off_at
        if (
            ticket.status == TicketStatus.WAITING
            and now - sent_at < self._holding_interval
            and now - told >= self._holding_interval
        ):
            await self._tell_place_in_line(ticket, envelope, now)

    async def _tell_place_in_line(
        self, ticket: Ticket, cause: envelope_pb2.Envelope, now: datetime
    ) -> None:
        """Send the queue-position message, stored as a turn, at most once per interval
        (the update only wins while ``holding_sent_at`` is what was read)."""
        entries = [entry_of(t) for t in await self._store.open_tickets(ticket.team)]
        position = position_in_line(ticket.id, ticket.team, entries, now)
        if position is None:
            return
        reply = VOICE.queue_position(ticket.language, position)
        envelope = caused_by(cause, HOLDING, packet_of(ticket).envelope.customer)

        async def send(_ticket: Ticket) -> None:
            record = step_record(
                "waiting_for_agent",
                "The customer wrote while waiting for a person; "
                f"the desk told them they are number {position} in line.",
                "holding/queue_position",
                reply,
                action="holding",
            )
            await send_bot_message(
                self._context,
                self._publisher,
                envelope,
                reply,
                record,
                VOICE.name,
                in_reply_to=cause.event_id,
            )

        last = Ticket.holding_sent_at
        try:
            await self._store.transition(
                ticket.id,
                allowed={TicketStatus.WAITING},
                holder=None,
                changes={"holding_sent_at": now},
                now=now,
                announce=send,
                where=[
                    last.is_(None)
                    if ticket.holding_sent_at is None
                    else last == ticket.holding_sent_at
                ],
            )
        except RefusedError:
            return  # claimed meanwhile, or another message of the customer won
        HOLDING_MESSAGES.labels(channel_label(ticket.channel)).inc()

    async def _changed(self, ticket: Ticket) -> None:
        """Tell the browsers, and bring the queue-length gauge up to date."""
        self._live.notify(TicketChanged(ticket.id, ticket.team))
        waiting = await self._store.waiting_by_channel()
        for name in CHANNEL_NAMES:
            QUEUE_LENGTH.labels(name).set(waiting.get(channel_number(name), 0))

    # Reading

    async def visible_ticket(self, agent: Agent, ticket_id: str) -> Ticket:
        ticket = await self._store.ticket(ticket_id)
        if not can_see(viewer_of(agent), entry_of(ticket)):
            raise AccessDenied(f"ticket {ticket_id} is not for {agent.id}")
        return ticket

    async def queue(self, agent: Agent) -> tuple[list[Ticket], list[Ticket]]:
        """The waiting tickets this agent may take, most urgent first, and the claimed
        ones they hold (supervisors and admins: every claimed one they can see)."""
        viewer = viewer_of(agent)
        tickets = await self._store.open_tickets(None if viewer.role is Role.ADMIN else agent.team)
        by_id = {t.id: t for t in tickets}
        waiting = queue_for(viewer, (entry_of(t) for t in tickets), self._clock())
        held = [
            t
            for t in tickets
            if t.status == TicketStatus.CLAIMED
            and (t.assignee_id == agent.id or viewer.role.at_least(Role.SUPERVISOR))
        ]
        return [by_id[e.ticket_id] for e in waiting], held

    # Accounts

    async def change_account(
        self,
        admin: Agent,
        agent_id: str,
        *,
        profile: Profile | None = None,
        active: bool | None = None,
    ) -> Agent:
        """An admin edits, deactivates or reactivates an account; tickets it held and can
        no longer work go back to the queue, and the browsers hear of them."""
        if Role(admin.role) is not Role.ADMIN:
            raise AccessDenied(f"{admin.id} may not change accounts")
        demoted = profile is not None and profile.role is not Role.ADMIN
        if agent_id == admin.id and (demoted or active is False):
            raise AccountRefused(
                "you cannot demote or deactivate your own account; another admin can"
            )
        change = await self._store.update_agent(
            agent_id, actor_id=admin.id, now=self._clock(), profile=profile, active=active
        )
        for ticket in change.requeued:
            await self._changed(ticket)
            log.info("ticket %s back in the queue: its holder %s changed", ticket.id, agent_id)
        return change.agent

    async def colleagues(self, agent: Agent) -> list[Agent]:
        """Active accounts a ticket of this agent's team can go to."""
        return [a for a in await self._store.agents(agent.team) if a.active and a.id != agent.id]

    # Actions

    async def claim(self, agent: Agent, ticket_id: str) -> Ticket:
        ticket = await self.visible_ticket(agent, ticket_id)
        if not can_take(viewer_of(agent), entry_of(ticket)):
            raise AccessDenied(f"{agent.id} lacks the language or skill for {ticket_id}")
        now = self._clock()
        claimed = await self._act(
            ticket,
            agent,
            agent_pb2.AGENT_ACTION_KIND_CLAIMED,
            allowed={TicketStatus.WAITING},
            holder=None,
            changes={
                "status": TicketStatus.CLAIMED.value,
                "assignee_id": agent.id,
                "claimed_at": first_time(Ticket.claimed_at, now),
            },
        )
        self._first_claim(ticket, claimed)
        return claimed

    def _first_claim(self, before: Ticket, after: Ticket) -> None:
        """The wait ends at the ticket's first claim (a later transfer does not count)."""
        if before.claimed_at is None and after.claimed_at is not None:
            wait = (after.claimed_at - after.handed_off_at).total_seconds()
            WAIT_SECONDS.labels(channel_label(after.channel)).observe(max(wait, 0.0))

    async def assign(self, actor: Agent, ticket_id: str, target_id: str) -> Ticket:
        """A supervisor assigns a ticket; the agent holding one transfers it."""
        ticket = await self.visible_ticket(actor, ticket_id)
        supervising = Role(actor.role).at_least(Role.SUPERVISOR)
        if not supervising and ticket.assignee_id != actor.id:
            raise AccessDenied("only a supervisor or the agent holding it can hand it on")
        target = await self._store.agent(target_id)
        if target is None or not target.active or target.team != ticket.team:
            raise InvalidInputError("pick an active colleague of the ticket's team")
        now = self._clock()
        assigned = await self._act(
            ticket,
            target,
            agent_pb2.AGENT_ACTION_KIND_CLAIMED,
            allowed={TicketStatus.WAITING, TicketStatus.CLAIMED},
            holder=None if supervising else actor.id,
            changes={
                "status": TicketStatus.CLAIMED.value,
                "assignee_id": target.id,
                "claimed_at": first_time(Ticket.claimed_at, now),
            },
        )
        self._first_claim(ticket, assigned)
        return assigned

    async def reply(self, agent: Agent, ticket_id: str, text: str) -> Ticket:
        text = text.strip()
        if not text or len(text) > self._max_reply_chars:
            raise InvalidInputError(f"a reply needs 1 to {self._max_reply_chars} characters")
        ticket = await self.visible_ticket(agent, ticket_id)
        return await self._act(
            ticket,
            agent,
            agent_pb2.AGENT_ACTION_KIND_REPLIED,
            allowed={TicketStatus.CLAIMED},
            holder=agent.id,  # a person writes only in a conversation they hold
            changes={"first_reply_at": first_time(Ticket.first_reply_at, self._clock())},
            text=text,
        )

    async def give_back(self, agent: Agent, ticket_id: str) -> Ticket:
        return await self._close(
            agent,
            ticket_id,
            agent_pb2.AGENT_ACTION_KIND_RETURNED_TO_BOT,
            TicketStatus.RETURNED,
            "returned_at",
        )

    async def resolve(self, agent: Agent, ticket_id: str) -> Ticket:
        """Close the ticket, keeping the customer's sentiment at the conversation's first
        and last reading for the dashboard (from the context service, else the handoff)."""
        ticket = await self.visible_ticket(agent, ticket_id)
        try:
            turns = await self._context.list_turns(ticket.conversation_id)
        except RapportError as exc:
            log.warning("no turns for %s: %s", ticket.conversation_id, exc)
            turns = []
        span = sentiment_span(turns, packet_of(ticket))
        resolved = await self._close(
            agent,
            ticket_id,
            agent_pb2.AGENT_ACTION_KIND_RESOLVED,
            TicketStatus.RESOLVED,
            "resolved_at",
            {"sentiment_first": span[0], "sentiment_last": span[1]} if span else {},
        )
        channel = channel_label(resolved.channel)
        RESOLUTIONS.labels(channel).inc()
        if resolved.repeat_contacts == 0:
            FIRST_CONTACT_RESOLUTIONS.labels(channel).inc()
        if resolved.claimed_at is not None and resolved.resolved_at is not None:
            handled = (resolved.resolved_at - resolved.claimed_at).total_seconds()
            HANDLE_SECONDS.labels(channel).observe(max(handled, 0.0))
        if span:
            SENTIMENT_CHANGE.labels(channel).observe(span[1] - span[0])
        return resolved

    async def _close(
        self,
        agent: Agent,
        ticket_id: str,
        kind: agent_pb2.AgentActionKind,
        status: TicketStatus,
        stamp: str,
        readings: dict[str, float] | None = None,
    ) -> Ticket:
        ticket = await self.visible_ticket(agent, ticket_id)
        supervising = Role(agent.role).at_least(Role.SUPERVISOR)
        return await self._act(
            ticket,
            agent,
            kind,
            allowed={TicketStatus.CLAIMED},
            holder=None if supervising else agent.id,
            changes={"status": status.value, stamp: self._clock(), **(readings or {})},
        )

    async def _act(
        self,
        ticket: Ticket,
        agent: Agent,
        kind: agent_pb2.AgentActionKind,
        *,
        allowed: set[TicketStatus],
        holder: str | None,
        changes: dict[str, Any],
        text: str = "",
    ) -> Ticket:
        """Change the ticket and publish ``kind`` for ``agent`` in one transaction."""
        customer = packet_of(ticket).envelope.customer

        async def announce(changed: Ticket) -> None:
            await self._publisher.publish(
                AGENT_ACTIONS,
                agent_pb2.AgentActionTaken(
                    envelope=new_envelope(
                        conversation_id=changed.conversation_id,
                        channel=changed.channel,  # type: ignore[arg-type]
                        customer=customer,
                        causation_id=changed.id,
                    ),
                    kind=kind,
                    agent_id=agent.id,
                    agent_name=agent.name,
                    text=text,
                ),
            )

        changed = await self._store.transition(
            ticket.id,
            allowed=allowed,
            holder=holder,
            changes=changes,
            now=self._clock(),
            announce=announce,
        )
        name = agent_pb2.AgentActionKind.Name(kind).removeprefix("AGENT_ACTION_KIND_").lower()
        ACTIONS.labels(name).inc()
        await self._changed(changed)
        return changed
