"""The journey stage of a customer turn, from the conversation as the turn finds it."""

from __future__ import annotations

import pytest
from rapport.context.v1 import context_service_pb2 as pb

from services.context.journey import Stage, journey_stage

BOT = pb.CONVERSATION_STATE_BOT
WAITING = pb.CONVERSATION_STATE_WAITING_FOR_AGENT
WITH_AGENT = pb.CONVERSATION_STATE_WITH_AGENT
RESOLVED = pb.CONVERSATION_STATE_RESOLVED
RATING_REQUESTED = pb.CONVERSATION_STATE_RATING_REQUESTED
FEEDBACK_REQUESTED = pb.CONVERSATION_STATE_FEEDBACK_REQUESTED


@pytest.mark.parametrize(
    ("state", "had_customer_turn", "new_contact", "stage"),
    [
        (None, False, True, Stage.FIRST_CONTACT),  # the turn opens the conversation
        (BOT, False, True, Stage.FIRST_CONTACT),  # the bot wrote first (a proactive message)
        (BOT, True, False, Stage.FOLLOW_UP),
        (BOT, True, True, Stage.FIRST_CONTACT),  # back after a long pause
        (WAITING, True, False, Stage.WAITING_FOR_AGENT),
        (WAITING, True, True, Stage.WAITING_FOR_AGENT),  # still waiting, however long
        (WITH_AGENT, True, False, Stage.WITH_AGENT),
        (WITH_AGENT, True, True, Stage.WITH_AGENT),
        (RESOLVED, True, True, Stage.AFTER_RESOLUTION),
        (RATING_REQUESTED, True, False, Stage.AFTER_RESOLUTION),
        (FEEDBACK_REQUESTED, True, False, Stage.AFTER_RESOLUTION),  # what could be better
    ],
)
def test_the_stage_follows_the_conversation_as_the_turn_finds_it(
    state: int | None, had_customer_turn: bool, new_contact: bool, stage: Stage
) -> None:
    assert journey_stage(state, had_customer_turn, new_contact) is stage


def test_the_stages_are_numbered_as_the_contract_numbers_them() -> None:
    assert {s.name: s.value for s in Stage} == {
        name.removeprefix("JOURNEY_STAGE_"): number
        for name, number in pb.JourneyStage.items()
        if number
    }
