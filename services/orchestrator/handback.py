"""What an agent has already seen when they hand a conversation back to the bot. Pure.

The rules that escalated a conversation must not escalate it again on the same evidence
once a person has dealt with it: the contacts the agent saw are not a new repeat, and a
mood that worsened before the agent's help is not a new worsening. New evidence (another
contact since, two more negative messages since the hand-back) escalates again, and any
other reason always can.

The escalation is read from the bot turns the context keeps: the latest one that handed
over before the hand-back carries its reasons and the facts they rested on.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from rapport.context.v1 import context_service_pb2 as context_pb

REPEAT_CONTACT = "repeat_contact"
WORSENING = "worsening_trajectory"
RESTING_ON_HISTORY = frozenset({REPEAT_CONTACT, WORSENING})
"""The rules whose evidence is the customer's past, which an agent has seen."""

NEGATIVE = -0.11
"""The sentiment head's English negative cut point (emotion/models/sentiment.md). The
other languages' is lower (-0.22, as the worsening rule in policy.yaml reads them), so
in them a message counts as new evidence a little sooner than the rule would."""
NEW_NEGATIVE_MESSAGES = 2
"""Negative messages since the hand-back that make a worsening new evidence."""

_ESCALATING = frozenset({"reply_and_escalate", "escalate"})


def _when(turn: context_pb.Turn) -> datetime:
    return turn.occurred_at.ToDatetime(tzinfo=UTC)


def seen_by_agent(
    history: context_pb.GetContextResponse,
    conversation_id: str,
    *,
    now: datetime,
    bounce_window: timedelta,
) -> frozenset[str]:
    """The rules of ``RESTING_ON_HISTORY`` whose evidence an agent has already dealt with
    in ``conversation_id`` and which nothing new has added to."""
    conversation = history.conversation
    if not conversation.returned_by or not conversation.HasField("returned_at"):
        return frozenset()
    returned_at = conversation.returned_at.ToDatetime(tzinfo=UTC)
    here = [t for t in history.recent_turns if t.conversation_id == conversation_id]
    escalations = [
        t
        for t in here
        if t.role == context_pb.ROLE_BOT
        and t.decision.action in _ESCALATING
        and _when(t) <= returned_at
    ]
    if not escalations:
        # The escalation is older than the turns at hand: right after the hand-back, take
        # it that the agent saw everything the history says.
        recent = now - returned_at <= bounce_window
        return RESTING_ON_HISTORY if recent else frozenset()
    escalation = escalations[-1].decision
    codes = {reason.code for reason in escalation.reasons} & RESTING_ON_HISTORY
    facts = json.loads(escalation.facts_json or "{}")
    seen = set()
    if REPEAT_CONTACT in codes and history.contacts_last_7_days <= facts.get(
        "contacts_last_7_days", 0
    ):
        seen.add(REPEAT_CONTACT)
    negative_since = sum(
        1
        for t in here
        if t.role == context_pb.ROLE_CUSTOMER
        and _when(t) > returned_at
        and t.HasField("emotion")
        and t.emotion.sentiment_score <= NEGATIVE
    )
    if WORSENING in codes and negative_since < NEW_NEGATIVE_MESSAGES:
        seen.add(WORSENING)
    return frozenset(seen)
