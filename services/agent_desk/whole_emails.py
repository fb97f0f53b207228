"""The customer_emails table (``models.CustomerEmail``): what an email said beyond the
new words the context service keeps, for the agent reading the conversation.

Recorded once per inbound event, read back by conversation for the timeline
(``history.timeline``), aged out with the customer's messages (``retention.py`` calls
``expire_whole_emails`` in its own transaction) and deleted with the customer's other rows
on an erasure (``customer_data.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from rapport.events.v1 import messages_pb2
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.models import CustomerEmail


def whole_text(event: messages_pb2.MessageReceived) -> str:
    """The message as sent, when it says more than its analysed ``text``; "" otherwise."""
    whole = event.full_text.strip()
    return whole if whole and whole != event.text.strip() else ""


def whole_email_row(event: messages_pb2.MessageReceived, now: datetime) -> CustomerEmail | None:
    """The row to keep for ``event``, or None when the timeline's text is all of it."""
    whole = whole_text(event)
    subject = " ".join(event.subject.split())
    if not (whole or subject):
        return None
    envelope = event.envelope
    return CustomerEmail(
        event_id=envelope.event_id,
        conversation_id=envelope.conversation_id,
        customer_id=envelope.customer.customer_id,
        subject=subject,
        full_text=whole,
        received_at=(
            envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else now
        ),
    )


class WholeEmails:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, event: messages_pb2.MessageReceived, now: datetime) -> bool:
        """Keep what the email said beyond its new words; False when there is nothing
        more to keep or this event was recorded already (a redelivery)."""
        row = whole_email_row(event, now)
        if row is None:
            return False
        try:
            async with self._sessions() as session, session.begin():
                if await session.get(CustomerEmail, row.event_id) is not None:
                    return False
                session.add(row)
        except IntegrityError:  # the same event recorded concurrently
            return False
        return True

    async def of_conversation(self, conversation_id: str) -> dict[str, CustomerEmail]:
        """The conversation's emails kept, by the event id of their message (and turn)."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(CustomerEmail).where(CustomerEmail.conversation_id == conversation_id)
            )
            return {email.event_id: email for email in found}


async def expire_whole_emails(session: AsyncSession, message_horizon: datetime) -> int:
    """Delete the emails received before ``message_horizon``; how many."""
    old = await session.execute(
        delete(CustomerEmail)
        .where(CustomerEmail.received_at < message_horizon)
        .execution_options(synchronize_session=False)
    )
    return int(old.rowcount)  # type: ignore[attr-defined]
