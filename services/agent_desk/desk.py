"""What the desk does: take handoffs into the queue, apply agents' actions, record
ratings, and keep waiting customers told of their place in line (``notices.py``).

Every action checks who may do it (team, role, who holds the ticket), changes the
ticket conditionally and, in the same transaction, writes the matching
``AgentActionTaken`` to the outbox for the orchestrator, which quiets the bot, sends the
agent's reply on the customer's channel, or gives the conversation back. The event's id
is derived from the ticket, the action and the action id the browser's form carries, so
a double submit or a retried POST is the same event: the desk does it once, and
downstream consumers drop a repeat. Browsers hear about every change at once (``live``).

The desk consumes four topics with its own group: handoffs (the queue), ratings
(``SatisfactionRated``, the CSAT records), customers' messages and delivery reports. A
message tells the desk a conversation exists (the escalation rate's denominator), shows
up live on an open conversation page, and, from a customer still waiting, earns a
notice with their place in line and the expected wait (a new ticket earns one at once).
Those live here because only the desk knows the queue; the orchestrator stays quiet
while a conversation waits for a person, and the desk makes sure that is never silence.

Every message the desk has sent (an agent's reply, with the image or PDF it may carry, a
holding message) is recorded with the action that sends it, under the id its
``SendMessage`` will carry; the adapters' reports (``MessageDeliveryUpdated``) then move
it along (``delivery.py``) and the open conversation page hears of each change. One that
did not get through can be sent again, on the same channel or on another verified
identity of the customer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, feedback_pb2, handoff_pb2, messages_pb2

from services.agent_desk.accounts import AccountRefused, Profile
from services.agent_desk.attachments import MAX_CAPTION_CHARS, Outgoing
from services.agent_desk.delivery import FINAL, DeliveryStatus, report_of
from services.agent_desk.history import identities
from services.agent_desk.live import CustomerMessage, LiveUpdates, TicketChanged
from services.agent_desk.media import DeskMedia
from services.agent_desk.metrics import (
    ACTIONS,
    CONVERSATIONS,
    CSAT_RATINGS,
    DELIVERY_OUTCOMES,
    DELIVERY_PROBLEMS,
    ESCALATION_REASONS,
    ESCALATIONS,
    FIRST_CONTACT_RESOLUTIONS,
    HANDLE_SECONDS,
    HANDOFFS,
    QUEUE_LENGTH,
    REPEAT_CONTACTS,
    RESENDS,
    RESOLUTIONS,
    SENTIMENT_CHANGE,
    WAIT_SECONDS,
)
from services.agent_desk.models import Agent, OutgoingMessage, Role, Ticket, TicketStatus
from services.agent_desk.notices import WaitingNotices
from services.agent_desk.outgoing import OutgoingMessages, Route, channel_label, sent_message
from services.agent_desk.routing import can_see, can_take, queue_for, viewer_of
from services.agent_desk.store import (
    DeskStore,
    HandoffOutcome,
    Transition,
    entry_of,
    first_time,
    packet_of,
)
from shared.channel_names import CHANNEL_NAMES, channel_number
from shared.errors import (
    ContractError,
    InvalidInputError,
    NotFoundError,
    RapportError,
)
from shared.kafka.codec import derived_event_id, new_envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import AGENT_ACTIONS
from shared.sending import AGENT_REPLY

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessDenied(RapportError):
    """The signed-in account may not see or do this."""


class DeskContextPort(Protocol):
    """What the desk itself reads and writes in the context service."""

    async def list_turns(self, conversation_id: str) -> list[context_pb.Turn]: ...

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse: ...

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]: ...


def action_event_id(ticket_id: str, purpose: str, action_id: str) -> str:
    """The id of the event an action on a ticket publishes: the same ticket, action and
    action id (the browser's form carries one) always give the same id."""
    try:
        action = str(UUID(action_id))
    except ValueError:
        raise InvalidInputError("this form is out of date: reload the page and try again") from None
    return derived_event_id(ticket_id, f"{purpose}:{action}")


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
        outgoing: OutgoingMessages,
        context: DeskContextPort,
        live: LiveUpdates,
        media: DeskMedia,
        notices: WaitingNotices,
        default_team: str,
        max_reply_chars: int,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._outgoing = outgoing
        self._context = context
        self._live = live
        self._media = media
        self._default_team = default_team
        self._max_reply_chars = max_reply_chars
        self.notices = notices
        self._clock = clock

    # Intake (the consumer's handler: handoffs, ratings, customers' messages)

    async def __call__(self, event: Message) -> None:
        if isinstance(event, handoff_pb2.HandoffRequested):
            await self._take_handoff(event)
        elif isinstance(event, feedback_pb2.SatisfactionRated):
            await self._record_rating(event)
        elif isinstance(event, messages_pb2.MessageReceived):
            await self._customer_wrote(event)
        elif isinstance(event, messages_pb2.MessageDeliveryUpdated):
            await self._delivery_updated(event)
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
        # The handoff that opened the ticket (or its redelivery, after a crash before the
        # notice) tells the customer at once, unless they have been told already.
        if ticket.id == event.envelope.event_id and ticket.holding_sent_at is None:
            await self.notices.handed_off(ticket, event.envelope)

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
        message = CustomerMessage(
            envelope.event_id,
            event.text,
            channel_label(envelope.channel),
            sent_at,
            tuple(event.attachments),
        )
        self._live.notify(TicketChanged(ticket.id, ticket.team, message))
        await self.notices.customer_wrote(ticket, envelope, sent_at)

    async def _delivery_updated(self, event: messages_pb2.MessageDeliveryUpdated) -> None:
        """Move one of the desk's messages along; most reports are about the bot's
        messages, which the desk does not follow, and change nothing."""
        report = report_of(event, channel_label(event.envelope.channel))
        if report is None:
            return
        message = await self._outgoing.record(event.send_event_id, report, self._clock())
        if message is None:
            return
        channel = channel_label(message.channel)
        DELIVERY_OUTCOMES.labels(channel, message.status).inc()
        if message.problem:
            DELIVERY_PROBLEMS.labels(channel, message.problem).inc()
        ticket = await self._store.ticket(message.ticket_id)
        self._live.notify(TicketChanged(ticket.id, ticket.team, delivery=True))
        log.info("message %s: %s", message.send_event_id, message.status)

    async def _changed(self, ticket: Ticket) -> None:
        """Tell the browsers, and bring the queue-length gauge up to date."""
        self._live.notify(TicketChanged(ticket.id, ticket.team))
        waiting = await self._store.waiting_by_channel()
        for name in CHANNEL_NAMES:
            QUEUE_LENGTH.labels(name).set(waiting.get(channel_number(name), 0))

    # Reading

    async def messages_of(self, ticket: Ticket) -> list[OutgoingMessage]:
        """The messages the desk sent in the ticket's conversation, oldest first."""
        return await self._outgoing.of_conversation(ticket.conversation_id)

    async def context_of(self, ticket: Ticket, max_turns: int) -> context_pb.GetContextResponse:
        """The customer's context now; empty when it cannot be read (the queue still
        shows, from the handoff packet)."""
        try:
            return await self._context.get_context(
                ticket.customer_id, ticket.conversation_id, max_turns
            )
        except RapportError as exc:
            log.warning("no context for %s in the queue: %s", ticket.id, exc)
            return context_pb.GetContextResponse()

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

    async def claim(self, agent: Agent, ticket_id: str, action_id: str) -> Ticket:
        ticket = await self.visible_ticket(agent, ticket_id)
        if not can_take(viewer_of(agent), entry_of(ticket)):
            raise AccessDenied(f"{agent.id} lacks the language or skill for {ticket_id}")
        now = self._clock()
        claimed = await self._act(
            ticket,
            agent,
            agent_pb2.AGENT_ACTION_KIND_CLAIMED,
            event_id=action_event_id(ticket.id, "claimed", action_id),
            allowed={TicketStatus.WAITING},
            holder=None,
            changes={
                "status": TicketStatus.CLAIMED.value,
                "assignee_id": agent.id,
                "claimed_at": first_time(Ticket.claimed_at, now),
            },
        )
        self._first_claim(ticket, claimed)
        return claimed.ticket

    def _first_claim(self, before: Ticket, after: Transition) -> None:
        """The wait ends at the ticket's first claim (a later transfer does not count)."""
        claimed = after.ticket
        if after.applied and before.claimed_at is None and claimed.claimed_at is not None:
            wait = (claimed.claimed_at - claimed.handed_off_at).total_seconds()
            WAIT_SECONDS.labels(channel_label(claimed.channel)).observe(max(wait, 0.0))

    async def assign(self, actor: Agent, ticket_id: str, target_id: str, action_id: str) -> Ticket:
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
            event_id=action_event_id(ticket.id, f"assigned:{target.id}", action_id),
            allowed={TicketStatus.WAITING, TicketStatus.CLAIMED},
            holder=None if supervising else actor.id,
            changes={
                "status": TicketStatus.CLAIMED.value,
                "assignee_id": target.id,
                "claimed_at": first_time(Ticket.claimed_at, now),
            },
        )
        self._first_claim(ticket, assigned)
        return assigned.ticket

    async def reply(
        self,
        agent: Agent,
        ticket_id: str,
        text: str,
        action_id: str,
        attachment: Outgoing | None = None,
    ) -> Ticket:
        """Write to the customer: text, an image or PDF the desk keeps (``attachment``,
        the text then its caption), or both."""
        text = text.strip()
        if attachment is None and not 0 < len(text) <= self._max_reply_chars:
            raise InvalidInputError(f"a reply needs 1 to {self._max_reply_chars} characters")
        if attachment is not None and len(text) > MAX_CAPTION_CHARS:
            raise InvalidInputError(f"a caption has at most {MAX_CAPTION_CHARS} characters")
        ticket = await self.visible_ticket(agent, ticket_id)
        # The text and the file too: a stale form sent again with others is another reply.
        what = f"replied:{text}" + (f":{attachment.reference}" if attachment else "")
        event_id = action_event_id(ticket.id, what, action_id)
        route = (ticket.channel, packet_of(ticket).envelope.customer)
        return (await self._write(agent, ticket, event_id, route, text, attachment)).ticket

    async def resend(
        self, agent: Agent, ticket_id: str, send_event_id: str, target: str, action_id: str
    ) -> Ticket:
        """Send a message that did not get through again: on its own channel (``target``
        empty), or on another verified identity of the customer (``channel:address``)."""
        ticket = await self.visible_ticket(agent, ticket_id)
        original = await self._outgoing.message(send_event_id)
        if original is None or original.conversation_id != ticket.conversation_id:
            raise NotFoundError(f"no message {send_event_id} in ticket {ticket_id}")
        if DeliveryStatus(original.status) not in FINAL:
            raise InvalidInputError("only a message that did not get through can be sent again")
        route = await self._route(ticket, original, target)
        event_id = action_event_id(ticket.id, f"resend:{send_event_id}:{target}", action_id)
        resent = await self._write(
            agent,
            ticket,
            event_id,
            route,
            original.text,
            Outgoing.from_json(original.attachment) if original.attachment else None,
            resend_of=original.send_event_id,
        )
        if resent.applied:
            how = "same_channel" if route[0] == original.channel else "other_channel"
            RESENDS.labels(how).inc()
        return resent.ticket

    async def _route(self, ticket: Ticket, original: OutgoingMessage, target: str) -> Route:
        """Where a message is sent again: where it went, or to a verified identity."""
        customer = packet_of(ticket).envelope.customer
        if not target:
            return original.channel, envelope_pb2.CustomerRef(
                customer_id=customer.customer_id,
                channel=original.channel,  # type: ignore[arg-type]
                address=original.address,
                display_name=customer.display_name,
            )
        try:
            context = await self._context.get_context(ticket.customer_id, ticket.conversation_id, 1)
        except RapportError as exc:  # the handoff's identities are verified ones too
            log.warning("identities of %s from the handoff: %s", ticket.customer_id, exc)
            context = context_pb.GetContextResponse()
        verified = {
            f"{i.channel}:{i.address}": i
            for i in identities(context, packet_of(ticket))
            if i.verified
        }
        chosen = verified.get(target)
        if chosen is None:
            raise InvalidInputError("pick one of the customer's verified identities")
        channel = channel_number(chosen.channel)
        return channel, envelope_pb2.CustomerRef(
            customer_id=customer.customer_id,
            channel=channel,
            address=chosen.address,
            display_name=customer.display_name,
        )

    async def _write(
        self,
        agent: Agent,
        ticket: Ticket,
        event_id: str,
        route: Route,
        text: str,
        attachment: Outgoing | None = None,
        resend_of: str | None = None,
    ) -> Transition:
        """The agent's message to the customer, recorded under the id the orchestrator
        will send it with, so its delivery can be followed; an attachment goes as a
        fresh signed link to the desk's copy."""
        now = self._clock()
        record = sent_message(
            ticket,
            derived_event_id(event_id, AGENT_REPLY),
            route,
            text,
            now,
            author=agent,
            resend_of=resend_of,
            attachment=attachment,
        )
        return await self._act(
            ticket,
            agent,
            agent_pb2.AGENT_ACTION_KIND_REPLIED,
            event_id=event_id,
            allowed={TicketStatus.CLAIMED},
            holder=agent.id,  # a person writes only in a conversation they hold
            changes={"first_reply_at": first_time(Ticket.first_reply_at, now)},
            text=text,
            attachments=[self._media.link(attachment)] if attachment else [],
            route=route,
            sending=[record],
        )

    async def give_back(self, agent: Agent, ticket_id: str, action_id: str) -> Ticket:
        returned = await self._close(
            agent,
            ticket_id,
            action_id,
            agent_pb2.AGENT_ACTION_KIND_RETURNED_TO_BOT,
            TicketStatus.RETURNED,
            "returned_at",
        )
        return returned.ticket

    async def resolve(self, agent: Agent, ticket_id: str, action_id: str) -> Ticket:
        """Close the ticket, keeping the customer's sentiment at the conversation's first
        and last reading for the dashboard (from the context service, else the handoff)."""
        ticket = await self.visible_ticket(agent, ticket_id)
        try:
            turns = await self._context.list_turns(ticket.conversation_id)
        except RapportError as exc:
            log.warning("no turns for %s: %s", ticket.conversation_id, exc)
            turns = []
        span = sentiment_span(turns, packet_of(ticket))
        closed = await self._close(
            agent,
            ticket_id,
            action_id,
            agent_pb2.AGENT_ACTION_KIND_RESOLVED,
            TicketStatus.RESOLVED,
            "resolved_at",
            {"sentiment_first": span[0], "sentiment_last": span[1]} if span else {},
        )
        resolved = closed.ticket
        if not closed.applied:
            return resolved
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
        action_id: str,
        kind: agent_pb2.AgentActionKind,
        status: TicketStatus,
        stamp: str,
        readings: dict[str, float] | None = None,
    ) -> Transition:
        ticket = await self.visible_ticket(agent, ticket_id)
        supervising = Role(agent.role).at_least(Role.SUPERVISOR)
        return await self._act(
            ticket,
            agent,
            kind,
            event_id=action_event_id(ticket.id, status.value, action_id),
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
        event_id: str,
        allowed: set[TicketStatus],
        holder: str | None,
        changes: dict[str, Any],
        text: str = "",
        attachments: Sequence[envelope_pb2.Attachment] = (),
        route: Route | None = None,
        sending: Sequence[OutgoingMessage] = (),
    ) -> Transition:
        """Change the ticket and write ``kind`` for ``agent`` to the outbox (with the
        messages it is ``sending``, to the ticket's customer unless ``route`` says
        otherwise), in one transaction; an action already done (``event_id`` seen)
        changes nothing."""
        channel, customer = route or (ticket.channel, packet_of(ticket).envelope.customer)

        async def announce(changed: Ticket, outbox: Publisher) -> None:
            await outbox.publish(
                AGENT_ACTIONS,
                agent_pb2.AgentActionTaken(
                    envelope=new_envelope(
                        event_id=event_id,
                        conversation_id=changed.conversation_id,
                        channel=channel,  # type: ignore[arg-type]
                        customer=customer,
                        causation_id=changed.id,
                    ),
                    kind=kind,
                    agent_id=agent.id,
                    agent_name=agent.name,
                    text=text,
                    attachments=attachments,
                ),
            )

        done = await self._store.transition(
            ticket.id,
            event_id=event_id,
            allowed=allowed,
            holder=holder,
            changes=changes,
            now=self._clock(),
            announce=announce,
            sending=sending,
        )
        if done.applied:
            name = agent_pb2.AgentActionKind.Name(kind).removeprefix("AGENT_ACTION_KIND_")
            ACTIONS.labels(name.lower()).inc()
            await self._changed(done.ticket)
        return done
