"""What the bot makes of one customer message: the facts the policy reads, and the reply
it plans in the brand voice.

Pure: the inbound handler calls these between its calls to the context and emotion
services, and ``decide`` (``cli.py``) calls them on messages read from a file, so an
operator trying the policy sees what the service would do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from services.orchestrator.attachments import distinct, kinds_of
from services.orchestrator.crisis import Helplines
from services.orchestrator.dialogue import (
    ANSWER_CHECK,
    ANSWER_HELPED,
    ASKS_FOR_ORDER,
    ASKS_FOR_PRODUCT,
    KNOWLEDGE,
    KNOWLEDGE_UNKNOWN,
    KNOWN_ORDER,
    KNOWN_PRODUCT,
    NOT_HELPED,
    OFFER_PERSON,
    ORDER,
    ORDER_REFERENCE,
    PERSON,
    PRODUCT,
    SHORT_ANSWER_WORDS,
    VERIFICATION,
    DialogueState,
    dialogue_state,
    order_reference,
    slots_given,
)
from services.orchestrator.handback import seen_by_agent
from services.orchestrator.knowledge.index import KnowledgeIndex, Match
from services.orchestrator.orders import (
    LOOKUP_INTENTS,
    MAX_FAILED_CHECKS,
    OrderOutcome,
    ShopAnswer,
    order_answer,
    order_outcome,
)
from services.orchestrator.policy import Action, Decision, Facts, Policy
from services.orchestrator.shop.verification import ProvenIdentity
from shared.channel_names import channel_name
from shared.voice.replies import VOICE, EarlierContact, Reply

CRISIS = "crisis"
"""The policy's reason when the customer wrote of harming themselves (policy.yaml): the
reply gives the crisis resources for their country."""

MEDIA_RECEIVED = "media_received"
"""The policy's reason when the message carries what the bot cannot look at (policy.yaml):
the reply then says a person will."""

_PRAISE = frozenset({"gratitude", "joy"})


@dataclass(frozen=True, slots=True)
class Situation:
    """What the context store knows as the message arrives: the conversation so far and
    the customer's recent past."""

    conversation_state: str  # as the policy names it: "bot", "waiting_for_agent"...
    trend: str  # "improving", "stable", "worsening"
    contacts_last_7_days: int
    conversation_language: str  # what the conversation was written in so far ("" unknown)
    returned_by_agent: str  # who handed the conversation back within the bounce window
    bot_has_written: bool  # in this conversation; the bot says it is a bot only once
    earlier_contact: EarlierContact | None  # the customer's latest message elsewhere
    dialogue: DialogueState = DialogueState()  # what the bot asked, what it was given
    previous_language: str = ""  # of the customer's message before this one ("" none)
    # Rules whose evidence an agent already dealt with before handing back (handback.py).
    seen_by_agent: frozenset[str] = frozenset()
    # The address the message came from was opted out of messages on its channel at some
    # time from sending it until now.
    address_opted_out: bool = False


FIRST_MESSAGE = Situation(
    conversation_state="bot",
    trend="stable",
    contacts_last_7_days=1,  # the contact this message opens
    conversation_language="",
    returned_by_agent="",
    bot_has_written=False,
    earlier_contact=None,
)
"""A new customer's first message: the context store has just opened their first
contact and knows nothing else about them."""


@dataclass(frozen=True, slots=True)
class PlannedReply:
    reply: Reply
    template: str  # which of the voice's replies, for the decision record
    language: str  # the language asked of the voice; "" when unknown (its default used)


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


def _returned_by(
    conversation: context_pb.Conversation, now: datetime, bounce_window: timedelta
) -> str:
    """The agent who handed this conversation back to the bot within the bounce window."""
    if not conversation.returned_by or not conversation.HasField("returned_at"):
        return ""
    recent = now - conversation.returned_at.ToDatetime(tzinfo=UTC) <= bounce_window
    return conversation.returned_by if recent else ""


