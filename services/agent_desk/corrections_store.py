"""The corrections' table (``models.Correction``): an agent's correction of a turn kept,
replaced or withdrawn, read back for the page and the training export, and aged out
with the customer's messages (``retention.py`` calls ``expire_corrections`` in its own
transaction; an erasure deletes them with the customer's other rows, ``customer_data.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.corrections import Detected, Labels, StoredCorrection
from services.agent_desk.models import Agent, Correction


def stored(row: Correction) -> StoredCorrection:
    return StoredCorrection(
        id=row.id,
        detected=Detected(
            turn_event_id=row.turn_event_id,
            conversation_id=row.conversation_id,
            text=row.text,
            language=row.language,
            occurred_at=row.turn_at,
            emotion=row.detected_emotion,
            intent=row.detected_intent,
            model_versions=dict(row.model_versions),
        ),
        labels=Labels(row.emotion, row.intent),
        customer_id=row.customer_id,
        created_at=row.created_at,
    )


class Corrections:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def save(
        self, agent: Agent, customer_id: str, detected: Detected, labels: Labels, now: datetime
    ) -> None:
        """Keep the agent's correction of the turn, in place of their earlier one; an empty
        one withdraws it. Two at once (a double submit): the second replaces the first."""
        try:
            await self._save(agent, customer_id, detected, labels, now)
        except IntegrityError:
            await self._save(agent, customer_id, detected, labels, now)

    async def _save(
        self, agent: Agent, customer_id: str, detected: Detected, labels: Labels, now: datetime
    ) -> None:
        mine = (Correction.turn_event_id == detected.turn_event_id) & (
            Correction.agent_id == agent.id
        )
        async with self._sessions() as session, session.begin():
            if labels.empty:
                await session.execute(delete(Correction).where(mine))
                return
            values = {
                "conversation_id": detected.conversation_id,
                "customer_id": customer_id,
                "text": detected.text,
                "language": detected.language,
                "turn_at": detected.occurred_at,
                "detected_emotion": detected.emotion,
                "detected_intent": detected.intent,
                "emotion": labels.emotion,
                "intent": labels.intent,
                "model_versions": dict(detected.model_versions),
                "created_at": now,
            }
            changed = await session.execute(update(Correction).where(mine).values(**values))
            if not changed.rowcount:  # type: ignore[attr-defined]
                session.add(
                    Correction(
                        id=str(uuid.uuid4()),
                        turn_event_id=detected.turn_event_id,
                        agent_id=agent.id,
                        **values,
                    )
                )

    async def of_agent(self, agent: Agent, turn_event_ids: Iterable[str]) -> dict[str, Labels]:
        """The agent's own corrections of these turns, by turn."""
        query = select(Correction).where(
            Correction.agent_id == agent.id, Correction.turn_event_id.in_(list(turn_event_ids))
        )
        async with self._sessions() as session:
            return {
                row.turn_event_id: Labels(row.emotion, row.intent)
                for row in await session.scalars(query)
            }

    async def since(self, moment: datetime | None) -> list[StoredCorrection]:
        """Every correction made at or after ``moment`` (None: all), oldest first."""
        query = select(Correction).order_by(Correction.created_at, Correction.id)
        if moment is not None:
            query = query.where(Correction.created_at >= moment)
        async with self._sessions() as session:
            return [stored(row) for row in await session.scalars(query)]


async def expire_corrections(
    session: AsyncSession, emotion_horizon: datetime, message_horizon: datetime
) -> int:
    """Delete the corrections of turns older than ``message_horizon`` (the text goes with
    the customer's messages) and strip the emotion labels of turns older than
    ``emotion_horizon``; a correction of the emotion alone then says nothing and goes too.
    How many were deleted."""
    old = await session.execute(
        delete(Correction)
        .where(
            (Correction.turn_at < message_horizon)
            | ((Correction.turn_at < emotion_horizon) & (Correction.intent == ""))
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Correction)
        .where(
            (Correction.turn_at < emotion_horizon)
            & ((Correction.emotion != "") | (Correction.detected_emotion != ""))
        )
        .values(emotion="", detected_emotion="")
        .execution_options(synchronize_session=False)
    )
    return int(old.rowcount)  # type: ignore[attr-defined]
