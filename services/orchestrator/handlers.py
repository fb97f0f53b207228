"""The orchestrator's use case: one inbound message in, one reply out, safe to repeat.

A message may be text, attachments (a photo, a voice note, a place...) or both. Text is
analysed and answered; attachments are stored with the customer's turn and thanked for,
and since the bot cannot look at them the policy asks a person to (a sticker alone is
only thanked for). A message with neither is refused.

Handling the same event twice (a redelivery after a crash) stores nothing new and
re-publishes the same reply under the same event id, which the channel adapter drops as
a duplicate. The offset is committed by the consumer only after ``handle`` returns, that
is after the reply is on Kafka.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import feedback_pb2, handoff_pb2, messages_pb2

from services.orchestrator.attachments import distinct, kinds_of
from services.orchestrator.handoff import handoff_packet
from services.orchestrator.metrics import DECISIONS, HANDOFFS, IGNORED, RATINGS, REPLIES
from services.orchestrator.policy import Action, Decision, Facts, Policy
from services.orchestrator.ratings import Rating, read_rating
from shared.channel_names import channel_name
from shared.errors import (
    ContractError,
    DependencyUnavailableError,
    InvalidInputError,
    RefusedError,
)
from shared.kafka.codec import caused_by, derived_event_id
from shared.kafka.topics import FEEDBACK, HANDOFF
from shared.sending import PublisherPort, send_bot_message, step_record
from shared.voice.replies import (
    VOICE,
    EarlierContact,
    Reply,
)

log = logging.getLogger(__name__)


class EmotionPort(Protocol):
    async def analyze(self, text: str, language_hint: str) -> emotion_pb.AnalyzeResponse: ...


class ContextPort(Protocol):
    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.Customer: ...

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]: ...

    async def append_turn_and_get_context(
        self, customer_id: str, turn: context_pb.Turn, max_turns: int
    ) -> context_pb.GetContextResponse: ...

    async def set_conversation_state(
        self, conversation_id: str, state: context_pb.ConversationState
    ) -> context_pb.Conversation: ...


REPLY = "reply"
"""The purpose the bot's reply to an inbound event is derived under (its event id)."""

RATING = "rating"
"""The purpose a customer's rating is derived under from the message that gave it."""

MEDIA_RECEIVED = "media_received"
"""The policy's reason when the message carries what the bot cannot look at (policy.yaml):
the reply then says a person will."""


def _known_customer(envelope: envelope_pb2.Envelope, customer_id: str) -> envelope_pb2.CustomerRef:
    """The inbound event's customer reference, now with Rapport's customer id."""
    return envelope_pb2.CustomerRef(
        customer_id=customer_id, channel=envelope.channel, address=envelope.customer.address
    )


def earlier_contact(
    history: context_pb.GetContextResponse, conversation_id: str, channel: envelope_pb2.Channel
) -> EarlierContact | None:
    """The customer's latest message on another channel, if the context holds one."""
    for turn in reversed(history.recent_turns):
        if (
            turn.role == context_pb.ROLE_CUSTOMER
            and turn.conversation_id != conversation_id
            and turn.channel != channel
        ):
            return EarlierContact(
                channel=channel_name(turn.channel), day=turn.occurred_at.ToDatetime().date()
            )
    return None


_PRAISE = frozenset({"gratitude", "joy"})


def has_text(event: messages_pb2.MessageReceived) -> bool:
    """Whether the message has words to read (a photo sent alone has none)."""
    return bool(event.text.strip())


def reply_language(
    analysis: emotion_pb.AnalyzeResponse | None, conversation_language: str, locale_hint: str
) -> str:
    """The language to answer in ("" when unknown): what the text was read as; with no
    reading (no text, analysis opted out or unavailable), the language the conversation
    was written in so far, else the one the channel suggests."""
    if analysis is not None:
        return analysis.language.code if analysis.language.supported else ""
    return conversation_language or locale_hint


def _emotion_to_acknowledge(
    analysis: emotion_pb.AnalyzeResponse | None, decision: Decision
) -> str | None:
    """The feeling the reply acknowledges; sarcastic praise is not thanked for as praise."""
    if analysis is None:
        return None
    sarcastic = "sarcasm_on_negative_topic" in decision.codes()
    return None if sarcastic and analysis.dominant_emotion in _PRAISE else analysis.dominant_emotion


