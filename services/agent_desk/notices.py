"""The notices a customer waiting for a person reads (``waiting.py`` decides what and
when): at once when their handoff joins the queue, in answer to what they write while
they wait, after a burst once the guard has passed (the desk's sweep), and one apology
when the wait runs over the limit, which also marks the ticket overdue for supervisors.

Each notice is sent like the desk's other messages: the ticket's change and the
``SendMessage`` written to the outbox in one transaction, the text stored as a bot turn
with its decision record and followed for delivery, under an id derived from its cause
(the handoff, the customer's message, the ticket for the apology), so a redelivery, a
retried sweep or a second desk process sends it once. The update wins only while the
ticket is as it was read (``holding_sent_at``, ``overdue_at``), so two messages read at
once earn one notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapport.common.v1 import envelope_pb2
from sqlalchemy import ColumnElement

from services.agent_desk.live import LiveUpdates, TicketChanged
from services.agent_desk.metrics import HOLDING_MESSAGES, OVERDUE_TICKETS
from services.agent_desk.models import Ticket, TicketStatus
from services.agent_desk.outgoing import channel_label, sent_message
from services.agent_desk.routing import position_in_line
from services.agent_desk.store import DeskStore, entry_of, packet_of
from services.agent_desk.waiting import Answer, WaitingRules, answer_to, notice, rounded
from shared.errors import RefusedError
from shared.kafka.codec import caused_by
from shared.kafka.producer import Publisher
from shared.sending import TurnWriter, send_bot_message, step_record
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Occasion:
    """Why a notice goes out: the purpose its id is derived under from its cause, and
    what its decision record says."""

    purpose: str
    code: str
    why: str
    template: str


QUEUED = Occasion(
    "queued-notice",
    "waiting_for_agent",
    "The conversation joined the queue for a person",
    "holding/queue_position",
)
ANSWERED = Occasion(
    "queue-position",  # as before: a message answered earlier keeps its notice's id
    "waiting_for_agent",
    "The customer wrote while waiting for a person",
    "holding/queue_position",
)
OVERDUE = Occasion(
    "overdue-notice",
    "wait_over_limit",
    "The customer has waited longer than the desk's limit",
    "holding/overdue",
)


class WaitingNotices:
    def __init__(
        self,
        *,
        store: DeskStore,
        context: TurnWriter,
        live: LiveUpdates,
        rules: WaitingRules,
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._context = context
        self._live = live
        self._rules = rules
        self._clock = clock

    async def handed_off(self, ticket: Ticket, handoff: envelope_pb2.Envelope) -> None:
        """A new ticket joined the queue: tell the customer at once (unless the handoff
        is a replay of an old one)."""
        now = self._clock()
        answer = answer_to(
            waiting=ticket.status == TicketStatus.WAITING,
            sent_at=ticket.handed_off_at,
            last_notice=None,
            now=now,
            rules=self._rules,
        )
        if answer is Answer.NOW:
            await self._tell(ticket, handoff, QUEUED, now)

    async def customer_wrote(
        self, ticket: Ticket, message: envelope_pb2.Envelope, sent_at: datetime
    ) -> None:
        """Answer a waiting customer's message now, or after the burst guard."""
        now = self._clock()
        answer = answer_to(
            waiting=ticket.status == TicketStatus.WAITING,
            sent_at=sent_at,
            last_notice=ticket.holding_sent_at,
            now=now,
            rules=self._rules,
        )
        if answer is Answer.NOW:
            await self._tell(ticket, message, ANSWERED, now, in_reply_to=message.event_id)
        elif answer is Answer.LATER:
            await self._store.owe_notice(ticket.id, message.event_id, now)

    async def sweep(self) -> None:
        """Answer the messages the burst guard held back, and apologise once to each
        customer waiting longer than the limit (the desk's periodic sweep runs it)."""
        now = self._clock()
        for ticket in await self._store.owed_notices(now - self._rules.gap):
            cause = _cause(ticket, ticket.unanswered_event_id or ticket.id)
            await self._tell(ticket, cause, ANSWERED, now, in_reply_to=cause.event_id)
        for ticket in await self._store.overdue(now - self._rules.limit):
            await self._tell(ticket, _cause(ticket, ticket.id), OVERDUE, now)

    async def _tell(
        self,
        ticket: Ticket,
        cause: envelope_pb2.Envelope,
        occasion: Occasion,
        now: datetime,
        in_reply_to: str = "",
    ) -> None:
        entries = [entry_of(t) for t in await self._store.open_tickets(ticket.team)]
        position = position_in_line(ticket.id, ticket.team, entries, now)
        if position is None:
            return
        waits = await self._store.recent_waits(ticket.team, now - self._rules.estimate_window)
        said = notice(position, waits, self._rules, now)
        overdue = occasion is OVERDUE
        reply = (
            VOICE.overdue_notice(ticket.language, position, rounded(self._rules.limit), said.back)
            if overdue
            else VOICE.queue_position(ticket.language, position, wait=said.wait, back=said.back)
        )
        customer = packet_of(ticket).envelope.customer
        envelope = caused_by(cause, occasion.purpose, customer)
        record = step_record(
            occasion.code,
            f"{occasion.why}; the desk told them they are {said.explanation()}.",
            occasion.template,
            reply,
            action="holding",
        )

        async def send(_ticket: Ticket, outbox: Publisher) -> None:
            await send_bot_message(
                self._context, outbox, envelope, reply, record, VOICE.name, in_reply_to
            )

        changes: dict[str, Any] = {"holding_sent_at": now, "unanswered_event_id": None}
        last = Ticket.holding_sent_at
        where: ColumnElement[bool] = (
            last.is_(None) if ticket.holding_sent_at is None else last == ticket.holding_sent_at
        )
        if overdue:
            changes["overdue_at"] = now
            where = Ticket.overdue_at.is_(None)
        try:
            told = await self._store.transition(
                ticket.id,
                event_id=envelope.event_id,
                allowed={TicketStatus.WAITING},
                holder=None,
                changes=changes,
                now=now,
                announce=send,
                sending=[
                    sent_message(
                        ticket, envelope.event_id, (ticket.channel, customer), reply.text, now
                    )
                ],
                where=[where],
            )
        except RefusedError:
            return  # claimed meanwhile, or another notice won
        if not told.applied:  # answered before: nothing is owed for it any more
            await self._store.settle_notice(ticket.id, cause.event_id)
            return
        channel = channel_label(ticket.channel)
        HOLDING_MESSAGES.labels(channel).inc()
        if overdue:
            OVERDUE_TICKETS.labels(channel).inc()
            self._live.notify(TicketChanged(ticket.id, ticket.team))
            log.info("ticket %s overdue: the customer was told", ticket.id)


def _cause(ticket: Ticket, event_id: str) -> envelope_pb2.Envelope:
    """The handoff's envelope (conversation, channel, trace) under ``event_id``: the cause
    a notice the sweep sends is derived from."""
    cause = envelope_pb2.Envelope()
    cause.CopyFrom(packet_of(ticket).envelope)
    cause.event_id = event_id
    return cause
