"""What the desk does: take handoffs into the queue, and apply agents' actions.

Every action checks who may do it (team, role, who holds the ticket), changes the
ticket conditionally and publishes the matching ``AgentActionTaken`` for the
orchestrator, which quiets the bot, sends the agent's reply on the customer's channel,
or gives the conversation back. Browsers hear about every change at once (``live``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf.message import Message
from rapport.events.v1 import agent_pb2, handoff_pb2

from services.agent_desk.live import LiveUpdates, TicketChanged
from services.agent_desk.metrics import ACTIONS, HANDOFFS
from services.agent_desk.models import Agent, Role, Ticket, TicketStatus
from services.agent_desk.routing import Viewer, can_see, can_take, queue_for
from services.agent_desk.store import DeskStore, HandoffOutcome, entry_of, first_time, packet_of
from shared.errors import ContractError, InvalidInputError, RapportError
from shared.kafka.codec import new_envelope
from shared.kafka.topics import AGENT_ACTIONS
from shared.observability.logging import log_context

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessDenied(RapportError):
    """The signed-in account may not see or do this."""


class PublisherPort(Protocol):
    async def publish(self, topic: str, event: Message) -> None: ...


def viewer_of(agent: Agent) -> Viewer:
    return Viewer(
        agent_id=agent.id,
        role=Role(agent.role),
        team=agent.team,
        languages=frozenset(agent.languages),
        skills=frozenset(agent.skills),
    )


class Desk:
    def __init__(
        self,
        *,
        store: DeskStore,
        publisher: PublisherPort,
        live: LiveUpdates,
        default_team: str,
        max_reply_chars: int,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._live = live
        self._default_team = default_team
        self._max_reply_chars = max_reply_chars
        self._clock = clock

    # Intake (the rapport.handoff.v1 consumer's handler)

    async def __call__(self, event: Message) -> None:
        if not isinstance(event, handoff_pb2.HandoffRequested):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        envelope = event.envelope
        with log_context(
            conversation_id=envelope.conversation_id, traceparent=envelope.traceparent
        ):
            ticket, outcome = await self._store.record_handoff(
                event, self._default_team, self._clock()
            )
            HANDOFFS.labels(outcome.value).inc()
            if outcome is not HandoffOutcome.DUPLICATE:
                self._live.notify(TicketChanged(ticket.id, ticket.team))
                log.info("handoff %s: ticket %s", outcome.value, ticket.id)

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

    async def colleagues(self, agent: Agent) -> list[Agent]:
        """Active accounts a ticket of this agent's team can go to."""
        return [a for a in await self._store.agents(agent.team) if a.active and a.id != agent.id]

    # Actions

    async def claim(self, agent: Agent, ticket_id: str) -> Ticket:
        ticket = await self.visible_ticket(agent, ticket_id)
        if not can_take(viewer_of(agent), entry_of(ticket)):
            raise AccessDenied(f"{agent.id} lacks the language or skill for {ticket_id}")
        now = self._clock()
        return await self._act(
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
        return await self._act(
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
        return await self._close(
            agent,
            ticket_id,
            agent_pb2.AGENT_ACTION_KIND_RESOLVED,
            TicketStatus.RESOLVED,
            "resolved_at",
        )

    async def _close(
        self,
        agent: Agent,
        ticket_id: str,
        kind: agent_pb2.AgentActionKind,
        status: TicketStatus,
        stamp: str,
    ) -> Ticket:
        ticket = await self.visible_ticket(agent, ticket_id)
        supervising = Role(agent.role).at_least(Role.SUPERVISOR)
        return await self._act(
            ticket,
            agent,
            kind,
            allowed={TicketStatus.CLAIMED},
            holder=None if supervising else agent.id,
            changes={"status": status.value, stamp: self._clock()},
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
        self._live.notify(TicketChanged(changed.id, changed.team))
        return changed
