"""The queue's rows, shaped for ``_queue.html`` (which escapes every string it prints).

A waiting row tells an agent who is waiting (name, else the handle the channel knows
them by), where (the channel), what they last wrote, for how long, how urgent it is and
why (the first reason only: the conversation page lists them all), and how their mood
goes. The name, the last message and the mood come from the context service, as on the
conversation page, so both pages say the same; the handoff packet stands in when the
context cannot be read. Every row names the ticket's team (an admin sees every team, and
a ticket may have overflowed from another).

A work row says whether an account takes new conversations and how many it holds
against its capacity: the agent's own, and a supervisor's whole team.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk.attachments import sent_media
from services.agent_desk.history import EmotionChart, chart_of
from services.agent_desk.models import Agent, Ticket
from services.agent_desk.store import packet_of
from shared.channel_names import PHONE_CHANNELS, channel_name

LAST_MESSAGE_CHARS = 120
ELLIPSIS = "…"


@dataclass(frozen=True)
class Who:
    """The customer as a row names them: ``label`` is "" when nothing names them."""

    label: str
    channel: str


@dataclass(frozen=True)
class WaitingRow:
    ticket: Ticket
    who: Who
    last_message: str
    waiting: str
    top_reason: str
    chart: EmotionChart | None
    sent_media: bool


@dataclass(frozen=True)
class HeldRow:
    ticket: Ticket
    who: Who
    holder: str


def handle_of(packet: handoff_pb2.HandoffRequested) -> str:
    """The address a person recognises: a phone number (the ticket's own, else another
    verified one). Other channels' addresses are opaque ids (page-scoped ids, chat ids,
    web visitor tokens) that tell an agent nothing, so they are no handle."""
    refs = [packet.envelope.customer, *packet.identities]
    return next((r.address for r in refs if r.channel in PHONE_CHANNELS and r.address), "")


def who_of(display_name: str, packet: handoff_pb2.HandoffRequested) -> Who:
    """The name the customer gave, else their handle, on the ticket's channel."""
    return Who(display_name or handle_of(packet), channel_name(packet.envelope.channel))


def truncated(text: str, limit: int = LAST_MESSAGE_CHARS) -> str:
    """``text`` on one line, cut at a word within ``limit`` characters (an ellipsis
    included) so a long message does not push the queue apart."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - len(ELLIPSIS)]
    word_end = cut.rfind(" ")
    return (cut[:word_end] if word_end > limit // 2 else cut).rstrip() + ELLIPSIS


def waiting_for(since: datetime, now: datetime) -> str:
    """``waiting 4 min``: whole minutes (hours past the hour), never negative."""
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 1:
        return "waiting under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"waiting {hours} h {minutes} min" if hours else f"waiting {minutes} min"


def last_customer_message(context: context_pb.GetContextResponse, conversation_id: str) -> str:
    """What the customer last wrote in this conversation ("" when unknown)."""
    written = [
        turn
        for turn in context.recent_turns
        if turn.role == context_pb.ROLE_CUSTOMER
        and turn.conversation_id == conversation_id
        and turn.text
    ]
    latest = max(written, key=lambda t: (t.occurred_at.ToDatetime(), t.sequence), default=None)
    return latest.text if latest else ""


def top_reason(packet: handoff_pb2.HandoffRequested) -> str:
    """The first reason (the one the decision ranks first) in words."""
    first = packet.reasons[0] if packet.reasons else None
    return (first.explanation or first.code) if first else ""


def waiting_row(
    ticket: Ticket, context: context_pb.GetContextResponse, now: datetime
) -> WaitingRow:
    packet = packet_of(ticket)
    return WaitingRow(
        ticket=ticket,
        who=who_of(context.customer.display_name or ticket.customer_name, packet),
        last_message=truncated(last_customer_message(context, ticket.conversation_id)),
        waiting=waiting_for(ticket.handed_off_at, now),
        top_reason=top_reason(packet),
        chart=chart_of(context, packet, 160, 36),
        sent_media=sent_media(packet),
    )


def held_row(ticket: Ticket, holder: str) -> HeldRow:
    return HeldRow(ticket, who_of(ticket.customer_name, packet_of(ticket)), holder)


@dataclass(frozen=True)
class WorkRow:
    agent_id: str
    name: str
    team: str
    availability: str
    since: datetime | None
    load: int
    capacity: int

    @property
    def full(self) -> bool:
        """At capacity: the desk gives them nothing more for now."""
        return self.load >= self.capacity


def work_row(agent: Agent, load: int) -> WorkRow:
    return WorkRow(
        agent.id,
        agent.name,
        agent.team,
        agent.availability,
        agent.availability_since,
        load,
        agent.capacity,
    )
