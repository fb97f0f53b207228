from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import feedback_pb2, handoff_pb2, messages_pb2

from services.orchestrator.attachments import kinds_of, summary_line
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.handoff import required_skills, summary
from services.orchestrator.policy import Facts, Policy
from services.orchestrator.ratings import Scale
from shared.errors import DependencyUnavailableError, InvalidInputError
from shared.kafka.codec import derived_event_id
from shared.kafka.topics import FEEDBACK, HANDOFF, outbound_topic
from tests.fakes.ports import FakePublisher, InMemoryContext, StubEmotion, inbound_message


def _handler(
    context: InMemoryContext, publisher: FakePublisher, emotion: StubEmotion | None = None
) -> InboundHandler:
    return InboundHandler(
        emotion=emotion or StubEmotion(),
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Robin",
        context_turns=20,
    )


SMS = envelope_pb2.CHANNEL_SMS


async def test_a_message_gets_one_reply_on_its_channel_and_both_turns_are_stored() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    inbound = inbound_message("Hi, my order hasn't arrived")

    await _handler(context, publisher)(inbound)

    [(topic, reply)] = publisher.published
    assert topic == outbound_topic("web")
    assert isinstance(reply, messages_pb2.SendMessage)
    assert reply.envelope.event_id == derived_event_id(inbound.envelope.event_id, "reply")
    assert reply.envelope.customer.address == "visitor-1"
    assert reply.in_reply_to == inbound.envelope.event_id
    assert "automated assistant" in reply.text
    assert "order number" in reply.text
    roles = [t.role for t in context.turns.values()]
    assert roles == [context_pb.ROLE_CUSTOMER, context_pb.ROLE_BOT]
    customer_turn = context.turns[inbound.envelope.event_id]
    assert customer_turn.emotion.dominant_emotion == "frustration"


async def test_the_disclosure_is_only_in_the_first_bot_message() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    await handler(inbound_message("Hi"))
    await handler(inbound_message("Where is my order?"))
    first, second = (event.text for _, event in publisher.published)
    assert "automated assistant" in first
    assert "automated assistant" not in second


async def test_a_redelivered_message_republishes_the_same_reply_and_stores_nothing_new() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    inbound = inbound_message("I want a refund")
    await handler(inbound)
    await handler(inbound)

    first, second = (event for _, event in publisher.published)
    assert first.envelope.event_id == second.envelope.event_id
    assert first.text == second.text
    assert len(context.turns) == 2


async def test_it_still_answers_when_the_emotion_service_is_down() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _handler(context, publisher, StubEmotion(available=False))(inbound_message("hello?"))
    [(_, reply)] = publisher.published
    assert reply.text
    customer_turn = context.turns[next(iter(context.turns))]
    assert not customer_turn.HasField("emotion") and not customer_turn.intent


class CountingEmotion(StubEmotion):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def analyze(
        self, text: str, language_hint: str, previous_language: str = "", **options: Any
    ) -> emotion_pb.AnalyzeResponse:
        self.calls += 1
        return await super().analyze(text, language_hint, previous_language, **options)


async def test_a_customer_who_opted_out_is_asked_about_only_for_language_and_intent() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), CountingEmotion()
    handler = _handler(context, publisher, emotion)
    await handler(inbound_message("hello"))
    customer_id = next(iter(context.customers.values()))
    context.consent[customer_id] = context_pb.Consent(emotion_analysis_allowed=False)
    second = inbound_message("my order hasn't arrived")
    await handler(second)
    assert emotion.calls == 2 and emotion.only_language_and_intent == [False, True]
    assert len(publisher.published) == 2
    stored = context.turns[second.envelope.event_id]
    assert stored.language == "en" and not stored.HasField("emotion")
    assert stored.intent == "delivery_period"  # not emotion data: kept for the empathy map
    reply = context.turns[derived_event_id(second.envelope.event_id, "reply")]
    assert reply.decision.template == "answer/delivery_period"


