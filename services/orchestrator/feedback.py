"""Reading the answer to "is there anything we could do better?" (pure).

Asked right after the customer rated a resolved conversation. Their next message is one
of three things:

- a decline: a short "no thanks", "all good", "nada, gracias", or only an emoji;
- a new request, answered by the bot as any message is: one that comes after the
  window (a new contact, not an answer), asks for a person, or asks a question about
  something the bot handles ("where is my refund?");
- otherwise feedback in the customer's own words, even phrased as a question when it is
  a complaint or a review ("why did it take three days?").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from rapport.context.v1 import context_service_pb2 as context_pb


class FollowUp(StrEnum):
    FEEDBACK = "feedback"
    DECLINED = "declined"
    NEW_REQUEST = "new_request"


# Intents under which a question is still an opinion of the service, not a request.
OPINION_INTENTS = frozenset({"complaint", "review", "unknown", ""})

# Words that, alone, make up a decline, in the voice's languages (en, es, fr, de, pt).
_DECLINE_WORDS = frozenset(
    """
    no nope nah nothing none fine good great ok okay all thanks thank you thx ty
    everything was perfect it's i'm am im we're that's cheers
    nada todo bien gracias está esta perfecto vale así asi
    non rien merci c'est tout parfait ça ca va
    nein nichts danke alles gut passt war perfekt super
    não nao obrigado obrigada tudo bem certo ótimo otimo valeu
    """.split()
)
_WORD = re.compile(r"[\w']+")
# At most this many words for a message of decline words to be a decline, not a remark.
_DECLINE_AT_MOST = 6


def declines(text: str) -> bool:
    """Whether ``text`` says there is nothing to add: no words (an emoji, a "👍"), or a few
    made only of decline words ("No, thanks!", "non merci", "tudo bem, obrigado")."""
    words = _WORD.findall(text.lower().replace("\u2019", "'"))
    return len(words) <= _DECLINE_AT_MOST and all(word in _DECLINE_WORDS for word in words)


def read_follow_up(
    text: str,
    intent: str,
    *,
    waited: timedelta | None,
    window: timedelta,
    asks_for_a_person: bool,
    asks_a_question: bool,
) -> FollowUp:
    """What the customer's message after the follow-up question is. ``waited`` is the
    time since the question (None: no question found, so nothing to answer)."""
    if waited is None or waited > window or asks_for_a_person:
        return FollowUp.NEW_REQUEST
    if declines(text):
        return FollowUp.DECLINED
    if asks_a_question and intent not in OPINION_INTENTS:
        return FollowUp.NEW_REQUEST
    return FollowUp.FEEDBACK


@dataclass(frozen=True, slots=True)
class Asked:
    """Where the follow-up question stands in the conversation's turns."""

    # When the bot asked "anything we could do better?".
    asked_at: datetime
    # The customer's message that gave the rating, just before the question.
    rating_turn: context_pb.Turn


def follow_up_asked(turns: Sequence[context_pb.Turn], current_event_id: str) -> Asked | None:
    """The follow-up question before the message ``current_event_id`` and the rating
    message before that, from the recent turns (oldest first); None when not there."""
    earlier = [turn for turn in turns if turn.event_id != current_event_id]
    if len(earlier) < 2:
        return None
    rating, question = earlier[-2:]
    if question.role != context_pb.ROLE_BOT or rating.role != context_pb.ROLE_CUSTOMER:
        return None
    return Asked(question.occurred_at.ToDatetime(UTC), rating)
