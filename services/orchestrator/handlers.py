"""The orchestrator's use case: one inbound message in, one reply out, safe to repeat.

A message may be text, attachments (a photo, a voice note, a place...) or both. Text is
analysed and answered; attachments are stored with the customer's turn and thanked for,
and since the bot cannot look at them the policy asks a person to (a sticker alone is
only thanked for). A message with neither is refused.

Handling the same event twice (a redelivery after a crash) stores nothing new and
re-publishes the same reply under the same event id, which the channel adapter drops as
a duplicate. The offset is committed by the consumer only after ``handle`` returns, that
is after the reply is on Kafka.

What to decide and say is worked out by the pure functions of ``planning``, which the
``decide`` command shares; this module does the I/O around them.

As soon as the bot knows it is going to answer (the context is read; the shop, the one
step that can take seconds, is not asked yet), it tells the customer's channel that a
reply is being prepared (``PreparingReply``: a typing indicator on the web chat), beside
the rest of the work so the reply never waits for it. Never when the bot stays quiet,
and not again for a message already answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import feedback_pb2, handoff_pb2, messages_pb2

from services.orchestrator.crisis import CrisisResources, country_of
from services.orchestrator.dialogue import ORDER_REFERENCE, PRODUCT, slots_given
from services.orchestrator.feedback import FollowUp, follow_up_asked, read_follow_up
from services.orchestrator.handoff import handoff_packet
from services.orchestrator.knowledge.index import KnowledgeIndex
from services.orchestrator.metrics import (
    DECISIONS,
    FOLLOW_UPS,
    HANDOFFS,
    IGNORED,
    KNOWLEDGE_LOOKUPS,
    RATINGS,
    REPLIES,
    SHOP_LOOKUPS,
)
from services.orchestrator.orders import NOT_FOUND, ShopAnswer, proven_identity
from services.orchestrator.planning import (
    Reading,
    has_text,
    knowledge_match,
    language_and_intent,
    outlook,
    plan_reply,
    reads_feelings,
    situation_of,
)
from services.orchestrator.policy import Facts, Policy
from services.orchestrator.ratings import Rating, Scale, read_score
from services.orchestrator.shop.port import ShopPort, ShopUnavailable
from shared.channel_names import channel_name
from shared.errors import (
    ContractError,
    DependencyUnavailableError,
    InvalidInputError,
    RefusedError,
)
from shared.kafka.codec import caused_by, derived_event_id
from shared.kafka.topics import FEEDBACK, HANDOFF, outbound_topic
from shared.languages import determined
from shared.sending import PublisherPort, send_bot_message, step_record
from shared.voice.replies import VOICE, Reply

log = logging.getLogger(__name__)


class EmotionPort(Protocol):
    async def analyze(
        self,
        text: str,
        language_hint: str,
        previous_language: str = "",
        *,
        include_embedding: bool = False,
        no_embedding_for_intents: Collection[str] = (),
        language_and_intent_only: bool = False,
    ) -> emotion_pb.AnalyzeResponse: ...


class KnowledgePort(Protocol):
    """The business's knowledge as it is now (None: none to look in yet)."""

    @property
    def current(self) -> KnowledgeIndex | None: ...


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

    async def remember_slots(self, customer_id: str, slots: Sequence[context_pb.Slot]) -> None: ...


REPLY = "reply"
"""The purpose the bot's reply to an inbound event is derived under (its event id)."""

RATING = "rating"
"""The purpose a customer's rating is derived under from the message that gave it."""

PREPARING = "preparing"
"""The purpose the signal that the bot is preparing its reply is derived under."""

FEEDBACK_GIVEN = "feedback"
"""The purpose a customer's feedback is derived under from the message that gave it."""

_ASKED_AFTER_RESOLUTION = (
    context_pb.CONVERSATION_STATE_RATING_REQUESTED,
    context_pb.CONVERSATION_STATE_FEEDBACK_REQUESTED,
)
_SCALES = {
    Scale.CSAT_5: (feedback_pb2.RATING_SCALE_CSAT_5, "of 5"),
    Scale.NPS_10: (feedback_pb2.RATING_SCALE_NPS_10, "of 10 (NPS)"),
}


def _known_customer(envelope: envelope_pb2.Envelope, customer_id: str) -> envelope_pb2.CustomerRef:
    """The inbound event's customer reference, now with Rapport's customer id."""
    return envelope_pb2.CustomerRef(
        customer_id=customer_id, channel=envelope.channel, address=envelope.customer.address
    )