class AngrySpanishOrder(StubEmotion):
    """Reads every message as an angry Spanish question about an order, and, like an
    emotion service that predates the opt-out, reads the feelings whatever it is asked."""

    async def analyze(
        self,
        text: str,
        language_hint: str,
        previous_language: str = "",
        *,
        language_and_intent_only: bool = False,
        **_options: Any,
    ) -> emotion_pb.AnalyzeResponse:
        self.only_language_and_intent.append(language_and_intent_only)
        return emotion_pb.AnalyzeResponse(
            language=emotion_pb.Language(code="es", confidence=0.95, supported=True),
            emotions=[emotion_pb.EmotionScore(label="anger", score=0.8)],
            dominant_emotion="anger",
            intensity=0.3,  # under the policy's upset bound: the bot answers alone
            sentiment=emotion_pb.Sentiment(label=emotion_pb.SENTIMENT_LABEL_NEGATIVE, score=-0.7),
            sarcasm=emotion_pb.Sarcasm(detected=True, score=0.9),
            needs_person=emotion_pb.NeedsPerson(score=0.2, signals=["anger"]),
            intent=emotion_pb.Intent(name="track_order", confidence=0.9),
        )


async def _spanish_order(allowed: bool) -> tuple[context_pb.Turn, context_pb.Turn, StubEmotion]:
    """The customer's turn and the bot's reply to an angry "where is my order?"."""
    context, publisher, emotion = InMemoryContext(), FakePublisher(), AngrySpanishOrder()
    context.customers[(envelope_pb2.CHANNEL_WEB, "visitor-1")] = "customer-1"
    context.consent["customer-1"] = context_pb.Consent(emotion_analysis_allowed=allowed)
    inbound = inbound_message("¿Dónde está mi pedido? ¡Esto es inaceptable!")
    await _handler(context, publisher, emotion)(inbound)
    reply = context.turns[derived_event_id(inbound.envelope.event_id, "reply")]
    return context.turns[inbound.envelope.event_id], reply, emotion


async def test_an_opted_out_customer_is_answered_in_their_language_to_their_request() -> None:
    turn, reply, emotion = await _spanish_order(allowed=False)
    assert emotion.only_language_and_intent == [True]
    assert reply.language == "es" and turn.language == "es" and turn.intent == "track_order"
    assert reply.decision.template == "answer/track_order"
    assert "Puedo consultar tu pedido: ¿cuál es el número de pedido?" in reply.text
    assert "tell me a little more" not in reply.text


async def test_nothing_of_an_opted_out_customers_feelings_is_stored_used_or_acknowledged() -> None:
    allowed_turn, allowed_reply, _ = await _spanish_order(allowed=True)
    assert allowed_turn.emotion.dominant_emotion == "anger"
    assert "Siento lo ocurrido." in allowed_reply.text  # the same anger, acknowledged
    turn, reply, _ = await _spanish_order(allowed=False)
    assert not turn.HasField("emotion")
    assert "Siento" not in reply.text
    facts = json.loads(reply.decision.facts_json)
    assert facts["emotion_available"] is False
    assert (facts["dominant_emotion"], facts["intensity"], facts["sentiment_score"]) == (
        "neutral",
        0.0,
        0.0,
    )
    assert not facts["sarcasm"] and facts["needs_person_signals"] == []
    assert (facts["intent"], facts["language"]) == ("track_order", "es")
    assert "without_emotion_analysis" in [r.code for r in reply.decision.reasons]


async def test_a_message_from_an_erased_customer_is_dropped_unanswered() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    context.erased.add((envelope_pb2.CHANNEL_WEB, "visitor-1"))
    await _handler(context, publisher)(inbound_message("old message replayed"))
    assert publisher.published == [] and context.turns == {}


async def test_the_reply_remembers_a_contact_on_another_channel() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    await handler(
        inbound_message("my order hasn't arrived", "+15551234567", envelope_pb2.CHANNEL_SMS)
    )
    # The same customer (as linked in the context store) now writes on the web.
    context.customers[(envelope_pb2.CHANNEL_WEB, "visitor-9")] = next(
        iter(context.customers.values())
    )
    await handler(inbound_message("any news?", "visitor-9"))
    web_reply = publisher.published[-1][1]
    assert "also contacted us by text message on" in web_reply.text
    sms_reply = publisher.published[0][1]
    assert "also contacted us" not in sms_reply.text