def situation_of(
    history: context_pb.GetContextResponse,
    envelope: envelope_pb2.Envelope,
    *,
    now: datetime,
    bounce_window: timedelta,
    previous_language: str = "",
) -> Situation:
    """The situation the context service described, for the message in ``envelope``."""
    conversation = history.conversation
    state = context_pb.ConversationState.Name(conversation.state)
    return Situation(
        conversation_state=state.removeprefix("CONVERSATION_STATE_").lower(),
        trend=context_pb.Trend.Name(history.trajectory.trend).removeprefix("TREND_").lower(),
        contacts_last_7_days=history.contacts_last_7_days,
        conversation_language=conversation.language,
        returned_by_agent=_returned_by(conversation, now, bounce_window),
        bot_has_written=any(
            turn.role == context_pb.ROLE_BOT and turn.conversation_id == envelope.conversation_id
            for turn in history.recent_turns
        ),
        earlier_contact=earlier_contact(history, envelope.conversation_id, envelope.channel),
        dialogue=dialogue_state(history, envelope.conversation_id),
        previous_language=previous_language,
        seen_by_agent=seen_by_agent(
            history, envelope.conversation_id, now=now, bounce_window=bounce_window
        ),
        address_opted_out=address_opted_out(history.customer.identities, envelope),
    )


def address_opted_out(
    identities: Iterable[context_pb.Identity], envelope: envelope_pb2.Envelope
) -> bool:
    """Whether the address the message came from was opted out at any time from when it
    sent the message until now: it is opted out now, or its consent changed since (each
    change is a switch, so it was opted out on one side of it). The bot then neither
    answers nor hands over: a message sent while opted out is not answered after a
    START, nor one sent just before a STOP. Both times are the SMS adapter's: it dates
    the message when it publishes it, and an opt-out (STOP, or one in words) when the
    number asked, which is before that message is published."""
    sent = envelope.occurred_at.ToNanoseconds()
    return any(
        identity.opted_out or identity.consent_updated_at.ToNanoseconds() > sent
        for identity in identities
        if (identity.channel, identity.address) == (envelope.channel, envelope.customer.address)
    )


def has_text(event: messages_pb2.MessageReceived) -> bool:
    """Whether the message has words to read (a photo sent alone has none)."""
    return bool(event.text.strip())


def reads_feelings(
    analysis: emotion_pb.AnalyzeResponse | None,
) -> TypeGuard[emotion_pb.AnalyzeResponse]:
    """Whether ``analysis`` is an emotion reading: not when the service was down (None),
    nor when the customer opted out (language and intent only: no dominant emotion)."""
    return analysis is not None and bool(analysis.dominant_emotion)


def language_and_intent(analysis: emotion_pb.AnalyzeResponse) -> emotion_pb.AnalyzeResponse:
    """The part of ``analysis`` that is not emotion data, kept for a customer who opted
    out of emotion analysis whatever the service sent (one that predates the opt-out
    field answers with everything)."""
    return emotion_pb.AnalyzeResponse(
        language=analysis.language,
        intent=analysis.intent,
        truncated=analysis.truncated,
        analysed_chars=analysis.analysed_chars,
        model_versions=analysis.model_versions,
        embedding=analysis.embedding,
        embedding_model=analysis.embedding_model,
    )


def knowledge_match(
    index: KnowledgeIndex | None, analysis: emotion_pb.AnalyzeResponse | None
) -> Match | None:
    """The article nearest the message, if there is knowledge and the message was embedded
    in a space it is indexed in."""
    if index is None or analysis is None or not analysis.embedding_model:
        return None
    return index.match(analysis.embedding_model, analysis.embedding)


