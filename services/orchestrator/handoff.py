"""The handoff packet: everything an agent needs to take over without asking again.

Built from what the orchestrator already holds when it decides (the decision, the facts
it decided on, the customer's context), so a handoff costs no extra call.
"""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.orchestrator.attachments import summary_line
from services.orchestrator.dialogue import KNOWLEDGE, KNOWLEDGE_UNKNOWN
from services.orchestrator.policy import Decision, Facts
from shared.channels.reply_windows import REPLY_WINDOWS
from shared.kafka.codec import caused_by

HANDOFF = "handoff"
"""The purpose a handoff is derived under from the inbound event (its event id)."""


def required_skills(facts: Facts, language: str) -> list[str]:
    """What an agent must be able to do: write the language, handle the topic or request."""
    skills = []
    if language:
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


def summary(context_summary: str, facts: Facts, tried: list[str]) -> str:
    """The customer's summary from context; what the latest message carries besides text,
    which the bot could not look at; what the bot already answered from the business's
    knowledge, or that it found nothing there for the latest question."""
    lines = [context_summary]
    if facts.attachment_kinds:
        lines.append(summary_line(facts.attachment_kinds, facts.has_text))
    if tried:
        lines.append(f"The bot answered from the knowledge articles: {', '.join(tried)}.")
    if facts.knowledge_article and not facts.knowledge_answers and facts.asks_question:
        lines.append("Nothing in the knowledge answered the latest question.")
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
) -> handoff_pb2.HandoffRequested:
    """The ``HandoffRequested`` for ``inbound``; ``latest_reply`` is what the bot just said,
    ``language`` the customer's ("" when unknown)."""
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
            history.summary, facts, articles_tried(history, inbound.conversation_id, facts)
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