async def test_a_request_for_a_person_hands_off_with_reasons_and_the_bot_then_waits() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    asking = inbound_message("I want to talk to a real person")
    await handler(asking)

    topics = [topic for topic, _ in publisher.published]
    assert topics == [outbound_topic("web"), HANDOFF]
    holding = publisher.published[0][1]
    assert "member of our team" in holding.text and "automated assistant" in holding.text
    handoff = publisher.published[1][1]
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert [r.code for r in handoff.reasons][0] == "human_requested"
    assert handoff.envelope.event_id == derived_event_id(asking.envelope.event_id, "handoff")
    assert context.states[asking.envelope.conversation_id] == (
        context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
    )

    await handler(inbound_message("hello? anyone?"))
    assert len(publisher.published) == 2  # a person is in charge now: the bot stays quiet

    await handler(asking)  # a redelivery of the first message republishes its reply
    assert publisher.published[-1][1].envelope.event_id == holding.envelope.event_id


async def test_a_bereavement_gets_a_caring_holding_reply_and_a_person() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _handler(context, publisher)(
        inbound_message("My husband passed away, I need to close his account")
    )
    reply, handoff = (event for _, event in publisher.published)
    assert reply.text.endswith(
        "I'm so sorry. I'm asking a member of our team to help you personally; "
        "they will reply here as soon as they can."
    )
    assert handoff.reasons[0].code == "sensitive_topic"
    assert handoff.reasons[0].explanation == (
        "The customer mentioned bereavement: a person answers, with care."
    )
    assert handoff.priority >= 0.6


async def test_every_bot_reply_keeps_the_decision_that_produced_it() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    asking = inbound_message("I want to talk to a real person")
    await _handler(context, publisher)(asking)
    reply_turn = context.turns[derived_event_id(asking.envelope.event_id, "reply")]
    record = reply_turn.decision
    assert record.action == "escalate"
    assert [r.code for r in record.reasons][0] == "human_requested"
    assert record.template == "holding/ordinary" and record.language == reply_turn.language
    facts = json.loads(record.facts_json)
    assert facts["human_requested"] is True and facts["emotion_available"] is True


async def test_the_handoff_packet_carries_what_an_agent_needs_to_start() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    whatsapp = envelope_pb2.CHANNEL_WHATSAPP
    await handler(inbound_message("Where is my order?", "+15550001111", whatsapp))
    asking = inbound_message(
        "My refund never came, I want to talk to a real person", "+15550001111", whatsapp
    )
    await handler(asking)

    handoff = publisher.published[-1][1]
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert [(r.code, r.confidence) for r in handoff.reasons] == [("human_requested", 1.0)]
    assert handoff.required_skills == ["language:en", "intent:get_refund"]
    assert handoff.intent == "get_refund"
    assert [(i.channel, i.address) for i in handoff.identities] == [(whatsapp, "+15550001111")]
    assert [p.dominant_emotion for p in handoff.trajectory] == ["neutral", "frustration"]
    assert len(handoff.bot_replies) == 2
    assert "member of our team" in handoff.bot_replies[-1]
    assert handoff.consent.emotion_analysis_allowed and not handoff.consent.sms_opted_out
    sent_at = asking.envelope.occurred_at.ToDatetime()
    assert handoff.reply_window_closes_at.ToDatetime() == sent_at + timedelta(hours=24)


class _Shopping(StubEmotion):
    """Also reads "place an order" as a wish to order something."""

    CUES = {"place an order": ("neutral", "place_order"), **StubEmotion.CUES}


