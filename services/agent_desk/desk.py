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
(``SatisfactionRated``, the CSAT or NPS records) and the feedback after them
(``FeedbackGiven``, the pain points), customers' messages and delivery reports. A
message tells the desk a conversation exists (the escalation rate's denominator), shows
up live on an open conversation page, and, from a customer still waiting, earns a
notice with their place in line and the expected wait (a new ticket earns one at once).
Those live here because only the desk knows the queue; the orchestrator stays quiet
while a conversation waits for a person, and the desk makes sure that is never silence.

Routing (``teams``, ``routing``): each handoff joins the queue of the team the first
matching rule names; in a team that assigns, the desk gives waiting tickets to its free
agents as soon as there are some (a new ticket, a conversation closed or handed on, an
agent coming online, and on every sweep), a hard conversation to the one who carried
the least of them lately (``load``), and a ticket nobody in the team can be given moves
to the team's fallback after the team's wait. Each change is in the ticket's history,
which the conversation page shows.

Every message the desk has sent (an agent's reply, with the image or PDF it may carry, a
holding message) is recorded with the action that sends it, under the id its
``SendMessage`` will carry; the adapters' reports (``MessageDeliveryUpdated``) then move
it along (``delivery.py``) and the open conversation page hears of each change. One that
did not get through can be sent again, on the same channel or on another verified
identity of the customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, feedback_pb2, handoff_pb2, messages_pb2
from sqlalchemy import ColumnElement
from sqlalchemy.exc import SQLAlchemyError

from services.agent_desk.accounts import AccountRefused, Profile
from services.agent_desk.attachments import MAX_CAPTION_CHARS, Outgoing
from services.agent_desk.canned import MacroAction, MacroStep, unfilled
from services.agent_desk.delivery import FINAL, DeliveryStatus, report_of
from services.agent_desk.feedback_store import FeedbackStore
from services.agent_desk.history import identities
from services.agent_desk.live import CustomerMessage, LiveUpdates, TeamChanged, TicketChanged
from services.agent_desk.load import WINDOW, RecentLoad, recent_load
from services.agent_desk.media import DeskMedia
from services.agent_desk.metrics import (
    ACTIONS,
    ASSIGNMENTS,
    CONVERSATIONS,
    CSAT_RATINGS,
    DELIVERY_OUTCOMES,
    DELIVERY_PROBLEMS,
    ESCALATION_REASONS,
    ESCALATIONS,
    FIRST_CONTACT_RESOLUTIONS,
    HANDLE_SECONDS,
    HANDOFFS,
    OVERFLOWS,
    QUEUE_LENGTH,
    REPEAT_CONTACTS,
    RESENDS,
    RESOLUTIONS,
    SENTIMENT_CHANGE,
    WAIT_SECONDS,
)
from services.agent_desk.models import (
    Agent,
    Availability,
    CustomerEmail,
    OutgoingMessage,
    Role,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketStatus,
)
from services.agent_desk.notices import WaitingNotices
from services.agent_desk.outgoing import OutgoingMessages, Route, channel_label, sent_message
from services.agent_desk.routing import (
    Taker,
    assignments,
    can_see,
    can_take,
    overflow_due,
    queue_for,
    taker_of,
    team_queue,
    viewer_of,
)
from services.agent_desk.store import (
    DeskStore,
    HandoffOutcome,
    Note,
    Transition,
    entry_of,
    first_time,
    free_agent,
    packet_of,
)
from services.agent_desk.teams import AssignmentMode, Overflow, Routing, facts_of, route
from services.agent_desk.whole_emails import WholeEmails, whole_text
from shared.channel_names import CHANNEL_NAMES, channel_number
from shared.errors import (
    ContractError,
    InvalidInputError,
    NotFoundError,
    RapportError,
    RefusedError,
)
from shared.kafka.codec import derived_event_id, new_envelope
from shared.kafka.producer import Publisher
from shared.kafka.topics import AGENT_ACTIONS
from shared.sending import AGENT_REPLY

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def held_by(agent_id: str, now: datetime) -> dict[str, Any]:
    """The changes that give a ticket to an agent (its first claim kept if it had one)."""
    return {
        "status": TicketStatus.CLAIMED.value,
        "assignee_id": agent_id,
        "claimed_at": first_time(Ticket.claimed_at, now),
    }


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


def spoken(length: timedelta) -> str:
    """``45 seconds``, ``5 minutes``: an overflow's wait in its history."""
    seconds = length.total_seconds()
    return f"{seconds:g} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"


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
        routing: Routing,
        max_reply_chars: int,
        feedback: FeedbackStore,
        emails: WholeEmails,
        clock: Clock = utc_now,
    ) -> None:
        self._feedback = feedback
        self._emails = emails
        self._store = store
        self._outgoing = outgoing
        self._context = context
        self._live = live
        self._media = media
        self._routing = routing
        self._max_reply_chars = max_reply_chars
        self.notices = notices
        self._clock = clock
        # One pass of automatic assignment at a time, so two never count the same free
        # place (several desk processes rely on the database's check alone).
        self._assigning = asyncio.Lock()

    # Intake (the consumer's handler: handoffs, ratings, customers' messages)

    async def __call__(self, event: Message) -> None:
        if isinstance(event, handoff_pb2.HandoffRequested):
            await self._take_handoff(event)
        elif isinstance(event, feedback_pb2.SatisfactionRated):
            await self._record_rating(event)
        elif isinstance(event, feedback_pb2.FeedbackGiven):
            if await self._feedback.record(event, self._clock()):
                log.info("feedback recorded for conversation %s", event.envelope.conversation_id)
        elif isinstance(event, messages_pb2.MessageReceived):
            await self._customer_wrote(event)
        elif isinstance(event, messages_pb2.MessageDeliveryUpdated):
            await self._delivery_updated(event)
        else:
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")

    async def _take_handoff(self, event: handoff_pb2.HandoffRequested) -> None:
        tier = await self._store.tier_of(event.envelope.customer.customer_id)
        routed = route(self._routing, facts_of(event, tier))
        ticket, outcome = await self._store.record_handoff(
            event, routed.team, self._clock(), routed.why
        )
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
            log.info("handoff %s: ticket %s in team %s", outcome.value, ticket.id, ticket.team)
        if outcome is HandoffOutcome.QUEUED:
            await self._assign_waiting(ticket.team)
        # The handoff that opened the ticket (or its redelivery, after a crash before the
        # notice) tells the customer at once, unless they have been told already.
        if ticket.id == event.envelope.event_id and ticket.holding_sent_at is None:
            await self.notices.handed_off(ticket, event.envelope)

    async def _record_rating(self, event: feedback_pb2.SatisfactionRated) -> None:
        nps = event.scale == feedback_pb2.RATING_SCALE_NPS_10
        low, high = (0, 10) if nps else (1, 5)
        if not low <= event.score <= high:
            raise InvalidInputError(f"rating {event.envelope.event_id} is not {low} to {high}")
        if await self._store.record_rating(event, self._clock()):
            if not nps:
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
        await self._emails.record(event, now)
        ticket = await self._store.open_ticket_of(envelope.conversation_id)
        if ticket is None:
            return
        message = CustomerMessage(
            envelope.event_id,
            event.text,
            channel_label(envelope.channel),
            sent_at,
            tuple(event.attachments),
            " ".join(event.subject.split()),
            whole_text(event),
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

    async def emails_of(self, ticket: Ticket) -> dict[str, CustomerEmail]:
        """The whole of the customer's emails in the ticket's conversation, by event id."""
        return await self._emails.of_conversation(ticket.conversation_id)

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

    async def history_of(self, ticket: Ticket) -> list[TicketEvent]:
        """Where routing put the ticket, who took it, where it moved: oldest first."""
        return await self._store.history(ticket.id)

    async def workloads(self, agent: Agent) -> list[tuple[Agent, int]]:
        """Active accounts with the conversations each holds: the agent's own; a
        supervisor's team; every team for an admin."""
        role = Role(agent.role)
        team = None if role is Role.ADMIN else agent.team
        loads = await self._store.loads()
        return [
            (a, loads.get(a.id, 0))
            for a in await self._store.agents(team)
            if a.active and (role.at_least(Role.SUPERVISOR) or a.id == agent.id)
        ]

    async def recent_loads(self, agents: Sequence[Agent]) -> dict[str, RecentLoad]:
        """What each account carried lately, from its customers' messages only
        (``load.py``): shown to the agent and their supervisor, weighed by routing."""
        now = self._clock()
        taken = await self._store.taken_since([a.id for a in agents], now - WINDOW)
        return {a.id: recent_load(taken.get(a.id, ()), now, a.availability_since) for a in agents}

    async def set_availability(self, agent: Agent, availability: Availability) -> Agent:
        """The agent says whether they take new conversations; coming online, they are
        given what waits for them at once."""
        changed = await self._store.set_availability(agent.id, availability, self._clock())
        self._live.notify(TeamChanged(changed.team))
        log.info("agent %s is %s", changed.id, availability.value)
        await self._assign_waiting(changed.team)
        return changed

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
        # Tickets back in a queue, or a new capacity or team, may let someone be given more.
        for team in sorted({t.team for t in change.requeued} | {change.agent.team}):
            await self._assign_waiting(team)
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
            changes=held_by(agent.id, now),
            note=Note(TicketEventKind.CLAIMED, agent.id, agent.id),
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
            changes=held_by(target.id, now),
            note=Note(
                TicketEventKind.ASSIGNED if supervising else TicketEventKind.TRANSFERRED,
                actor.id,
                target.id,
            ),
        )
        self._first_claim(ticket, assigned)
        if assigned.applied and ticket.assignee_id not in (None, target.id):
            await self._assign_waiting(ticket.team)  # its former holder has room now
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
        if missing := unfilled(text):
            names = ", ".join(f"{{{name}}}" for name in missing)
            raise InvalidInputError(f"Fill in {names} before sending: the customer would see it.")
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

    async def tag(self, agent: Agent, ticket_id: str, tags: Sequence[str]) -> Ticket:
        """Label the ticket (a macro's ``tag:`` steps); labels already on it stay once."""
        ticket = await self.visible_ticket(agent, ticket_id)
        tagged = await self._store.add_tags(ticket.id, tags, self._clock())
        if tagged.tags != ticket.tags:
            await self._changed(tagged)
        return tagged

    async def run_macro(
        self, agent: Agent, ticket_id: str, actions: Sequence[MacroAction], action_id: str
    ) -> Ticket:
        """A macro's steps once its reply is sent: the tags, then the one step (if any)
        that ends the agent's part: resolve, give back to the bot, or move to a team."""
        ticket = await self.visible_ticket(agent, ticket_id)
        tags = [action.value for action in actions if action.step is MacroStep.TAG]
        if tags:
            ticket = await self.tag(agent, ticket_id, tags)
        for action in actions:
            if action.step is MacroStep.RESOLVE:
                ticket = await self.resolve(agent, ticket_id, action_id)
            elif action.step is MacroStep.RETURN:
                ticket = await self.give_back(agent, ticket_id, action_id)
            elif action.step is MacroStep.TRANSFER:
                ticket = await self.move_to_team(agent, ticket_id, action.value, action_id)
        return ticket

    async def known_teams(self) -> list[str]:
        """The teams the routing file declares and those accounts belong to."""
        accounts = {a.team for a in await self._store.agents() if a.active}
        return sorted(set(self._routing.teams) | accounts)

    async def move_to_team(self, agent: Agent, ticket_id: str, team: str, action_id: str) -> Ticket:
        """The holder (or a supervisor) puts the conversation in another team's queue,
        where it waits afresh and is given out by that team's assignment mode."""
        ticket = await self.visible_ticket(agent, ticket_id)
        if team == ticket.team:
            return ticket
        if team not in await self.known_teams():
            raise InvalidInputError(f"there is no team {team!r} to move it to")
        supervising = Role(agent.role).at_least(Role.SUPERVISOR)
        if not supervising and ticket.assignee_id != agent.id:
            raise AccessDenied("only a supervisor or the agent holding it can move it")
        now = self._clock()
        moved = await self._store.transition(
            ticket.id,
            event_id=action_event_id(ticket.id, f"moved:{team}", action_id),
            allowed={TicketStatus.WAITING, TicketStatus.CLAIMED},
            holder=None if supervising else agent.id,
            changes={
                "team": team,
                "team_since": now,
                "status": TicketStatus.WAITING.value,
                "assignee_id": None,
            },
            now=now,
            where=[Ticket.team == ticket.team],
            note=Note(
                TicketEventKind.TRANSFERRED,
                agent.id,
                from_team=ticket.team,
                detail=f"moved to {team} by {agent.name}",
            ),
        )
        if moved.applied:
            self._live.notify(TicketChanged(ticket.id, ticket.team))  # gone from the old queue
            await self._changed(moved.ticket)
            await self._assign_waiting(team)
            await self._assign_waiting(ticket.team)  # its holder has room now
        return moved.ticket

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
        closed = await self._act(
            ticket,
            agent,
            kind,
            event_id=action_event_id(ticket.id, status.value, action_id),
            allowed={TicketStatus.CLAIMED},
            holder=None if supervising else agent.id,
            changes={"status": status.value, stamp: self._clock(), **(readings or {})},
            note=Note(TicketEventKind(status.value), agent.id),
        )
        if closed.applied:
            await self._assign_waiting(ticket.team)  # its holder has room for another
        return closed

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
        where: Sequence[ColumnElement[bool]] = (),
        note: Note | None = None,
    ) -> Transition:
        """Change the ticket (if ``where`` holds too) and write ``kind`` for ``agent`` to
        the outbox (with the messages it is ``sending``, to the ticket's customer unless
        ``route`` says otherwise) and its ``note`` to the ticket's history, in one
        transaction; an action already done (``event_id`` seen) changes nothing."""
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
            where=where,
            note=note,
        )
        if done.applied:
            name = agent_pb2.AgentActionKind.Name(kind).removeprefix("AGENT_ACTION_KIND_")
            ACTIONS.labels(name.lower()).inc()
            await self._changed(done.ticket)
        return done

    # Routing: automatic assignment, overflow, and the periodic sweep

    async def _assign_waiting(self, team: str) -> None:
        """In a team that assigns, give its waiting tickets, in queue order, to the agents
        free to take them (``routing.assignments``)."""
        mode = self._routing.policy(team).assignment
        if mode is AssignmentMode.MANUAL:
            return
        async with self._assigning:
            tickets = {t.id: t for t in await self._store.open_tickets(team)}
            waiting = team_queue(team, (entry_of(t) for t in tickets.values()), self._clock())
            if not waiting:
                return
            takers, agents = await self._takers(team)
            last = await self._store.last_assigned(team)
            for ticket_id, agent_id in assignments(mode, waiting, takers, last):
                await self._give(tickets[ticket_id], agents[agent_id], mode)

    async def _takers(self, team: str) -> tuple[list[Taker], dict[str, Agent]]:
        """The team's active accounts as assignment sees them (in turn order), by id."""
        agents = [a for a in await self._store.agents(team) if a.active]
        loads = await self._store.loads()
        carried = await self.recent_loads(agents)
        takers = [taker_of(a, loads.get(a.id, 0), carried[a.id].weight) for a in agents]
        return takers, {a.id: a for a in agents}

    async def _give(self, ticket: Ticket, agent: Agent, mode: AssignmentMode) -> None:
        """The desk claims ``ticket`` for ``agent``, as they would (the orchestrator hears
        the same event), if both are still as the plan saw them when it is written."""
        now = self._clock()
        try:
            given = await self._act(
                ticket,
                agent,
                agent_pb2.AGENT_ACTION_KIND_CLAIMED,
                # Two passes over the same ticket in the same state write one event.
                event_id=derived_event_id(
                    ticket.id, f"given:{agent.id}:{ticket.updated_at.isoformat()}"
                ),
                allowed={TicketStatus.WAITING},
                holder=None,
                changes=held_by(agent.id, now),
                where=[free_agent(agent.id), Ticket.team == ticket.team],
                note=Note(
                    TicketEventKind.ASSIGNED, agent_id=agent.id, detail=mode.value.replace("_", " ")
                ),
            )
        except RefusedError:  # claimed, moved, or the agent busy or away meanwhile
            log.info("ticket %s not given to %s: it or they changed", ticket.id, agent.id)
            return
        self._first_claim(ticket, given)
        if given.applied:
            ASSIGNMENTS.labels(mode.value).inc()
            log.info("ticket %s given to %s (%s)", ticket.id, agent.id, mode.value)

    async def _overflow(self) -> None:
        """Move each waiting ticket nobody in its team could be given, once it has waited
        there the team's time, to the team's fallback."""
        now = self._clock()
        for team, policy in self._routing.teams.items():
            if policy.overflow is None:
                continue
            waiting = [
                t for t in await self._store.open_tickets(team) if t.status == TicketStatus.WAITING
            ]
            if not waiting:
                continue
            takers, _agents = await self._takers(team)
            for ticket in waiting:
                if overflow_due(entry_of(ticket), ticket.team_since, policy.overflow, takers, now):
                    await self._move(ticket, policy.overflow, now)

    async def _move(self, ticket: Ticket, overflow: Overflow, now: datetime) -> None:
        """Put the ticket in the fallback team's queue, where its wait starts anew, unless
        it was claimed or moved meanwhile; both teams' queues hear of it."""
        try:
            moved = await self._store.transition(
                ticket.id,
                event_id=derived_event_id(
                    ticket.id, f"overflow:{ticket.team}:{ticket.team_since.isoformat()}"
                ),
                allowed={TicketStatus.WAITING},
                holder=None,
                changes={"team": overflow.to, "team_since": now},
                now=now,
                where=[Ticket.team == ticket.team],
                note=Note(
                    TicketEventKind.OVERFLOWED,
                    from_team=ticket.team,
                    detail=f"nobody in {ticket.team} was free to take it "
                    f"within {spoken(overflow.after)}",
                ),
            )
        except RefusedError:  # claimed or moved meanwhile
            return
        OVERFLOWS.labels(channel_label(ticket.channel)).inc()
        log.info("ticket %s moved from %s to %s", ticket.id, ticket.team, overflow.to)
        self._live.notify(TicketChanged(ticket.id, ticket.team))  # gone from the old queue
        await self._changed(moved.ticket)
        await self._assign_waiting(overflow.to)

    async def sweep(self) -> None:
        """One periodic pass: overflow; assignment in every team that assigns (agents
        set online from the command line, changes another desk process made); the
        waiting customers' notices."""
        await self._overflow()
        for team, policy in self._routing.teams.items():
            if policy.assignment is not AssignmentMode.MANUAL:
                await self._assign_waiting(team)
        await self.notices.sweep()

    async def run_sweeps(self, interval: float, stop: asyncio.Event) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set; an outage is waited out."""
        while not stop.is_set():
            try:
                await self.sweep()
            except (RapportError, SQLAlchemyError) as exc:
                log.warning("the sweep did not finish, trying again: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
