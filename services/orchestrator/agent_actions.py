"""What a human agent did, applied: the conversation's mode changes, and replies go out.

A claim puts the conversation with the agent (the bot stays quiet); a reply (text, an
image or file with its caption, or both) is stored as the agent's turn and sent on the
customer's own channel, labelled as from a person;
returning it gives it back to the bot; resolving closes it and asks the customer to
rate the help they got (their answer is read by the inbound handler; any other message
starts a new contact). Safe to repeat: every effect is keyed on the action's event id.
"""

from __future__ import annotations

import logging
from typing import Protocol

from google.protobuf.message import Message
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, messages_pb2

from services.orchestrator.metrics import AGENT_ACTIONS
from services.orchestrator.ratings import Scale
from shared.errors import ContractError, InvalidInputError
from shared.kafka.codec import caused_by
from shared.sending import (
    AGENT_REPLY,
    PublisherPort,
    send_bot_message,
    send_message,
    step_record,
)
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)

_STATES = {
    agent_pb2.AGENT_ACTION_KIND_CLAIMED: context_pb.CONVERSATION_STATE_WITH_AGENT,
    agent_pb2.AGENT_ACTION_KIND_REPLIED: context_pb.CONVERSATION_STATE_WITH_AGENT,
    agent_pb2.AGENT_ACTION_KIND_RETURNED_TO_BOT: context_pb.CONVERSATION_STATE_BOT,
    agent_pb2.AGENT_ACTION_KIND_RESOLVED: context_pb.CONVERSATION_STATE_RATING_REQUESTED,
}

RATING_QUESTION = "rating-question"
"""The purpose the rating question is derived under from the resolving action."""


class AgentContextPort(Protocol):
    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]: ...

    async def set_conversation_state(
        self, conversation_id: str, state: context_pb.ConversationState, assignee: str = ""
    ) -> context_pb.Conversation: ...


class AgentActionHandler:
    def __init__(
        self,
        *,
        context: AgentContextPort,
        publisher: PublisherPort,
        bot_name: str,
        rating_scale: Scale = Scale.CSAT_5,
    ) -> None:
        """``rating_scale``: the question asked after a resolution (the policy's)."""
        self._rating_scale = rating_scale
        self._context = context
        self._publisher = publisher
        self._bot_name = bot_name

    async def __call__(self, event: Message) -> None:
        if not isinstance(event, agent_pb2.AgentActionTaken):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        await self._apply(event)

    async def _apply(self, action: agent_pb2.AgentActionTaken) -> None:
        envelope = action.envelope
        kind = agent_pb2.AgentActionKind.Name(action.kind).removeprefix("AGENT_ACTION_KIND_")
        if action.kind not in _STATES or not action.agent_id:
            raise InvalidInputError(f"agent action {envelope.event_id} lacks a kind or an agent")
        if action.kind == agent_pb2.AGENT_ACTION_KIND_REPLIED:
            await self._send_reply(action)
        # With the agent: who is in charge. Back to the bot: who handed it back.
        # Resolved: who resolved it, so the customer's rating is theirs.
        conversation = await self._context.set_conversation_state(
            envelope.conversation_id, _STATES[action.kind], action.agent_id
        )
        if action.kind == agent_pb2.AGENT_ACTION_KIND_RESOLVED:
            await self._ask_for_rating(action, conversation.language)
        AGENT_ACTIONS.labels(kind.lower()).inc()
        log.info("agent %s: %s", action.agent_id, kind.lower())

    async def _send_reply(self, action: agent_pb2.AgentActionTaken) -> None:
        envelope = action.envelope
        if not action.text.strip() and not action.attachments:
            raise InvalidInputError(f"agent reply {envelope.event_id} has no text or attachment")
        await send_message(
            self._context,
            self._publisher,
            caused_by(envelope, AGENT_REPLY),
            action.text,
            role=context_pb.ROLE_AGENT,
            sender=messages_pb2.SENDER_AGENT,
            sender_name=action.agent_name,
            author=action.agent_id,
            attachments=action.attachments,
        )

    async def _ask_for_rating(self, action: agent_pb2.AgentActionTaken, language: str) -> None:
        """The CSAT (or NPS) question, from the bot, in the conversation's language."""
        envelope = action.envelope
        question = VOICE.rating_question(language, nps=self._rating_scale is Scale.NPS_10)
        record = step_record(
            "agent_resolved",
            f"Agent {action.agent_id} resolved the conversation; "
            "the customer is asked to rate the help they got.",
            "rating/ask",
            question,
        )
        await send_bot_message(
            self._context,
            self._publisher,
            caused_by(envelope, RATING_QUESTION),
            question,
            record,
            self._bot_name,
        )