async def test_the_item_named_is_remembered_told_to_the_agent_and_not_asked_again() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher, _Shopping())
    for text in ("I'd like to place an order", "the blue hoodie in M", "yes please"):
        await handler(inbound_message(text))
    [customer] = set(context.slots)
    assert context.slots[customer]["product"].value == "blue hoodie in M"
    handoff = publisher.published[-1][1]
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert "Given: product blue hoodie in M." in handoff.summary
    # The same customer on WhatsApp, linked: the item is not asked for again.
    whatsapp = envelope_pb2.CHANNEL_WHATSAPP
    context.customers[(whatsapp, "+15550002222")] = customer
    await handler(inbound_message("I'd like to place an order", "+15550002222", whatsapp))
    reply = publisher.published[-1][1]
    assert "blue hoodie in M" in reply.text and "which item" not in reply.text


async def test_words_the_bot_did_not_take_for_an_item_are_not_remembered_as_one() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher, _Shopping())
    await handler(inbound_message("I'd like to place an order"))
    await handler(inbound_message("a real person please"))
    handoff = publisher.published[-1][1]
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert "Given:" not in handoff.summary
    assert all("product" not in slots for slots in context.slots.values())


def test_the_agent_reads_every_slot_given_the_item_included() -> None:
    given = {"product": "blue hoodie", "order_reference": "1001", "email": "a@b.fr"}
    assert summary("", Facts(emotion_available=True), [], given) == (
        "Given: email a@b.fr, order 1001, product blue hoodie."
    )


async def test_a_handoff_from_the_web_has_no_reply_window() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _handler(context, publisher)(inbound_message("I want to talk to a real person"))
    handoff = publisher.published[-1][1]
    assert not handoff.HasField("reply_window_closes_at")


async def _rating_asked_by(
    agent: str,
) -> tuple[InMemoryContext, FakePublisher, InboundHandler, str]:
    """A conversation an agent resolved, its customer asked for a rating."""
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    await handler(inbound_message("Where is my order?"))
    conversation = inbound_message("x").envelope.conversation_id
    await context.set_conversation_state(
        conversation, context_pb.CONVERSATION_STATE_RATING_REQUESTED, agent
    )
    return context, publisher, handler, conversation


async def test_a_rating_after_a_resolution_is_recorded_for_the_agent_and_thanked() -> None:
    context, publisher, handler, conversation = await _rating_asked_by("agent-7")
    await handler(inbound_message("4 - quick and kind, thanks"))

    (topic, rating), (_, thanks) = publisher.published[-2:]
    assert topic == FEEDBACK and isinstance(rating, feedback_pb2.SatisfactionRated)
    assert (rating.score, rating.comment, rating.agent_id) == (
        4,
        "quick and kind, thanks",
        "agent-7",
    )
    assert rating.envelope.conversation_id == conversation
    assert rating.scale == feedback_pb2.RATING_SCALE_CSAT_5
    assert thanks.text == (
        "Thank you for your rating. Is there anything we could do better? "
        "Just reply here, in your own words."
    )
    assert context.states[conversation] == context_pb.CONVERSATION_STATE_FEEDBACK_REQUESTED


async def _feedback_asked() -> tuple[InMemoryContext, FakePublisher, InboundHandler, str]:
    """A conversation whose customer rated it 2 and was asked what could be done better."""
    context, publisher, handler, conversation = await _rating_asked_by("agent-7")
    await handler(inbound_message("2"))
    return context, publisher, handler, conversation


async def test_feedback_after_the_rating_is_published_with_its_reading_and_thanked() -> None:
    context, publisher, handler, conversation = await _feedback_asked()
    rated = publisher.published[-2][1]
    words = inbound_message("The parcel hasn't arrived for days and nobody told me why")
    await handler(words)

    (topic, feedback), (_, thanks) = publisher.published[-2:]
    assert topic == FEEDBACK and isinstance(feedback, feedback_pb2.FeedbackGiven)
    assert feedback.envelope.event_id == derived_event_id(words.envelope.event_id, "feedback")
    assert feedback.envelope.conversation_id == conversation
    assert feedback.text == words.text
    assert (feedback.rating_event_id, feedback.score) == (rated.envelope.event_id, 2)
    assert (feedback.dominant_emotion, feedback.intensity) == ("frustration", pytest.approx(0.3))
    assert (feedback.intent, feedback.language) == ("delivery_period", "en")
    assert thanks.text == "Thank you for telling us; we will use it to improve."
    assert context.states[conversation] == context_pb.CONVERSATION_STATE_RESOLVED