def message_facts(
    policy: Policy,
    event: messages_pb2.MessageReceived,
    analysis: emotion_pb.AnalyzeResponse | None,
    situation: Situation,
    match: Match | None = None,
) -> Facts:
    """What the policy decides on: the message, its reading (None: not analysed; language
    and intent only for a customer who opted out of emotion analysis), the situation it
    arrives in and the nearest article of the business's knowledge."""
    facts = Facts(
        emotion_available=reads_feelings(analysis),
        trend=situation.trend,
        contacts_last_7_days=situation.contacts_last_7_days,
        conversation_state=situation.conversation_state,
        human_requested=policy.asks_for_a_person(event.text),
        sensitive_topic=policy.sensitive_topic(event.text),
        negative_event=policy.names_a_negative_event(event.text),
        returned_by_agent=situation.returned_by_agent,
        seen_by_agent=tuple(sorted(situation.seen_by_agent)),
        has_text=has_text(event),
        asks_question=policy.asks_a_question(event.text),
        awaiting=PERSON if situation.dialogue.offers_person else situation.dialogue.awaiting,
        stalled_turns=situation.dialogue.stalled_turns,
        agrees=policy.agrees(event.text),
        answer_check=_answer_check(policy, event.text, situation),
        attachment_kinds=distinct(kinds_of(event.attachments)),
        compliance_keyword=event.compliance_keyword,
        address_opted_out=situation.address_opted_out,
    )
    if match is not None:
        intent = analysis.intent.name if analysis is not None else "unknown"
        answers = match.answers and intent not in policy.knowledge_excluded_intents
        facts = replace(
            facts,
            knowledge_article=match.article.id,
            knowledge_similarity=match.similarity,
            knowledge_score=match.score,
            knowledge_answers=answers,
            knowledge_escalates=answers and match.article.escalate,
        )
    if analysis is not None:
        facts = replace(
            _with_feelings(facts, analysis),
            intent=analysis.intent.name,
            intent_confidence=analysis.intent.confidence,
            language=analysis.language.code,
            language_confidence=analysis.language.confidence,
            language_supported=analysis.language.supported,
            human_requested=facts.human_requested or analysis.intent.name == "contact_human_agent",
        )
    # Read last: whether the message names the item asked for depends on its reading (a
    # feeling, a request for a person).
    facts = _order_facts(facts, event.text, analysis, situation.dialogue)
    if facts.order_reference:  # the order is what is answered, not an article
        return replace(facts, knowledge_answers=False, knowledge_escalates=False)
    return _product_facts(facts, event.text, situation.dialogue)


def _with_feelings(facts: Facts, analysis: emotion_pb.AnalyzeResponse) -> Facts:
    """``facts`` with the customer's feelings as read; unchanged for one who opted out."""
    if not reads_feelings(analysis):
        return facts
    return replace(
        facts,
        dominant_emotion=analysis.dominant_emotion,
        intensity=analysis.intensity,
        sentiment_score=analysis.sentiment.score,
        sarcasm=analysis.sarcasm.detected,
        sarcasm_score=analysis.sarcasm.score,
        needs_person=analysis.needs_person.detected,
        needs_person_score=analysis.needs_person.score,
        needs_person_signals=tuple(analysis.needs_person.signals),
    )


def _answer_check(policy: Policy, text: str, situation: Situation) -> str:
    """How the message takes the bot's latest answer: a reply to "did that answer your
    question?", or thanks for an answer that asked nothing (never "tell me more" to a
    thank-you); "" otherwise."""
    awaiting = situation.dialogue.awaiting
    if awaiting == ANSWER_CHECK:
        return policy.answer_check(text)
    answered = situation.bot_has_written and not situation.dialogue.stalled_turns
    if answered and not awaiting:
        return policy.answer_check(text, asked=False)
    return ""


def _order_facts(
    facts: Facts,
    text: str,
    analysis: emotion_pb.AnalyzeResponse | None,
    dialogue: DialogueState,
) -> Facts:
    """The order number that serves this message, and the request it serves: the answer to
    the bot's question for one (read as such whatever the intent head says), or one given
    before (on any channel) when the message asks for something an order number serves."""
    asked = dialogue.awaiting == ORDER_REFERENCE
    given = order_reference(text, asked=asked)
    intent = analysis.intent.name if analysis is not None else "unknown"
    if asked and given:
        return replace(facts, order_reference=given, order_intent=dialogue.asked_for)
    details = slots_given(text, dialogue.awaiting).keys() - {ORDER_REFERENCE}
    if dialogue.awaiting == VERIFICATION and details:
        # The order's details the bot asked for: the same request, the same order.
        known = given or dialogue.slots.get(ORDER_REFERENCE, "")
        return replace(facts, order_reference=known, order_intent=dialogue.asked_for)
    if _item_named(facts, text, dialogue):
        return facts  # the item the bot asked for, with no order number: not an order's
    known = given or dialogue.slots.get(ORDER_REFERENCE, "")
    if known and intent in ASKS_FOR_ORDER:
        return replace(facts, order_reference=known, order_intent=intent)
    return facts


