"""Where a customer turn falls in the customer's journey, for the empathy map (pure).

The stage is read from the conversation as the turn finds it, before the turn changes
anything: a message sent while waiting for a person counts as waiting even if it is the
one after which an agent claims the conversation.
"""

from __future__ import annotations

from enum import IntEnum

from rapport.context.v1 import context_service_pb2 as pb


class Stage(IntEnum):
    """``rapport.context.v1.JourneyStage``."""

    FIRST_CONTACT = pb.JOURNEY_STAGE_FIRST_CONTACT
    FOLLOW_UP = pb.JOURNEY_STAGE_FOLLOW_UP
    WAITING_FOR_AGENT = pb.JOURNEY_STAGE_WAITING_FOR_AGENT
    WITH_AGENT = pb.JOURNEY_STAGE_WITH_AGENT
    AFTER_RESOLUTION = pb.JOURNEY_STAGE_AFTER_RESOLUTION


# The customer's rating of a resolved conversation and their word on what could be
# better both come after the resolution.
_STAGE_OF_STATE: dict[int, Stage] = {
    pb.CONVERSATION_STATE_WAITING_FOR_AGENT: Stage.WAITING_FOR_AGENT,
    pb.CONVERSATION_STATE_WITH_AGENT: Stage.WITH_AGENT,
    pb.CONVERSATION_STATE_RESOLVED: Stage.AFTER_RESOLUTION,
    pb.CONVERSATION_STATE_RATING_REQUESTED: Stage.AFTER_RESOLUTION,
    pb.CONVERSATION_STATE_FEEDBACK_REQUESTED: Stage.AFTER_RESOLUTION,
}


def journey_stage(state: int | None, had_customer_turn: bool, new_contact: bool) -> Stage:
    """The stage of a customer turn arriving at a conversation in ``state`` (None: the
    turn creates it), which had a customer turn before or not, and which the store counts
    as a new contact (after a long pause) or not.

    A person's stages win over a pause: a customer who waited twelve hours for an agent
    is still waiting. After a resolution the customer's message is "after resolution"
    (the store also counts it as a new contact, but what the owner asks is how customers
    feel once their issue was closed).
    """
    if state is None or not had_customer_turn:
        return Stage.FIRST_CONTACT
    if state in _STAGE_OF_STATE:
        return _STAGE_OF_STATE[state]
    return Stage.FIRST_CONTACT if new_contact else Stage.FOLLOW_UP
