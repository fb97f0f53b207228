"""Where the empathy map's figures and conversations come from: the context service (the
map's totals, and a cell's conversations with the customer's words) and the desk's own
tickets (which of those conversations a person handled, so the page can open them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from rapport.context.v1 import context_service_pb2 as context_pb
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.agent_desk.empathy import CellQuery, Filters
from services.agent_desk.models import Agent, Ticket
from services.agent_desk.routing import can_see, viewer_of
from services.agent_desk.store import entry_of
from shared.grpc.context_client import ContextClient


@dataclass(frozen=True)
class ConversationBehind:
    """One conversation behind a cell, as the drill-down lists it."""

    conversation_id: str
    customer_id: str
    channel: int
    turns: int
    last_at: datetime
    examples: tuple[str, ...]
    # The newest ticket of the conversation the viewer may open, if any.
    ticket_id: str | None


class EmpathySources:
    def __init__(self, context: ContextClient, engine: AsyncEngine) -> None:
        self._context = context
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def figures(self, filters: Filters) -> list[context_pb.EmpathyCell]:
        """The period's totals per intent, stage and emotion (one small read)."""
        return await self._context.empathy_map(
            filters.first_day.isoformat(),
            filters.today.isoformat(),
            filters.channel_number,  # type: ignore[arg-type]
        )

    async def conversations(
        self, viewer: Agent, filters: Filters, cell: CellQuery
    ) -> list[ConversationBehind]:
        """The conversations behind ``cell``, each with the ticket ``viewer`` may open."""
        found = await self._context.empathy_conversations(
            context_pb.ListEmpathyConversationsRequest(
                from_day=filters.first_day.isoformat(),
                to_day=filters.today.isoformat(),
                channel=filters.channel_number,  # type: ignore[arg-type]
                intent=cell.intent,
                stage=cell.stage,  # type: ignore[arg-type]
                emotion=cell.emotion,
            )
        )
        tickets = await self._tickets_seen_by(viewer, [c.conversation_id for c in found])
        return [
            ConversationBehind(
                conversation_id=c.conversation_id,
                customer_id=c.customer_id,
                channel=c.channel,
                turns=c.turns,
                last_at=c.last_at.ToDatetime(tzinfo=UTC),
                examples=tuple(c.examples),
                ticket_id=tickets.get(c.conversation_id),
            )
            for c in found
        ]

    async def _tickets_seen_by(
        self, viewer: Agent, conversation_ids: Sequence[str]
    ) -> dict[str, str]:
        """The newest ticket ``viewer`` may see, by conversation."""
        if not conversation_ids:
            return {}
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Ticket)
                .where(Ticket.conversation_id.in_(conversation_ids))
                .order_by(Ticket.handed_off_at)
            )
            seer = viewer_of(viewer)
            # Oldest first: a newer ticket of the same conversation replaces an older one.
            return {t.conversation_id: t.id for t in rows if can_see(seer, entry_of(t))}
