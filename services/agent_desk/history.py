"""The conversation view's data: the customer's history from the context service, and the
handoff packet, shaped for the template (which escapes every string it prints).

The timeline merges ``GetContext`` (the customer's latest turns on every channel) with
``ListTurns`` (every turn of this conversation), so the conversation being handled is
whole even when it is longer than the cross-channel window, with the messages the desk
sent (a turn carries its message's id): each shows how far its delivery got, and one the
orchestrator has not stored yet shows already; and with the ticket's own history (the
team routing chose, who took it, an overflow to another team) in words. A turn's attachments show as
``attachments.py`` describes; the desk opens a customer's media, and an agent's own
image or PDF, but no other role's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Protocol

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk.attachments import AttachmentView, Outgoing, open_path, views_of
from services.agent_desk.delivery import (
    FINAL,
    PROBLEM_TEXT,
    STATUS_TEXT,
    DeliveryStatus,
    Problem,
    explanation,
)
from services.agent_desk.models import (
    CustomerEmail,
    OutgoingMessage,
    TicketEvent,
    TicketEventKind,
)
from shared.channel_names import PHONE_CHANNELS, channel_name
from shared.grpc.context_client import ContextClient

_ROLES = {
    context_pb.ROLE_CUSTOMER: "customer",
    context_pb.ROLE_BOT: "bot",
    context_pb.ROLE_AGENT: "agent",
    context_pb.ROLE_SYSTEM: "system",
}


NEUTRAL = "neutral"
NO_EMAILS: Mapping[str, CustomerEmail] = MappingProxyType({})
PHONE_CHANNEL_NAMES = frozenset(channel_name(channel) for channel in PHONE_CHANNELS)


class HistoryPort(Protocol):
    async def history(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> tuple[context_pb.GetContextResponse, list[context_pb.Turn]]: ...


class ContextHistory:
    """Reads a customer's context and a conversation's turns from the context service."""

    def __init__(self, client: ContextClient) -> None:
        self._client = client

    async def history(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> tuple[context_pb.GetContextResponse, list[context_pb.Turn]]:
        context = await self._client.get_context(customer_id, conversation_id, max_turns)
        return context, await self._client.list_turns(conversation_id)


@dataclass(frozen=True)
class DecisionView:
    action: str
    reasons: list[str]
    priority: float
    template: str
    language: str


@dataclass(frozen=True)
class DeliveryView:
    """How far one of the desk's messages got, as the agent reads it."""

    send_event_id: str
    status: str
    label: str
    problem: str
    problem_text: str
    explanation: str
    # Did not get through and was not sent again yet: the agent may send it again.
    may_resend: bool
    resent: bool


@dataclass(frozen=True)
class TimelineEntry:
    occurred_at: datetime
    channel: str
    role: str
    author: str
    text: str
    emotion: str
    decision: DecisionView | None
    this_conversation: bool
    event_id: str = ""
    delivery: DeliveryView | None = None
    attachments: tuple[AttachmentView, ...] = ()
    # A customer's email: its subject, and the whole of it when ``text`` is only the
    # new words (shown collapsed).
    subject: str = ""
    whole_email: str = ""


@dataclass(frozen=True)
class ReasonView:
    explanation: str
    code: str
    confidence_percent: int


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class EmotionChart:
    """Sentiment over time as an inline SVG polyline: +1 at the top, -1 at the bottom."""

    width: int
    height: int
    points: list[ChartPoint]
    trend: str

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class IdentityView:
    channel: str
    address: str
    verified: bool


@dataclass(frozen=True)
class ConsentView:
    emotion_analysis_allowed: bool
    marketing_allowed: bool
    sms_opted_out: bool


def timeline(
    recent: list[context_pb.Turn],
    listed: list[context_pb.Turn],
    conversation_id: str,
    ticket_id: str,
    sent: Sequence[OutgoingMessage] = (),
    changes: Sequence[TimelineEntry] = (),
    emails: Mapping[str, CustomerEmail] = NO_EMAILS,
) -> list[TimelineEntry]:
    """Every turn once, oldest first, across channels, with the delivery of the desk's
    messages among them (and those not stored as turns yet) and the ticket's
    ``changes`` (``ticket_entries``), and a customer's turn with the whole of its email
    (``emails`` by event id); attachments open through the page of ``ticket_id``."""
    turns = {t.event_id: t for t in [*recent, *listed]}
    messages = {m.send_event_id: m for m in sent}
    resent = {m.resend_of for m in sent if m.resend_of}
    keyed = [
        (
            (t.occurred_at.ToDatetime(tzinfo=UTC), t.sequence),
            _turn_entry(t, conversation_id, ticket_id, messages.get(t.event_id), resent, emails),
        )
        for t in turns.values()
    ]
    keyed.extend(
        ((m.created_at, 0), _message_entry(m, ticket_id, resent))
        for m in sent
        if m.send_event_id not in turns
    )
    keyed.extend(((change.occurred_at, 0), change) for change in changes)
    return [entry for _key, entry in sorted(keyed, key=lambda pair: pair[0])]