async def test_feedback_of_a_customer_who_opted_out_carries_no_emotion() -> None:
    context, publisher, handler, _ = await _feedback_asked()
    customer_id = next(iter(context.customers.values()))
    context.consent[customer_id] = context_pb.Consent(emotion_analysis_allowed=False)
    await handler(inbound_message("The parcel hasn't arrived for days"))

    feedback = publisher.published[-2][1]
    assert isinstance(feedback, feedback_pb2.FeedbackGiven)
    assert (feedback.dominant_emotion, feedback.intensity, feedback.sentiment_score) == ("", 0, 0)
    assert feedback.intent == "delivery_period"


async def test_a_no_thanks_to_the_follow_up_closes_the_conversation_without_feedback() -> None:
    context, publisher, handler, conversation = await _feedback_asked()
    before = len(publisher.published)
    await handler(inbound_message("No thanks!"))

    [(_, thanks)] = publisher.published[before:]
    assert thanks.text == "Thank you for your rating; it helps us improve."
    assert context.states[conversation] == context_pb.CONVERSATION_STATE_RESOLVED


async def test_a_new_request_after_the_follow_up_goes_to_the_bot() -> None:
    context, publisher, handler, conversation = await _feedback_asked()
    before = len(publisher.published)
    await handler(inbound_message("Can I talk to a real person please?"))

    assert not any(isinstance(e, feedback_pb2.FeedbackGiven) for _, e in publisher.published)
    assert any(topic == HANDOFF for topic, _ in publisher.published[before:])
    assert context.states[conversation] == context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT


async def test_an_nps_answer_is_read_on_the_business_s_scale() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = InboundHandler(
        emotion=StubEmotion(),
        context=context,
        publisher=publisher,
        policy=replace(Policy.load(), rating_scale=Scale.NPS_10),
        bot_name="Robin",
        context_turns=20,
    )
    await handler(inbound_message("Where is my order?"))
    conversation = inbound_message("x").envelope.conversation_id
    await context.set_conversation_state(
        conversation, context_pb.CONVERSATION_STATE_RATING_REQUESTED, "agent-7"
    )
    await handler(inbound_message("9"))

    rating = publisher.published[-2][1]
    assert isinstance(rating, feedback_pb2.SatisfactionRated)
    assert (rating.score, rating.scale) == (9, feedback_pb2.RATING_SCALE_NPS_10)


async def test_a_message_that_is_no_rating_goes_back_to_the_bot() -> None:
    context, publisher, handler, conversation = await _rating_asked_by("agent-7")
    await handler(inbound_message("I also want a refund"))

    [(topic, reply)] = publisher.published[-1:]
    assert topic == outbound_topic("web") and "refund" in reply.text
    assert not any(t == FEEDBACK for t, _ in publisher.published)
    assert context.states[conversation] == context_pb.CONVERSATION_STATE_BOT


PHOTO = envelope_pb2.Attachment(
    reference="whatsapp:media/1029384756",
    content_type="image/jpeg",
    kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
    size_bytes=482_113,
)
VOICE_NOTE = envelope_pb2.Attachment(
    reference="telegram:file/AwACAgQAAxkBAAIB",
    content_type="audio/ogg",
    kind=envelope_pb2.ATTACHMENT_KIND_AUDIO,
    voice_note=True,
)
STICKER = envelope_pb2.Attachment(
    reference="telegram:file/CAACAgIAAxkBAAIC", kind=envelope_pb2.ATTACHMENT_KIND_STICKER
)