class InboundHandler:
    """Answers one ``MessageReceived``; the ports are injected by the composition root."""

    def __init__(
        self,
        *,
        emotion: EmotionPort,
        context: ContextPort,
        publisher: PublisherPort,
        policy: Policy,
        bot_name: str,
        context_turns: int,
    ) -> None:
        self._policy = policy
        self._emotion = emotion
        self._context = context
        self._publisher = publisher
        self._bot_name = bot_name
        self._context_turns = context_turns

    async def __call__(self, event: Message) -> None:
        if not isinstance(event, messages_pb2.MessageReceived):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        await self._handle(event)

    async def _handle(self, event: messages_pb2.MessageReceived) -> None:
        envelope = event.envelope
        if not has_text(event) and not event.attachments:
            raise InvalidInputError("the message has neither text nor an attachment")
        try:
            customer = await self._context.resolve_customer(
                envelope.channel,
                envelope.customer.address,
                envelope.customer.display_name,
                envelope.occurred_at,
            )
        except RefusedError as exc:
            # An event from before the customer's erasure: drop it, never keep or answer it.
            log.info("ignoring %s: %s", envelope.event_id, exc)
            IGNORED.labels("erased").inc()
            return
        analysis = None
        if has_text(event) and customer.consent.emotion_analysis_allowed:
            analysis = await self._analyze(event)
        inbound_turn = context_pb.Turn(
            event_id=envelope.event_id,
            conversation_id=envelope.conversation_id,
            role=context_pb.ROLE_CUSTOMER,
            text=event.text,
            channel=envelope.channel,
            occurred_at=envelope.occurred_at,
            attachments=event.attachments,
        )
        if analysis is not None:
            inbound_turn.language = analysis.language.code
            inbound_turn.emotion.CopyFrom(
                context_pb.EmotionSnapshot(
                    dominant_emotion=analysis.dominant_emotion,
                    intensity=analysis.intensity,
                    sentiment_score=analysis.sentiment.score,
                )
            )
        history = await self._context.append_turn_and_get_context(
            customer.customer_id, inbound_turn, self._context_turns
        )
        if history.conversation.state == context_pb.CONVERSATION_STATE_RATING_REQUESTED:
            rating = read_rating(event.text)
            if rating is not None:
                await self._take_rating(event, customer.customer_id, rating, history)
                return
            # Not a rating: an ordinary message, and the bot is back in charge.
            await self._context.set_conversation_state(
                envelope.conversation_id, context_pb.CONVERSATION_STATE_BOT
            )
            history.conversation.state = context_pb.CONVERSATION_STATE_BOT
        attachments = kinds_of(event.attachments)
        facts = self._facts(event, analysis, history, attachments)
        decision = self._policy.decide(facts)
        reply_id = derived_event_id(envelope.event_id, REPLY)
        answered = any(turn.event_id == reply_id for turn in history.recent_turns)
        DECISIONS.labels(decision.action.value).inc()
        log.info("decided %s for %s: %s", decision.action, envelope.event_id, decision.codes())
        if decision.action is Action.STAY_QUIET and not answered:
            return
        first_bot_message = not any(
            turn.role == context_pb.ROLE_BOT and turn.conversation_id == envelope.conversation_id
            for turn in history.recent_turns
        )
        language = reply_language(analysis, history.conversation.language, event.locale_hint)
        attachments_to_a_person = MEDIA_RECEIVED in decision.codes()
        if decision.action is Action.ESCALATE:
            sensitive = "sensitive_topic" in decision.codes()
            template = f"holding/{'caring' if sensitive else 'ordinary'}"
            reply = VOICE.holding_reply(
                language=language,
                sensitive=sensitive,
                first_bot_message=first_bot_message,
                bot_name=self._bot_name,
            )
        elif not facts.has_text:
            template = f"attachments/{'to_a_person' if attachments_to_a_person else 'received'}"
            reply = VOICE.attachment_reply(
                language=language,
                attachments=attachments,
                first_bot_message=first_bot_message,
                bot_name=self._bot_name,
                handoff=decision.escalates,
                attachments_to_a_person=attachments_to_a_person,
            )
        else:
            template = f"answer/{facts.intent}"
            reply = VOICE.compose_reply(
                language=language,
                intent=analysis.intent.name if analysis else "unknown",
                emotion=_emotion_to_acknowledge(analysis, decision),
                intensity=analysis.intensity if analysis else 0.0,
                first_bot_message=first_bot_message,
                bot_name=self._bot_name,
                earlier_contact=earlier_contact(
                    history, envelope.conversation_id, envelope.channel
                ),
                attachments=attachments,
                handoff=decision.escalates,
                attachments_to_a_person=attachments_to_a_person,
            )
        record = context_pb.DecisionRecord(
            action=decision.action.value,
            reasons=[
                context_pb.DecisionReasonRecord(code=r.code, explanation=r.explanation)
                for r in decision.reasons
            ],
            priority=decision.priority,
            model_versions=dict(analysis.model_versions) if analysis else {},
            facts_json=json.dumps(asdict(facts), sort_keys=True),
            template=template,
            language=reply.language,
        )
        await self._reply(event, customer.customer_id, reply, record)
        if decision.escalates:
            await self._hand_off(
                handoff_packet(
                    inbound=envelope,
                    customer=_known_customer(envelope, customer.customer_id),
                    decision=decision,
                    facts=facts,
                    history=history,
                    latest_reply=reply.text,
                    # Without a reading of the text, the language the bot answered in.
                    language=facts.language or (reply.language if language else ""),
                )
            )

    def _facts(
        self,
        event: messages_pb2.MessageReceived,
        analysis: emotion_pb.AnalyzeResponse | None,
        history: context_pb.GetContextResponse,
        attachments: list[str],
    ) -> Facts:
        state = context_pb.ConversationState.Name(history.conversation.state)
        facts = Facts(
            emotion_available=analysis is not None,
            trend=context_pb.Trend.Name(history.trajectory.trend).removeprefix("TREND_").lower(),
            contacts_last_7_days=history.contacts_last_7_days,
            conversation_state=state.removeprefix("CONVERSATION_STATE_").lower(),
            human_requested=self._policy.asks_for_a_person(event.text),
            sensitive_topic=self._policy.sensitive_topic(event.text),
            negative_event=self._policy.names_a_negative_event(event.text),
            returned_by_agent=self._returned_by(history.conversation),
            has_text=has_text(event),
            attachment_kinds=distinct(attachments),
        )
        if analysis is None:
            return facts
        return replace(
            facts,
            dominant_emotion=analysis.dominant_emotion,
            intensity=analysis.intensity,
            sentiment_score=analysis.sentiment.score,
            sarcasm=analysis.sarcasm.detected,
            sarcasm_score=analysis.sarcasm.score,
            intent=analysis.intent.name,
            intent_confidence=analysis.intent.confidence,
            language=analysis.language.code,
            language_confidence=analysis.language.confidence,
            language_supported=analysis.language.supported,
            human_requested=facts.human_requested or analysis.intent.name == "contact_human_agent",
        )

    def _returned_by(self, conversation: context_pb.Conversation) -> str:
        """The agent who handed this conversation back to the bot within the bounce window."""
        if not conversation.returned_by or not conversation.HasField("returned_at"):
            return ""
        returned_at = conversation.returned_at.ToDatetime(tzinfo=UTC)
        recent = datetime.now(UTC) - returned_at <= self._policy.bounce_window
        return conversation.returned_by if recent else ""

    async def _reply(
        self,
        event: messages_pb2.MessageReceived,
        customer_id: str,
        reply: Reply,
        decision: context_pb.DecisionRecord,
    ) -> None:
        """Store the reply as a turn, then publish it; a redelivery republishes the stored one."""
        envelope = event.envelope
        created = await send_bot_message(
            self._context,
            self._publisher,
            caused_by(envelope, REPLY, _known_customer(envelope, customer_id)),
            reply,
            decision,
            self._bot_name,
            in_reply_to=envelope.event_id,
        )
        REPLIES.labels("new" if created else "republished").inc()

    async def _take_rating(
        self,
        event: messages_pb2.MessageReceived,
        customer_id: str,
        rating: Rating,
        history: context_pb.GetContextResponse,
    ) -> None:
        """Record the customer's rating of the agent's help, thank them, close the conversation."""
        envelope = event.envelope
        customer = _known_customer(envelope, customer_id)
        await self._publisher.publish(
            FEEDBACK,
            feedback_pb2.SatisfactionRated(
                envelope=caused_by(envelope, RATING, customer),
                score=rating.score,
                comment=rating.comment,
                agent_id=history.conversation.assignee,
            ),
        )
        thanks = VOICE.rating_thanks(history.conversation.language)
        record = step_record(
            "rating_received",
            f"The customer rated the resolved conversation {rating.score} of 5.",
            "rating/thanks",
            thanks,
        )
        await self._reply(event, customer_id, thanks, record)
        await self._context.set_conversation_state(
            envelope.conversation_id, context_pb.CONVERSATION_STATE_RESOLVED
        )
        RATINGS.labels(str(rating.score)).inc()

    async def _hand_off(self, handoff: handoff_pb2.HandoffRequested) -> None:
        """Ask for a person: the conversation waits for an agent, with the reasons and context."""
        await self._publisher.publish(HANDOFF, handoff)
        # After the publish: were this lost, a redelivery would find the conversation
        # still with the bot, decide the same again and republish (same event id).
        await self._context.set_conversation_state(
            handoff.envelope.conversation_id, context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
        )
        HANDOFFS.labels(handoff.reasons[0].code if handoff.reasons else "policy").inc()

    async def _analyze(
        self, event: messages_pb2.MessageReceived
    ) -> emotion_pb.AnalyzeResponse | None:
        """The emotion reading, or None when the emotion service is down: answer anyway."""
        try:
            return await self._emotion.analyze(event.text, event.locale_hint)
        except DependencyUnavailableError as exc:
            log.warning("answering without emotion analysis: %s", exc)
            return None