def ticket_line(event: TicketEvent, names: Mapping[str, str]) -> str:
    """A change of the ticket in words: "Maria claimed it", "Moved from team care to
    support: nobody in care was free to take it within 5 minutes"."""
    actor = names.get(event.actor_id, "?") if event.actor_id else ""
    agent = names.get(event.agent_id, "?") if event.agent_id else ""
    match TicketEventKind(event.kind):
        case TicketEventKind.QUEUED:
            return f"Queued for team {event.team} ({event.detail})"
        case TicketEventKind.CLAIMED:
            return f"{actor} claimed it"
        case TicketEventKind.ASSIGNED if not actor:
            return f"Given to {agent} by the desk ({event.detail})"
        case TicketEventKind.ASSIGNED:
            return f"{actor} assigned it to {agent}"
        case TicketEventKind.TRANSFERRED:
            return f"{actor} transferred it to {agent}"
        case TicketEventKind.OVERFLOWED:
            return f"Moved from team {event.from_team} to {event.team}: {event.detail}"
        case TicketEventKind.REQUEUED:
            return f"Back in team {event.team}'s queue: {event.detail}"
        case TicketEventKind.RETURNED:
            return f"{actor} gave it back to the bot"
        case TicketEventKind.RESOLVED:
            return f"{actor} resolved it"


def ticket_entries(events: Sequence[TicketEvent], names: Mapping[str, str]) -> list[TimelineEntry]:
    """The ticket's history as timeline entries of the desk; ``names`` by account id."""
    return [
        TimelineEntry(
            occurred_at=event.at,
            channel="",
            role="desk",
            author="",
            text=ticket_line(event, names),
            emotion="",
            decision=None,
            this_conversation=True,
        )
        for event in events
    ]


def _opener(ticket_id: str, event_id: str) -> Callable[[int], str]:
    return lambda index: open_path(ticket_id, event_id, index)


def _turn_entry(
    turn: context_pb.Turn,
    conversation_id: str,
    ticket_id: str,
    message: OutgoingMessage | None,
    resent: set[str],
    emails: Mapping[str, CustomerEmail],
) -> TimelineEntry:
    role = _ROLES.get(turn.role, "system")
    email = emails.get(turn.event_id) if role == "customer" else None
    # The desk opens customers' media (through their adapters) and its own uploads.
    openable = role == "customer" or (message is not None and message.attachment is not None)
    return TimelineEntry(
        occurred_at=turn.occurred_at.ToDatetime(tzinfo=UTC),
        channel=channel_name(turn.channel),
        role=role,
        author=message.author_name if message else turn.author,
        text=turn.text,
        emotion=(
            feeling(turn.emotion.dominant_emotion, turn.emotion.intensity)
            if turn.HasField("emotion")
            else ""
        ),
        decision=_decision(turn) if turn.HasField("decision") else None,
        this_conversation=turn.conversation_id == conversation_id,
        event_id=turn.event_id,
        delivery=delivery_view(message, message.send_event_id in resent) if message else None,
        attachments=views_of(
            turn.attachments, _opener(ticket_id, turn.event_id) if openable else None
        ),
        subject=email.subject if email else "",
        whole_email=email.full_text if email else "",
    )


def _message_entry(message: OutgoingMessage, ticket_id: str, resent: set[str]) -> TimelineEntry:
    """A message the desk sent that the context service has not stored yet."""
    attachments = [Outgoing.from_json(message.attachment).message()] if message.attachment else []
    return TimelineEntry(
        occurred_at=message.created_at,
        channel=channel_name(message.channel),  # type: ignore[arg-type]
        role=message.sender,
        author=message.author_name,
        text=message.text,
        emotion="",
        decision=None,
        this_conversation=True,
        event_id=message.send_event_id,
        delivery=delivery_view(message, message.send_event_id in resent),
        attachments=views_of(attachments, _opener(ticket_id, message.send_event_id)),
    )


def delivery_view(message: OutgoingMessage, resent: bool) -> DeliveryView:
    status = DeliveryStatus(message.status)
    problem = Problem(message.problem) if message.problem else None
    return DeliveryView(
        send_event_id=message.send_event_id,
        status=status.value,
        label=STATUS_TEXT[status],
        problem=problem.value if problem else "",
        problem_text=PROBLEM_TEXT[problem] if problem else "",
        explanation=explanation(problem, message.error_code, message.error_message),
        may_resend=status in FINAL and not resent,
        resent=resent,
    )


def _decision(turn: context_pb.Turn) -> DecisionView:
    record = turn.decision
    return DecisionView(
        action=record.action.replace("_", " "),
        reasons=[r.explanation or r.code for r in record.reasons],
        priority=record.priority,
        template=record.template,
        language=record.language,
    )


def feeling(emotion: str, intensity: float) -> str:
    """``anger 80%``; a neutral reading is just ``neutral``: how strongly nothing was
    felt tells an agent nothing."""
    if not emotion or emotion == NEUTRAL:
        return NEUTRAL
    return f"{emotion} {intensity:.0%}"