async def test_a_photo_without_text_is_kept_thanked_for_and_handed_to_a_person() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), CountingEmotion()
    handler = _handler(context, publisher, emotion)
    photo = inbound_message("", "+34600111222", envelope_pb2.CHANNEL_WHATSAPP, attachments=[PHOTO])
    photo.locale_hint = "es-ES"
    await handler(photo)

    assert emotion.calls == 0  # nothing to analyse
    stored = context.turns[photo.envelope.event_id]
    assert list(stored.attachments) == [PHOTO] and not stored.HasField("emotion")
    (topic, reply), (_, handoff) = publisher.published
    assert topic == outbound_topic("whatsapp")
    assert reply.text == (
        "Hola, soy Robin, un asistente automático. Si prefieres hablar con una persona, "
        "dímelo cuando quieras. Gracias por la foto. No puedo abrir archivos adjuntos por mi "
        "cuenta, así que he pedido a una persona de nuestro equipo que lo revise; "
        "te responderá aquí."
    )
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert [(r.code, r.explanation) for r in handoff.reasons] == [
        (
            "media_received",
            "The customer sent something the bot cannot look at (image): a person should.",
        )
    ]
    assert handoff.summary.endswith("The latest message carries a photo and no text.")
    assert handoff.language == "es" and "language:es" in handoff.required_skills
    assert context.states[photo.envelope.conversation_id] == (
        context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
    )
    record = context.turns[reply.envelope.event_id].decision
    assert (record.action, record.template, record.language) == (
        "reply_and_escalate",
        "attachments/to_a_person",
        "es",
    )
    assert [r.code for r in record.reasons] == ["media_received"]
    facts = json.loads(record.facts_json)
    assert facts["attachment_kinds"] == ["image"] and facts["has_text"] is False

    await handler(photo)  # a redelivery republishes the same reply, stores nothing new
    again = publisher.published[-1][1]
    assert (again.envelope.event_id, again.text) == (reply.envelope.event_id, reply.text)
    assert len(context.turns) == 2


async def test_a_mail_too_large_to_read_is_handed_to_a_person_with_no_words_analysed() -> None:
    """The email adapter publishes such a mail as the mail itself, unread: no text, one
    file with nothing to open, and a note for the agent in ``full_text``."""
    context, publisher, emotion = InMemoryContext(), FakePublisher(), CountingEmotion()
    unread = envelope_pb2.Attachment(
        content_type="message/rfc822",
        kind=envelope_pb2.ATTACHMENT_KIND_FILE,
        size_bytes=80 * 1024 * 1024,
        file_name="The video of the broken drone.eml",
    )
    mail = inbound_message("", "ana@customer.example", envelope_pb2.CHANNEL_EMAIL)
    mail.attachments.append(unread)
    mail.full_text = "[The email was 80 MB, over the 50 MB this mailbox takes; open it]"
    await _handler(context, publisher, emotion)(mail)

    assert emotion.calls == 0  # the note is not the customer's words
    (_, reply), (_, handoff) = publisher.published
    assert reply.text.endswith(
        "Thank you for the file. I can't open attachments myself, so I've asked a member of "
        "our team to take a look; they'll reply here."
    )
    assert isinstance(handoff, handoff_pb2.HandoffRequested)
    assert [r.code for r in handoff.reasons] == ["media_received"]
    assert handoff.summary.endswith("The latest message carries a file and no text.")


class _KnowsTheLanguage(InMemoryContext):
    """A store whose conversation was written in ``language`` so far."""

    def __init__(self, language: str) -> None:
        super().__init__()
        self.language = language

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse:
        found = await super().get_context(customer_id, conversation_id, max_turns)
        found.conversation.language = self.language
        return found


async def test_a_voice_note_is_answered_in_the_conversations_language_before_the_hint() -> None:
    context, publisher = _KnowsTheLanguage("fr"), FakePublisher()
    await _handler(context, publisher)(
        inbound_message("", attachments=[VOICE_NOTE], locale_hint="en-GB")
    )
    reply = publisher.published[0][1]
    assert "Merci pour le message vocal." in reply.text
    assert reply.text.endswith(
        "Je ne peux pas ouvrir les pièces jointes moi-même : j'ai donc demandé à un membre de "
        "notre équipe d'y jeter un œil ; il vous répondra ici."
    )