def _item_named(facts: Facts, text: str, dialogue: DialogueState) -> str:
    """The item the message names in answer to the bot's "which item?" ("" for none). An
    item is named plainly (its reading is neutral); a message carrying a feeling ("thank
    you, very kind", "this is unacceptable!"), asking for a person or touching a
    sensitive topic is about that instead."""
    if facts.human_requested or facts.sensitive_topic or facts.dominant_emotion != "neutral":
        return ""
    return slots_given(text, dialogue.awaiting).get(PRODUCT, "")


def _product_facts(facts: Facts, text: str, dialogue: DialogueState) -> Facts:
    """The item that serves this message, and the request it serves: the answer to the
    bot's question for one (read as such whatever the intent head says, and answered, not
    an article), or one named before (on any channel) when the message asks for something
    an item serves and no article answers it."""
    named = _item_named(facts, text, dialogue)
    if named:
        return replace(
            facts,
            product=named,
            product_intent=dialogue.asked_for,
            knowledge_answers=False,
            knowledge_escalates=False,
        )
    known = dialogue.slots.get(PRODUCT, "")
    if known and facts.intent in ASKS_FOR_PRODUCT and not facts.knowledge_answers:
        return replace(facts, product=known, product_intent=facts.intent)
    return facts


def reply_language(
    analysis: emotion_pb.AnalyzeResponse | None,
    conversation_language: str,
    locale_hint: str,
    *,
    short_answer: bool = False,
    previous_language: str = "",
) -> str:
    """The language to answer in ("" when unknown): what the text was read as (an
    opted-out customer's too); with no reading (no text, the service unavailable), the
    language the conversation was written in so far, else the one the channel suggests.
    A short answer to the bot's question ("fd8cc0", "nope") says little of its language:
    the customer's previous message's is kept."""
    if analysis is not None and not (short_answer and previous_language):
        return analysis.language.code if analysis.language.supported else ""
    return (previous_language if short_answer else "") or conversation_language or locale_hint


def _says_little_of_its_language(facts: Facts, text: str) -> bool:
    """Whether the message is a short answer to the bot's question ("fd8cc0", "nope"), or
    the item it asked for ("Nike Air Max 90"): its language is the customer's previous."""
    if facts.awaiting == PRODUCT and facts.product:
        return True
    return bool(facts.order_reference or facts.awaiting) and len(text.split()) <= SHORT_ANSWER_WORDS


def _emotion_to_acknowledge(
    analysis: emotion_pb.AnalyzeResponse | None, decision: Decision
) -> str | None:
    """The feeling the reply acknowledges (none unread: opted out or service down);
    sarcastic praise is not thanked for as praise."""
    if not reads_feelings(analysis):
        return None
    sarcastic = "sarcasm_on_negative_topic" in decision.codes()
    return None if sarcastic and analysis.dominant_emotion in _PRAISE else analysis.dominant_emotion


def dialogue_answer(
    facts: Facts, decision: Decision, language: str, outcome: OrderOutcome | None = None
) -> tuple[str, str, str]:
    """(answer, template, language) when where the conversation stands decides: what the
    shop said of the order; the request answered with the order number, or else the item,
    the customer gave; a person offered after replies that could not help; ("", "",
    language) otherwise."""
    if outcome is not None:
        answer = order_answer(language, outcome, facts.order_reference)
        return answer, f"{ORDER}{outcome.outcome}/{facts.order_intent}", language
    if facts.order_reference:
        answer = VOICE.answer(language, facts.order_intent, facts.order_reference)
        return answer, f"answer/{facts.order_intent}/{KNOWN_ORDER}", language
    if facts.product:
        answer = VOICE.answer(
            language,
            facts.product_intent,
            product=facts.product,
            offer_person=not decision.escalates,  # a person is already asked for
        )
        return answer, f"answer/{facts.product_intent}/{KNOWN_PRODUCT}", language
    if "answer_helped" in decision.codes():
        return VOICE.knowledge_glad(language), ANSWER_HELPED, language
    if {"no_progress", "answer_did_not_help"} & set(decision.codes()):
        if decision.escalates:  # a person is already asked for: no offer of one
            return VOICE.knowledge_not_helped(language), NOT_HELPED, language
        return VOICE.offer_person(language), OFFER_PERSON, language
    return "", "", language


