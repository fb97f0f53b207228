"""The messages the desk had sent to customers, and their delivery as reported.

Rows are written with the action that sends them (``DeskStore.transition``); this module
reads them and applies the adapters' reports. A report changes a row only from the
status it was read at (a conditional update), so two reports about one message handled
at once (the adapter's own and the platform's receipt arrive on different keys) never
take it backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rapport.common.v1 import envelope_pb2
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.attachments import Outgoing
from services.agent_desk.delivery import DeliveryStatus, Report, advances
from services.agent_desk.models import Agent, OutgoingMessage, Ticket
from shared.channel_names import channel_name
from shared.voice.replies import VOICE

MAX_ERROR_CHARS = 500
ATTEMPTS = 3
"""Reads of a message before giving up on a report that keeps losing to another."""


def channel_label(channel: int) -> str:
    return channel_name(channel)  # type: ignore[arg-type]


Route = tuple[int, envelope_pb2.CustomerRef]
"""Where a message goes: the channel, and the customer with their address on it."""


def sent_message(
    ticket: Ticket,
    send_event_id: str,
    route: Route,
    text: str,
    now: datetime,
    *,
    author: Agent | None = None,
    resend_of: str | None = None,
    attachment: Outgoing | None = None,
) -> OutgoingMessage:
    """The record of a message the desk is sending (an agent's, else the bot's)."""
    channel, customer = route
    return OutgoingMessage(
        send_event_id=send_event_id,
        ticket_id=ticket.id,
        conversation_id=ticket.conversation_id,
        channel=channel,
        address=customer.address,
        sender="agent" if author else "bot",
        author_id=author.id if author else None,
        author_name=author.name if author else VOICE.name,
        text=text,
        attachment=attachment.as_json() if attachment else None,
        resend_of=resend_of,
        status=DeliveryStatus.PENDING.value,
        error_code="",
        error_message="",
        created_at=now,
        updated_at=now,
    )


class OutgoingMessages:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def message(self, send_event_id: str) -> OutgoingMessage | None:
        async with self._sessions() as session:
            return await session.get(OutgoingMessage, send_event_id)

    async def of_conversation(self, conversation_id: str) -> list[OutgoingMessage]:
        """The conversation's messages, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(OutgoingMessage)
                .where(OutgoingMessage.conversation_id == conversation_id)
                .order_by(OutgoingMessage.created_at)
            )
            return list(rows)

    async def record(
        self, send_event_id: str, report: Report, now: datetime
    ) -> OutgoingMessage | None:
        """Apply ``report`` to the message it is about (by its send event id, else the
        platform's message id); the message when its status changed, None when the
        report is about no message of the desk's, or is a repeat or out of date."""
        for _ in range(ATTEMPTS):
            async with self._sessions() as session, session.begin():
                message = await _find(session, send_event_id, report.provider_message_id)
                if message is None:
                    return None
                current = DeliveryStatus(message.status)
                moves = advances(current, report.status)
                changes = _changes(message, report, moves, now)
                if not changes:
                    return None
                result = await session.execute(
                    update(OutgoingMessage)
                    .where(
                        OutgoingMessage.send_event_id == message.send_event_id,
                        OutgoingMessage.status == current.value,
                    )
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    changed = await session.get(
                        OutgoingMessage, message.send_event_id, populate_existing=True
                    )
                    return changed if moves else None
        return None


async def _find(
    session: AsyncSession, send_event_id: str, provider_message_id: str
) -> OutgoingMessage | None:
    if send_event_id:
        return await session.get(OutgoingMessage, send_event_id, populate_existing=True)
    if not provider_message_id:
        return None
    found: OutgoingMessage | None = await session.scalar(
        select(OutgoingMessage)
        .where(OutgoingMessage.provider_message_id == provider_message_id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return found


def _changes(
    message: OutgoingMessage, report: Report, moves: bool, now: datetime
) -> dict[str, Any]:
    """The columns a report changes: the platform's id when first learnt, and the status
    with its problem when it moves forward."""
    changes: dict[str, Any] = {}
    if report.provider_message_id and not message.provider_message_id:
        changes["provider_message_id"] = report.provider_message_id
    if moves:
        changes.update(
            status=report.status.value,
            problem=report.problem.value if report.problem else None,
            error_code=report.error_code[:64],
            error_message=report.error_message[:MAX_ERROR_CHARS],
            updated_at=now,
        )
    return changes