def reasons(packet: handoff_pb2.HandoffRequested) -> list[ReasonView]:
    return [
        ReasonView(r.explanation or r.code, r.code, round(r.confidence * 100))
        for r in packet.reasons
    ]


def emotion_chart(
    points: list[tuple[float, str]], trend: str, width: int = 240, height: int = 60
) -> EmotionChart | None:
    """``points`` are (sentiment from -1 to 1, label) oldest first; None without any."""
    if not points:
        return None
    margin = 4
    step = (width - 2 * margin) / max(len(points) - 1, 1)
    return EmotionChart(
        width=width,
        height=height,
        points=[
            ChartPoint(
                x=margin + i * step,
                y=margin + (1 - (max(-1.0, min(1.0, score)) + 1) / 2) * (height - 2 * margin),
                label=label,
            )
            for i, (score, label) in enumerate(points)
        ],
        trend=trend,
    )


def trend_of(context: context_pb.GetContextResponse, packet: handoff_pb2.HandoffRequested) -> str:
    """The mood's trend both pages show: the context service's while it has readings,
    else the handoff's ("" when neither says).

    The context wins: it includes what the customer wrote after the handoff, and it is
    the trajectory both pages draw; the handoff's is a snapshot taken when the bot gave
    up, kept for when the context cannot be read.
    """
    if context.trajectory.points:
        trend = context_pb.Trend.Name(context.trajectory.trend).removeprefix("TREND_").lower()
    else:
        trend = packet.trend
    return "" if trend == "unspecified" else trend


def chart_of(
    context: context_pb.GetContextResponse,
    packet: handoff_pb2.HandoffRequested,
    width: int = 240,
    height: int = 60,
) -> EmotionChart | None:
    """From the context service's trajectory, else the one the handoff carried, with
    the trend of the same source (``trend_of``)."""
    source = context.trajectory.points or packet.trajectory
    return emotion_chart(
        [
            (
                p.sentiment_score,
                f"{feeling(p.dominant_emotion, p.intensity)} ({p.sentiment_score:+.2f})",
            )
            for p in source
        ],
        trend_of(context, packet),
        width,
        height,
    )


def identities(
    context: context_pb.GetContextResponse, packet: handoff_pb2.HandoffRequested
) -> list[IdentityView]:
    if context.customer.identities:
        return [
            IdentityView(channel_name(i.channel), i.address, i.verified)
            for i in context.customer.identities
        ]
    return [IdentityView(channel_name(i.channel), i.address, True) for i in packet.identities]


def consent(
    context: context_pb.GetContextResponse, packet: handoff_pb2.HandoffRequested
) -> ConsentView:
    source = context.consent if context.HasField("consent") else packet.consent
    return ConsentView(
        source.emotion_analysis_allowed, source.marketing_allowed, source.sms_opted_out
    )


def sms_line(shown: Sequence[IdentityView], consent: ConsentView) -> str:
    """What the SMS consent means for this customer; "" without a phone number, where
    it means nothing (a web visitor cannot be texted whatever they agreed to)."""
    if not any(identity.channel in PHONE_CHANNEL_NAMES for identity in shown):
        return ""
    return "opted out — never text" if consent.sms_opted_out else "may be texted"


def reply_window(packet: handoff_pb2.HandoffRequested) -> datetime | None:
    if not packet.HasField("reply_window_closes_at"):
        return None
    return packet.reply_window_closes_at.ToDatetime(tzinfo=UTC)


def latest_feeling(
    listed: list[context_pb.Turn], packet: handoff_pb2.HandoffRequested
) -> tuple[str | None, float]:
    """The customer's latest emotion and its intensity: from the conversation's stored
    turns, else the handoff's trajectory; (None, 0) without any reading."""
    for turn in reversed(listed):
        if turn.role == context_pb.ROLE_CUSTOMER and turn.HasField("emotion"):
            return turn.emotion.dominant_emotion or None, turn.emotion.intensity
    if packet.trajectory:
        latest = packet.trajectory[-1]
        return latest.dominant_emotion or None, latest.intensity
    return None, 0.0


def customer_entry(
    ticket_id: str,
    event_id: str,
    text: str,
    channel: str,
    sent_at: datetime,
    attachments: Sequence[envelope_pb2.Attachment] = (),
    subject: str = "",
    whole_email: str = "",
) -> TimelineEntry:
    """A message the customer just sent, as the timeline shows it (an email with its
    ``subject`` and ``whole_email``). Its media open once the orchestrator has stored the
    turn (under the message's ``event_id``), so no thumbnail is fetched yet."""
    return TimelineEntry(
        occurred_at=sent_at,
        channel=channel,
        role="customer",
        author="",
        text=text,
        emotion="",
        decision=None,
        this_conversation=True,
        event_id=event_id,
        attachments=views_of(attachments, _opener(ticket_id, event_id), thumbnails=False),
        subject=subject,
        whole_email=whole_email,
    )