def knowledge_answer(
    match: Match | None, facts: Facts, decision: Decision, language: str
) -> tuple[str, str, str]:
    """(answer, template, language) when the business's knowledge decides what the bot
    says: the article (in the customer's language when it has it) and "did that answer
    your question?" unless a person is taking over; the plain "I don't know" with a person
    offered; ("", "", language) otherwise."""
    if match is not None and facts.knowledge_answers:
        text, used = match.article.answer_in(language)
        check = "" if decision.escalates else VOICE.knowledge_check(used)
        return (
            " ".join(filter(None, (text, check))),
            f"{KNOWLEDGE}{match.article.id}",
            used,
        )
    if "not_in_knowledge" in decision.codes():
        return VOICE.knowledge_unknown(language), KNOWLEDGE_UNKNOWN, language
    return "", "", language


@dataclass(frozen=True, slots=True)
class Reading:
    """Everything read before the bot plans its reply: the message, its analysis (None:
    not analysed), the situation it arrives in, the nearest article of the business's
    knowledge, and where the customer can get help in a crisis."""

    event: messages_pb2.MessageReceived
    analysis: emotion_pb.AnalyzeResponse | None
    situation: Situation
    match: Match | None = None
    helplines: Helplines | None = None
    proven: ProvenIdentity = ProvenIdentity()  # what the customer has shown of themselves
    shop_answer: ShopAnswer | None = None  # the shop asked for the order the message names


@dataclass(frozen=True, slots=True)
class Plan:
    """What the bot does with one message: the facts it decided on, the decision, and the
    reply (sent unless the decision is to stay quiet)."""

    facts: Facts
    decision: Decision
    planned: PlannedReply

    @property
    def quiet(self) -> bool:
        return self.decision.action is Action.STAY_QUIET

    def record(self, analysis: emotion_pb.AnalyzeResponse | None) -> context_pb.DecisionRecord:
        return decision_record(self.decision, self.facts, analysis, self.planned)


SHOP_FACTS = ("order_lookup", "order_status")
"""The facts ``plan_reply`` takes from the shop's answer."""


def plan_reply(policy: Policy, reading: Reading, bot_name: str, facts: Facts | None = None) -> Plan:
    """The one place the bot's answer to a message is worked out, from what was read:
    the facts (``facts``, when ``outlook`` worked them out already), the policy's
    decision on them, and the reply in the brand voice."""
    if facts is None:
        facts = reading_facts(policy, reading)
    outcome = None
    if reading.shop_answer is not None and facts.order_reference:
        attempts_left = reading.situation.dialogue.failed_checks < MAX_FAILED_CHECKS
        outcome = order_outcome(reading.shop_answer, reading.proven, attempts_left=attempts_left)
        status = outcome.order.status if outcome.order else ""
        facts = replace(facts, order_lookup=outcome.outcome, order_status=status)
    decision = policy.decide(facts)
    return Plan(facts, decision, _reply(reading, decision, facts, outcome, bot_name))


@dataclass(frozen=True, slots=True)
class Outlook:
    """What is known before the shop is asked, the one step that can take seconds: the
    order number to ask it about ("" for none), and whether the bot is going to answer
    (so the customer's channel can show that a reply is being prepared)."""

    order_to_look_up: str
    answers: bool
    facts: Facts  # the message's, before the shop's answer


def reading_facts(policy: Policy, reading: Reading) -> Facts:
    return message_facts(policy, reading.event, reading.analysis, reading.situation, reading.match)