async def test_a_sticker_alone_is_thanked_for_and_nobody_is_called() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    await handler(inbound_message("Where is my order?"))
    sticker = inbound_message("", attachments=[STICKER])
    await handler(sticker)

    topics = [topic for topic, _ in publisher.published]
    assert topics == [outbound_topic("web"), outbound_topic("web")]
    reply = publisher.published[-1][1]
    assert reply.text == "Thanks for the sticker! Is there anything I can help you with?"
    record = context.turns[reply.envelope.event_id].decision
    assert record.action == "auto_reply" and record.template == "attachments/received"
    assert [r.code for r in record.reasons] == ["sticker_received"]
    assert list(context.turns[sticker.envelope.event_id].attachments) == [STICKER]
    assert sticker.envelope.conversation_id not in context.states


async def test_text_with_a_photo_is_answered_and_a_person_still_looks_at_the_photo() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), CountingEmotion()
    inbound = inbound_message("My order hasn't arrived, here is the receipt", attachments=[PHOTO])
    await _handler(context, publisher, emotion)(inbound)

    assert emotion.calls == 1
    stored = context.turns[inbound.envelope.event_id]
    assert stored.emotion.dominant_emotion == "frustration"
    assert list(stored.attachments) == [PHOTO]
    (_, reply), (_, handoff) = publisher.published
    assert "Thank you for the photo." in reply.text
    assert "order number" in reply.text  # the text is answered
    assert reply.text.endswith(
        "I can't open attachments myself, so I've asked a member of our team to take a look; "
        "they'll reply here."
    )
    assert [r.code for r in handoff.reasons] == ["media_received"]
    assert handoff.summary.endswith("The latest message carries a photo.")
    assert handoff.intent == "delivery_period"
    record = context.turns[reply.envelope.event_id].decision
    assert record.template == "answer/delivery_period"


async def test_a_message_with_neither_text_nor_attachments_is_refused_and_nothing_kept() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    with pytest.raises(InvalidInputError, match="neither text nor an attachment"):
        await _handler(context, publisher)(inbound_message("  \n "))
    assert publisher.published == [] and context.turns == {}


def test_attachments_are_named_by_kind_and_summed_up_for_the_agent() -> None:
    audio = envelope_pb2.Attachment(kind=envelope_pb2.ATTACHMENT_KIND_AUDIO)
    unnamed = envelope_pb2.Attachment(reference="https://api.twilio.com/media/ME1")
    assert kinds_of([audio, VOICE_NOTE, unnamed, STICKER, PHOTO]) == [
        "audio",
        "voice_note",
        "file",  # a kind the adapter did not name is a file a person opens
        "sticker",
        "image",
    ]
    assert summary_line(["image", "file"], has_text=True) == (
        "The latest message carries a photo and a file."
    )
    assert summary_line(["image", "image", "location"], has_text=False) == (
        "The latest message carries a photo, a location and no text."
    )


async def test_the_language_the_customer_last_wrote_in_goes_with_the_next_message() -> None:
    context, publisher, emotion = InMemoryContext(), FakePublisher(), StubEmotion()
    handler = _handler(context, publisher, emotion)
    await handler(inbound_message("my order hasn't arrived"))
    await handler(inbound_message("ok thx"))
    assert emotion.previous_languages == ["", "en"]


def test_an_undetermined_language_asks_no_language_of_the_agent() -> None:
    facts = Facts(emotion_available=True, intent="complaint", language="und")
    assert required_skills(facts, "und") == ["intent:complaint"]
    assert required_skills(facts, "fr") == ["language:fr", "intent:complaint"]


async def test_a_keyword_the_channel_answered_is_kept_and_gets_no_answer_nor_person() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    handler = _handler(context, publisher)
    for text, keyword in (("HELP", "help"), ("START", "start"), ("STOP", "stop")):
        keyword_message = inbound_message(text, "+14155550123", envelope_pb2.CHANNEL_SMS)
        keyword_message.compliance_keyword = keyword
        await handler(keyword_message)
        turn = context.turns[keyword_message.envelope.event_id]
        assert (turn.role, turn.text) == (context_pb.ROLE_CUSTOMER, text)

    assert publisher.published == []  # no greeting, no answer, no handoff
    assert len(context.turns) == 3 and context.states == {}


