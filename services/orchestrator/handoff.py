"""The handoff packet: everything an agent needs to take over without asking again.

Built from what the orchestrator already holds when it decides (the decision, the facts
it decided on, the customer's context), so a handoff costs no extra call.
"""

from __future__ import annotations

from collections.abc import Mapping

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.orchestrator.attachments import summary_line
from services.orchestrator.dialogue import (
    EMAIL,
    KNOWLEDGE,
    KNOWLEDGE_UNKNOWN,
    ORDER_REFERENCE,
    POSTAL_CODE,
    PRODUCT,
)
from services.orchestrator.policy import Decision, Facts
from shared.channels.reply_windows import REPLY_WINDOWS
from shared.kafka.codec import caused_by
from shared.languages import determined

HANDOFF = "handoff"
"""The purpose a handoff is derived under from the inbound event (its event id)."""


def required_skills(facts: Facts, language: str) -> list[str]:
    """What an agent must be able to do: write the language, handle the topic or request."""
    skills = []
    if determined(language):
        skills.append(f"language:{language}")
    if facts.sensitive_topic:
        skills.append(f"topic:{facts.sensitive_topic}")
    if facts.intent != "unknown":
        skills.append(f"intent:{facts.intent}")
    return skills


def articles_tried(
    history: context_pb.GetContextResponse, conversation_id: str, facts: Facts
) -> list[str]:
    """The articles the bot has answered with in this conversation, oldest first, the one
    it answers with now included."""
    tried = [
        turn.decision.template.removeprefix(KNOWLEDGE)
        for turn in history.recent_turns
        if turn.role == context_pb.ROLE_BOT
        and turn.conversation_id == conversation_id
        and turn.decision.template.startswith(KNOWLEDGE)
        and turn.decision.template != KNOWLEDGE_UNKNOWN
    ]
    if facts.knowledge_answers:
        tried.append(facts.knowledge_article)
    return list(dict.fromkeys(tried))


_SHOP_SAID = {
    "found": "the shop has it as {status}, told to the customer, who proved it is theirs",
    "unverified": "its details were asked for: nothing proves yet it is the customer's",
    "not_verified": "the email and postal code given did not match: nothing was told",
    "not_found": "the shop has no such order",
    "unavailable": "the shop could not be reached",
}
_SLOT_NAMES = {
    ORDER_REFERENCE: "order",
    EMAIL: "email",
    POSTAL_CODE: "postal code",
    PRODUCT: "product",
}


def summary(
    context_summary: str,
    facts: Facts,
    tried: list[str],
    slots: Mapping[str, str] | None = None,
) -> str:
    """What an agent reads first: the customer's summary from context and what they want
    now; what the latest message carries that the bot could not look at; what the bot
    already tried (articles, the order look-up) and what the customer gave (order,
    email, postal code, product), so nobody asks again."""
    lines = [context_summary]
    if facts.intent != "unknown":
        lines.append(f"Wants: {facts.intent.replace('_', ' ')}.")
    if facts.attachment_kinds:
        lines.append(summary_line(facts.attachment_kinds, facts.has_text))
    if tried:
        lines.append(f"The bot answered from the knowledge articles: {', '.join(tried)}.")
    if facts.knowledge_article and not facts.knowledge_answers and facts.asks_question:
        lines.append("Nothing in the knowledge answered the latest question.")
    if facts.order_lookup:
        said = _SHOP_SAID[facts.order_lookup].format(status=facts.order_status)
        lines.append(f"Order {facts.order_reference} looked up: {said}.")
    given = [f"{_SLOT_NAMES[n]} {v}" for n, v in sorted((slots or {}).items()) if n in _SLOT_NAMES]
    if given:
        lines.append(f"Given: {', '.join(given)}.")
    return " ".join(line for line in lines if line)


def handoff_packet(
    *,
    inbound: envelope_pb2.Envelope,
    customer: envelope_pb2.CustomerRef,
    decision: Decision,
    facts: Facts,
    history: context_pb.GetContextResponse,
    latest_reply: str,
    language: str,
    slots: Mapping[str, str] | None = None,
) -> handoff_pb2.HandoffRequested:
    """The ``HandoffRequested`` for ``inbound``; ``latest_reply`` is what the bot just said,
    ``language`` the customer's ("" when unknown), ``slots`` what they gave."""
    bot_replies = [
        turn.text
        for turn in history.recent_turns
        if turn.role == context_pb.ROLE_BOT and turn.conversation_id == inbound.conversation_id
    ]
    consent = history.consent
    packet = handoff_pb2.HandoffRequested(
        envelope=caused_by(inbound, HANDOFF, customer),
        reasons=[
            handoff_pb2.DecisionReason(
                code=r.code, explanation=r.explanation, confidence=r.confidence
            )
            for r in decision.reasons
        ],
        summary=summary(
            history.summary,
            facts,
            articles_tried(history, inbound.conversation_id, facts),
            slots,
        ),
        priority=decision.priority,
        language=language,
        preferred_agent_id=facts.returned_by_agent,
        required_skills=required_skills(facts, language),
        identities=[
            envelope_pb2.CustomerRef(
                customer_id=customer.customer_id,
                channel=identity.channel,
                address=identity.address,
                display_name=history.customer.display_name,
            )
            for identity in history.customer.identities
            if identity.verified
        ],
        trajectory=[
            handoff_pb2.EmotionReading(
                occurred_at=point.occurred_at,
                dominant_emotion=point.dominant_emotion,
                intensity=point.intensity,
                sentiment_score=point.sentiment_score,
            )
            for point in history.trajectory.points
        ],
        trend=facts.trend,
        bot_replies=[*bot_replies, latest_reply],
        consent=handoff_pb2.ConsentFlags(
            emotion_analysis_allowed=consent.emotion_analysis_allowed,
            marketing_allowed=consent.marketing_allowed,
            sms_opted_out=consent.sms_opted_out,
        ),
        intent=facts.intent,
    )
    window = REPLY_WINDOWS.get(inbound.channel)
    if window is not None:
        # The message being handled is the customer's latest: the window runs from it.
        packet.reply_window_closes_at.FromDatetime(inbound.occurred_at.ToDatetime() + window)
    return packet