def _taken(given: Mapping[str, str], facts: Facts) -> dict[str, str]:
    """What this message gave, as the bot took it: the order number and the item that
    served it (read as the answer to the bot's question), and no words it did not take
    for an item ("a person, please")."""
    taken = {name: value for name, value in given.items() if name != PRODUCT}
    served = {ORDER_REFERENCE: facts.order_reference, PRODUCT: facts.product}
    return taken | {name: value for name, value in served.items() if value}


def _slots(
    taken: Mapping[str, str], envelope: envelope_pb2.Envelope, facts: Facts
) -> list[context_pb.Slot]:
    """The slots this message gave as the bot took them, as the context service keeps
    them: not an order number the shop does not have."""
    values = dict(taken)
    if facts.order_lookup == NOT_FOUND:
        values.pop(ORDER_REFERENCE, None)
    return [
        context_pb.Slot(
            name=name,
            value=value,
            conversation_id=envelope.conversation_id,
            channel=envelope.channel,
            given_at=envelope.occurred_at,
        )
        for name, value in sorted(values.items())
    ]


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
        knowledge: KnowledgePort | None = None,
        crisis: CrisisResources | None = None,
        shop: ShopPort | None = None,
        signals: PublisherPort | None = None,
    ) -> None:
        """``signals`` publishes that a reply is being prepared (on the outbound topics);
        without it the bot does not say so."""
        self._signals = signals
        self._shop = shop
        self._policy = policy
        self._crisis = crisis or CrisisResources.load()
        self._knowledge = knowledge
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
        index = self._knowledge.current if self._knowledge is not None else None
        analysis = None
        if has_text(event):
            analysis = await self._analyze(
                event,
                customer.last_language,
                embed=bool(index and index.articles),
                feelings=customer.consent.emotion_analysis_allowed,
            )
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
            inbound_turn.intent = analysis.intent.name
        if reads_feelings(analysis):
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
        if history.conversation.state in _ASKED_AFTER_RESOLUTION:
            if await self._took_answer(event, customer.customer_id, analysis, history):
                return
            # Not an answer: an ordinary message, and the bot is back in charge.
            await self._context.set_conversation_state(
                envelope.conversation_id, context_pb.CONVERSATION_STATE_BOT
            )
            history.conversation.state = context_pb.CONVERSATION_STATE_BOT
        situation = situation_of(
            history,
            envelope,
            now=datetime.now(UTC),
            bounce_window=self._policy.bounce_window,
            previous_language=customer.last_language,
        )
        match = knowledge_match(index, analysis)
        if match is not None:
            KNOWLEDGE_LOOKUPS.labels("answered" if match.answers else "not_answered").inc()
        helplines = self._crisis.for_country(
            country_of(
                envelope.channel,
                envelope.customer.address,
                ((i.channel, i.address) for i in customer.identities),
                event.locale_hint,
            )
        )
        dialogue = situation.dialogue
        given = slots_given(event.text, dialogue.awaiting)
        proven = proven_identity(
            envelope.channel,
            envelope.customer.address,
            ((i.channel, i.address, i.verified) for i in customer.identities),
            {**dialogue.slots, **given},
        )
        reading = Reading(event, analysis, situation, match, helplines, proven)
        ahead = outlook(self._policy, reading)
        reply_id = derived_event_id(envelope.event_id, REPLY)
        answered = any(turn.event_id == reply_id for turn in history.recent_turns)
        async with self._preparing(event, customer.customer_id, ahead.answers and not answered):
            reading = await self._ask_shop(reading, ahead.order_to_look_up)
            plan = plan_reply(self._policy, reading, self._bot_name, ahead.facts)
            decision = plan.decision
            taken = _taken(given, plan.facts)
            DECISIONS.labels(decision.action.value).inc()
            log.info("decided %s for %s: %s", decision.action, envelope.event_id, decision.codes())
            if plan.quiet and not answered:
                return
            await self._reply(
                event, customer.customer_id, plan.planned.reply, plan.record(analysis)
            )
            # Remembered by the context service, so nothing given is asked for again, on
            # any channel, however long the conversation (a repeat changes nothing).
            await self._context.remember_slots(
                customer.customer_id, _slots(taken, envelope, plan.facts)
            )
            if decision.escalates:
                await self._hand_off(
                    handoff_packet(
                        inbound=envelope,
                        customer=_known_customer(envelope, customer.customer_id),
                        decision=decision,
                        facts=plan.facts,
                        history=history,
                        latest_reply=plan.planned.reply.text,
                        # Without a reading of the text, or with none to tell ("👍"), the
                        # language the bot answered in.
                        language=determined(plan.facts.language)
                        or (plan.planned.reply.language if plan.planned.language else ""),
                        slots={**dialogue.slots, **taken},
                    ),
                    with_agent=(
                        history.conversation.state == context_pb.CONVERSATION_STATE_WITH_AGENT
                    ),
                )

    @asynccontextmanager
    async def _preparing(
        self, event: messages_pb2.MessageReceived, customer_id: str, answers: bool
    ) -> AsyncIterator[None]:
        """While the block works out and sends the reply, tell the customer's channel,
        when the bot ``answers``, that it is preparing one. Published beside the block, so
        the reply never waits for the broker's ack; started before the block's first call
        (to the shop, or storing the reply's turn), so it is queued on the conversation's
        partition ahead of the reply; finished by the end of the block."""
        if not answers or self._signals is None:
            yield
            return
        telling = asyncio.create_task(self._say_preparing(self._signals, event, customer_id))
        try:
            yield
        finally:
            await telling

    async def _say_preparing(
        self, signals: PublisherPort, event: messages_pb2.MessageReceived, customer_id: str
    ) -> None:
        envelope = event.envelope
        signal = messages_pb2.PreparingReply(
            envelope=caused_by(envelope, PREPARING, _known_customer(envelope, customer_id)),
            in_reply_to=envelope.event_id,
            sender_name=self._bot_name,
        )
        try:
            await signals.publish(outbound_topic(channel_name(envelope.channel)), signal)
        except DependencyUnavailableError as exc:  # a hint: the reply itself waits for Kafka
            log.warning("could not say a reply to %s is coming: %s", envelope.event_id, exc)

    async def _ask_shop(self, reading: Reading, reference: str) -> Reading:
        """The reading with what the shop says of order ``reference`` ("" for none), if a
        shop is connected; a shop that cannot say is noted as such."""
        if not reference or self._shop is None:
            return reading
        try:
            answer = ShopAnswer(reference, await self._shop.find_order(reference))
        except ShopUnavailable as exc:
            log.warning("the shop could not look up order %s: %s", reference, exc)
            answer = ShopAnswer(reference, None, unavailable=True)
        outcome = "unavailable" if answer.unavailable else "found" if answer.order else "not_found"
        SHOP_LOOKUPS.labels(outcome).inc()
        return replace(reading, shop_answer=answer)

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

    async def _took_answer(
        self,
        event: messages_pb2.MessageReceived,
        customer_id: str,
        analysis: emotion_pb.AnalyzeResponse | None,
        history: context_pb.GetContextResponse,
    ) -> bool:
        """Take the message as the answer to the rating or the follow-up question the
        conversation is waiting on; False when it is none (a new request)."""
        if not has_text(event):
            return False
        scale = self._policy.rating_scale
        if history.conversation.state == context_pb.CONVERSATION_STATE_RATING_REQUESTED:
            rating = read_score(event.text, scale)
            if rating is not None:
                await self._take_rating(event, customer_id, rating, history)
            return rating is not None
        envelope = event.envelope
        asked = follow_up_asked(history.recent_turns, envelope.event_id)
        answer = read_follow_up(
            event.text,
            analysis.intent.name if analysis is not None else "",
            waited=envelope.occurred_at.ToDatetime(UTC) - asked.asked_at if asked else None,
            window=self._policy.feedback_window,
            asks_for_a_person=self._policy.asks_for_a_person(event.text),
            asks_a_question=self._policy.asks_a_question(event.text),
        )
        FOLLOW_UPS.labels(answer.value).inc()
        if answer is FollowUp.NEW_REQUEST or asked is None:  # (no question: a new request)
            return False
        given = answer is FollowUp.FEEDBACK
        if given:
            rated = read_score(asked.rating_turn.text, scale)
            await self._publish_feedback(
                event,
                customer_id,
                analysis,
                derived_event_id(asked.rating_turn.event_id, RATING),
                rated.score if rated is not None else 0,
            )
        thanks = (VOICE.feedback_thanks if given else VOICE.rating_thanks)(
            history.conversation.language
        )
        record = step_record(
            f"feedback_{answer.value}",
            "The customer said what could be done better."
            if given
            else "The customer had nothing to add to their rating.",
            "rating/feedback-thanks" if given else "rating/thanks",
            thanks,
        )
        await self._reply(event, customer_id, thanks, record)
        await self._context.set_conversation_state(
            envelope.conversation_id, context_pb.CONVERSATION_STATE_RESOLVED
        )
        return True

    async def _take_rating(
        self,
        event: messages_pb2.MessageReceived,
        customer_id: str,
        rating: Rating,
        history: context_pb.GetContextResponse,
    ) -> None:
        """Record the customer's rating of the agent's help, thank them and ask what could
        be done better."""
        envelope = event.envelope
        customer = _known_customer(envelope, customer_id)
        scale, out_of = _SCALES[self._policy.rating_scale]
        await self._publisher.publish(
            FEEDBACK,
            feedback_pb2.SatisfactionRated(
                envelope=caused_by(envelope, RATING, customer),
                score=rating.score,
                comment=rating.comment,
                agent_id=history.conversation.assignee,
                scale=scale,
            ),
        )
        follow_up = VOICE.rating_follow_up(history.conversation.language)
        record = step_record(
            "rating_received",
            f"The customer rated the resolved conversation {rating.score} {out_of}; "
            "they are asked what could be done better.",
            "rating/follow-up",
            follow_up,
        )
        await self._reply(event, customer_id, follow_up, record)
        await self._context.set_conversation_state(
            envelope.conversation_id, context_pb.CONVERSATION_STATE_FEEDBACK_REQUESTED
        )
        RATINGS.labels(str(rating.score)).inc()

    async def _publish_feedback(
        self,
        event: messages_pb2.MessageReceived,
        customer_id: str,
        analysis: emotion_pb.AnalyzeResponse | None,
        rating_event_id: str,
        score: int,
    ) -> None:
        """The customer's words of what could be done better, with the reading of them
        the message already got (no emotion without the customer's consent)."""
        envelope = event.envelope
        feedback = feedback_pb2.FeedbackGiven(
            envelope=caused_by(envelope, FEEDBACK_GIVEN, _known_customer(envelope, customer_id)),
            text=event.text,
            rating_event_id=rating_event_id,
            score=score,
            scale=_SCALES[self._policy.rating_scale][0],
        )
        if analysis is not None:
            feedback.intent = analysis.intent.name
            feedback.language = analysis.language.code
        if reads_feelings(analysis):
            feedback.dominant_emotion = analysis.dominant_emotion
            feedback.intensity = analysis.intensity
            feedback.sentiment_score = analysis.sentiment.score
        await self._publisher.publish(FEEDBACK, feedback)

    async def _hand_off(self, handoff: handoff_pb2.HandoffRequested, *, with_agent: bool) -> None:
        """Ask for a person: the conversation waits for an agent, with the reasons and
        context. One an agent already holds stays theirs; the desk raises its priority."""
        await self._publisher.publish(HANDOFF, handoff)
        if not with_agent:
            # After the publish: were this lost, a redelivery would find the conversation
            # still with the bot, decide the same again and republish (same event id).
            await self._context.set_conversation_state(
                handoff.envelope.conversation_id, context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
            )
        HANDOFFS.labels(handoff.reasons[0].code if handoff.reasons else "policy").inc()

    async def _analyze(
        self,
        event: messages_pb2.MessageReceived,
        previous_language: str,
        *,
        embed: bool,
        feelings: bool,
    ) -> emotion_pb.AnalyzeResponse | None:
        """The emotion reading (with the retrieval embedding when there is knowledge to
        look in and the intent is one it may answer), or None when the emotion service is
        down: answer anyway. Without ``feelings`` (the customer opted out) only the
        language and intent, which are not emotion data: they are answered in their
        language and to their request all the same."""
        try:
            analysis = await self._emotion.analyze(
                event.text,
                event.locale_hint,
                previous_language,
                include_embedding=embed,
                no_embedding_for_intents=self._policy.knowledge_excluded_intents,
                language_and_intent_only=not feelings,
            )
        except DependencyUnavailableError as exc:
            log.warning("answering without emotion analysis: %s", exc)
            return None
        return analysis if feelings else language_and_intent(analysis)