async def test_the_same_word_without_the_channels_mark_is_answered_as_usual() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _handler(context, publisher)(
        inbound_message("HELP", "+14155550123", envelope_pb2.CHANNEL_SMS)
    )
    [(topic, reply)] = publisher.published
    assert topic == outbound_topic("sms") and "automated assistant" in reply.text


async def test_a_number_that_opted_out_gets_no_reply_and_no_hand_over_but_a_crisis_does() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    number, other = "+14155550123", "+14155550124"
    context.opted_out.add((SMS, number))
    handler = _handler(context, publisher)

    await handler(inbound_message("are you there? I want to talk to a person", number, SMS))
    assert publisher.published == []  # the turn is kept, nothing is sent or handed over
    assert [t.text for t in context.turns.values()] == ["are you there? I want to talk to a person"]

    await handler(inbound_message("are you there?", other, SMS))  # its own consent
    assert [topic for topic, _ in publisher.published] == [outbound_topic("sms")]

    await handler(inbound_message("I want to end my life", number, SMS))
    assert HANDOFF in [topic for topic, _ in publisher.published[1:]]


class YieldingContext(InMemoryContext):
    """Stores turns as the real client does: the call gives the event loop a turn."""

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]:
        await asyncio.sleep(0)
        return await super().append_turn(customer_id, turn)


class RefusingPublisher(FakePublisher):
    async def publish(self, topic: str, event: Message) -> None:
        raise DependencyUnavailableError("Kafka did not accept a record")


def _signalling(
    context: InMemoryContext, publisher: FakePublisher, signals: FakePublisher
) -> InboundHandler:
    return InboundHandler(
        emotion=StubEmotion(),
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name="Robin",
        context_turns=20,
        signals=signals,
    )


async def test_the_channel_is_told_a_reply_is_being_prepared_once_and_before_the_reply() -> None:
    context, sent = YieldingContext(), FakePublisher()
    handler = _signalling(context, sent, sent)  # one producer, as in the service
    inbound = inbound_message("Hi, my order hasn't arrived")

    await handler(inbound)

    (signal_topic, signal), (reply_topic, reply) = sent.published
    assert isinstance(signal, messages_pb2.PreparingReply)
    assert isinstance(reply, messages_pb2.SendMessage)
    assert signal_topic == reply_topic == outbound_topic("web")
    assert signal.in_reply_to == reply.in_reply_to == inbound.envelope.event_id
    assert signal.envelope.event_id == derived_event_id(inbound.envelope.event_id, "preparing")
    assert signal.envelope.conversation_id == reply.envelope.conversation_id
    assert signal.envelope.customer == reply.envelope.customer
    assert signal.sender_name == reply.sender_name == "Robin"

    await handler(inbound)  # redelivered: the reply is republished, nothing is prepared
    assert [type(event) for _, event in sent.published[2:]] == [messages_pb2.SendMessage]


async def test_no_reply_is_said_to_be_coming_while_a_person_is_in_charge() -> None:
    context, publisher, signals = InMemoryContext(), FakePublisher(), FakePublisher()
    handler = _signalling(context, publisher, signals)
    await handler(inbound_message("I want to talk to a real person"))
    assert len(signals.published) == 1  # the bot's holding reply was coming

    await handler(inbound_message("hello? anyone?"))  # waiting for a person: the bot is quiet
    assert len(signals.published) == 1 and len(publisher.published) == 2

    await handler(inbound_message("I want to end my life"))  # a crisis is answered regardless
    assert len(signals.published) == 2
    assert signals.published[-1][1].in_reply_to == publisher.published[-2][1].in_reply_to


async def test_a_broker_that_refuses_the_signal_does_not_stop_the_reply() -> None:
    context, publisher = InMemoryContext(), FakePublisher()
    await _signalling(context, publisher, RefusingPublisher())(inbound_message("hello"))
    [(_, reply)] = publisher.published
    assert isinstance(reply, messages_pb2.SendMessage) and reply.text
