"""The feedback table (``models.Feedback``): a customer's words after a rating, recorded
once per event, read back for the dashboard's pain points (``pain_points.py``), and aged
out with the customer's messages (``retention.py`` calls ``expire_feedback`` in its own
transaction; an erasure deletes them with the customer's other rows, ``customer_data.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from rapport.events.v1 import feedback_pb2
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.agent_desk.models import Feedback
from services.agent_desk.pain_points import PainPoint, top_pain_points


def feedback_row(event: feedback_pb2.FeedbackGiven, now: datetime) -> Feedback:
    """The row of ``event``; no emotion reading is kept when none came (opted out)."""
    envelope = event.envelope
    read = bool(event.dominant_emotion)
    return Feedback(
        event_id=envelope.event_id,
        rating_event_id=event.rating_event_id,
        conversation_id=envelope.conversation_id,
        customer_id=envelope.customer.customer_id,
        channel=envelope.channel,
        score=event.score,
        scale=event.scale or feedback_pb2.RATING_SCALE_CSAT_5,
        text=event.text,
        language=event.language,
        intent=event.intent,
        dominant_emotion=event.dominant_emotion,
        intensity=event.intensity if read else None,
        sentiment_score=event.sentiment_score if read else None,
        given_at=(
            envelope.occurred_at.ToDatetime(tzinfo=UTC) if envelope.HasField("occurred_at") else now
        ),
    )


class FeedbackStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def record(self, event: feedback_pb2.FeedbackGiven, now: datetime) -> bool:
        """Keep the feedback; False when this event was recorded already."""
        try:
            async with self._sessions() as session, session.begin():
                if await session.get(Feedback, event.envelope.event_id) is not None:
                    return False
                session.add(feedback_row(event, now))
        except IntegrityError:  # the same event recorded concurrently
            return False
        return True

    async def pain_points(self, first_day: date) -> list[PainPoint]:
        """The top pain points of the feedback given since ``first_day`` (UTC)."""
        since = datetime.combine(first_day, time(), tzinfo=UTC)
        async with self._sessions() as session:
            found = await session.scalars(select(Feedback).where(Feedback.given_at >= since))
            return top_pain_points(found)


async def expire_feedback(
    session: AsyncSession, emotion_horizon: datetime, message_horizon: datetime
) -> int:
    """Delete feedback older than ``message_horizon`` (the words go with the customer's
    messages) and strip the emotion reading of feedback older than ``emotion_horizon``.
    How many were deleted."""
    old = await session.execute(
        delete(Feedback)
        .where(Feedback.given_at < message_horizon)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Feedback)
        .where((Feedback.given_at < emotion_horizon) & (Feedback.dominant_emotion != ""))
        .values(dominant_emotion="", intensity=None, sentiment_score=None)
        .execution_options(synchronize_session=False)
    )
    return int(old.rowcount)  # type: ignore[attr-defined]