def outlook(policy: Policy, reading: Reading) -> Outlook:
    """The outlook of a message read, the shop not asked yet. The order to look up is one
    the message gives or the customer gave before, for a request its status answers. The
    bot answers unless the policy keeps it quiet (a person in charge, a keyword the
    channel answered; a crisis is answered all the same), and only if the shop's answer
    cannot change that: with an order to look up and a rule keeping the bot quiet on what
    the shop says, it is not known yet."""
    facts = reading_facts(policy, reading)
    order = facts.order_reference if facts.order_intent in LOOKUP_INTENTS else ""
    unsure = bool(order) and policy.quiet_reads(SHOP_FACTS)
    return Outlook(order, answers=not policy.keeps_quiet(facts) and not unsure, facts=facts)


def _reply(
    reading: Reading,
    decision: Decision,
    facts: Facts,
    outcome: OrderOutcome | None,
    bot_name: str,
) -> PlannedReply:
    """The bot's reply under ``decision``: crisis resources to a customer in distress, a
    holding reply when a person answers, thanks for attachments sent without text,
    otherwise the answer from where the conversation stands, the business's knowledge, or
    to the intent."""
    event, analysis, situation = reading.event, reading.analysis, reading.situation
    language = reply_language(
        analysis,
        situation.conversation_language,
        event.locale_hint,
        short_answer=_says_little_of_its_language(facts, event.text),
        previous_language=situation.previous_language,
    )
    first_bot_message = not situation.bot_has_written
    attachments = kinds_of(event.attachments)
    attachments_to_a_person = MEDIA_RECEIVED in decision.codes()
    if CRISIS in decision.codes() and reading.helplines is not None:
        template = "holding/crisis"
        reply = VOICE.crisis_reply(
            language=language,
            emergency=reading.helplines.emergency,
            resources=reading.helplines.resources,
            first_bot_message=first_bot_message,
            bot_name=bot_name,
        )
    elif decision.action is Action.ESCALATE:
        sensitive = "sensitive_topic" in decision.codes()
        template = f"holding/{'caring' if sensitive else 'ordinary'}"
        reply = VOICE.holding_reply(
            language=language,
            sensitive=sensitive,
            first_bot_message=first_bot_message,
            bot_name=bot_name,
        )
    elif not facts.has_text:
        template = f"attachments/{'to_a_person' if attachments_to_a_person else 'received'}"
        reply = VOICE.attachment_reply(
            language=language,
            attachments=attachments,
            first_bot_message=first_bot_message,
            bot_name=bot_name,
            handoff=decision.escalates,
            attachments_to_a_person=attachments_to_a_person,
        )
    else:
        answer, template, language = dialogue_answer(facts, decision, language, outcome)
        if not answer:
            answer, template, language = knowledge_answer(reading.match, facts, decision, language)
        template = template or f"answer/{facts.intent}"
        reply = VOICE.compose_reply(
            language=language,
            intent=analysis.intent.name if analysis else "unknown",
            emotion=_emotion_to_acknowledge(analysis, decision),
            intensity=analysis.intensity if reads_feelings(analysis) else 0.0,
            first_bot_message=first_bot_message,
            bot_name=bot_name,
            earlier_contact=situation.earlier_contact,
            attachments=attachments,
            handoff=decision.escalates,
            attachments_to_a_person=attachments_to_a_person,
            answer=answer,
        )
    return PlannedReply(reply, template, language)


def decision_record(
    decision: Decision,
    facts: Facts,
    analysis: emotion_pb.AnalyzeResponse | None,
    planned: PlannedReply,
) -> context_pb.DecisionRecord:
    """What is stored with the bot's reply: why it was sent, on which facts, by which models."""
    return context_pb.DecisionRecord(
        action=decision.action.value,
        reasons=[
            context_pb.DecisionReasonRecord(code=r.code, explanation=r.explanation)
            for r in decision.reasons
        ],
        priority=decision.priority,
        model_versions=dict(analysis.model_versions) if analysis else {},
        facts_json=json.dumps(facts.values(), sort_keys=True),
        template=planned.template,
        language=planned.reply.language,
    )
