"""The planner alone: one pure function from what was read to what the bot does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from rapport.common.v1 import envelope_pb2
from rapport.context.v1.context_service_pb2 import Identity
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from services.orchestrator.crisis import CrisisResources
from services.orchestrator.dialogue import ORDER_REFERENCE, PRODUCT, DialogueState
from services.orchestrator.knowledge.articles import Article
from services.orchestrator.knowledge.index import Match
from services.orchestrator.orders import ShopAnswer
from services.orchestrator.planning import (
    FIRST_MESSAGE,
    Reading,
    address_opted_out,
    outlook,
    plan_reply,
)
from services.orchestrator.policy import DEFAULT_POLICY, Action, Policy
from services.orchestrator.shop.order import Order
from services.orchestrator.shop.verification import ProvenIdentity
from shared.kafka.codec import new_envelope
from shared.voice.replies import VOICE

POLICY = Policy.load()


def _analysis(intent: str, language: str = "en") -> emotion_pb.AnalyzeResponse:
    return emotion_pb.AnalyzeResponse(
        language=emotion_pb.Language(code=language, confidence=0.95, supported=True),
        dominant_emotion="neutral",
        intent=emotion_pb.Intent(name=intent, confidence=0.9),
    )


def _reading(text: str, intent: str, **changes: object) -> Reading:
    event = messages_pb2.MessageReceived(text=text)
    return replace(Reading(event, _analysis(intent), FIRST_MESSAGE), **changes)  # type: ignore[arg-type]


ORDER = Order(reference="#1001", status="delivered", email="a@b.fr", shipping_postal_code="75011")


def test_an_order_request_names_the_order_to_look_up_and_nothing_else_does() -> None:
    assert outlook(POLICY, _reading("where is order 1001?", "track_order")).order_to_look_up == (
        "1001"
    )
    assert outlook(POLICY, _reading("cancel order 1001", "cancel_order")).order_to_look_up == ""
    assert outlook(POLICY, _reading("hello", "unknown")).order_to_look_up == ""


WITH_AGENT = replace(FIRST_MESSAGE, conversation_state="with_agent")
WAITING = replace(FIRST_MESSAGE, conversation_state="waiting_for_agent")
SAID = [
    _reading("hello", "unknown"),
    _reading("where is order 1001?", "track_order"),
    _reading("I want to talk to a person", "contact_human_agent"),
    _reading("hello?", "unknown", situation=WITH_AGENT),
    _reading("are you there?", "unknown", situation=WAITING),
    _reading("I want to end my life", "unknown", situation=WITH_AGENT),
    _reading("where is order 1001?", "track_order", situation=WAITING),
    _reading(
        "STOP",
        "unknown",
        event=messages_pb2.MessageReceived(text="STOP", compliance_keyword="stop"),
    ),
]


@pytest.mark.parametrize("reading", SAID, ids=[r.event.text for r in SAID])
def test_whether_the_bot_answers_is_known_before_the_shop_and_is_what_the_plan_does(
    reading: Reading,
) -> None:
    """The channel is told a reply is coming on the outlook, the reply sent on the plan:
    they agree, whatever the shop then says of the order."""
    answers = outlook(POLICY, reading).answers
    for shop_answer in (None, ShopAnswer("1001", ORDER), ShopAnswer("1001", None, True)):
        plan = plan_reply(POLICY, replace(reading, shop_answer=shop_answer), "Robin")
        assert answers is not plan.quiet, (reading.event.text, plan.decision.codes())


def test_the_bot_is_going_to_answer_unless_a_person_is_in_charge_or_the_channel_answered() -> None:
    assert outlook(POLICY, _reading("hello", "unknown")).answers
    assert not outlook(POLICY, _reading("hello?", "unknown", situation=WITH_AGENT)).answers
    assert not outlook(POLICY, _reading("hello?", "unknown", situation=WAITING)).answers
    # A customer in distress is answered, a person in charge or not.
    assert outlook(POLICY, _reading("I want to end my life", "unknown", situation=WAITING)).answers
    keyword = messages_pb2.MessageReceived(text="STOP", compliance_keyword="stop")
    assert not outlook(POLICY, _reading("STOP", "unknown", event=keyword)).answers


def test_with_a_quiet_rule_on_what_the_shop_says_the_answer_is_not_known_before_it(
    tmp_path: Path,
) -> None:
    document = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    document["rules"].append(
        {
            "code": "shop_down_quiet",
            "when": {"order_lookup": "unavailable"},
            "action": "stay_quiet",
            "explanation": "The shop is down; a person writes first.",
        }
    )
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    policy = Policy.load(path)
    assert not outlook(policy, _reading("where is order 1001?", "track_order")).answers
    assert outlook(policy, _reading("hello", "unknown")).answers  # no order to look up


def test_the_plan_tells_the_status_only_to_a_customer_who_proved_the_order() -> None:
    asked = _reading("where is order 1001?", "track_order", shop_answer=ShopAnswer("1001", ORDER))
    plan = plan_reply(POLICY, asked, "Robin")
    assert plan.planned.template == "order/unverified/track_order"
    assert "delivered" not in plan.planned.reply.text
    proven = replace(asked, proven=ProvenIdentity(given_email="A@B.fr", given_postal_code="75011"))
    plan = plan_reply(POLICY, proven, "Robin")
    assert plan.planned.template == "order/found/track_order"
    assert "Order 1001 has been delivered." in plan.planned.reply.text
    assert plan.facts.order_status == "delivered" and plan.decision.action is Action.AUTO_REPLY


def test_a_shop_that_cannot_answer_plans_an_honest_reply_and_a_hand_over() -> None:
    down = _reading(
        "where is order 1001?", "track_order", shop_answer=ShopAnswer("1001", None, True)
    )
    plan = plan_reply(POLICY, down, "Robin")
    assert plan.decision.action is Action.REPLY_AND_ESCALATE
    assert "shop_unavailable" in plan.decision.codes()
    record = plan.record(down.analysis)
    assert record.template == "order/unavailable/track_order"


def test_three_failed_checks_and_typed_details_open_nothing() -> None:
    situation = replace(FIRST_MESSAGE, dialogue=DialogueState(failed_checks=3))
    right = _reading(
        "order 1001: a@b.fr 75011",
        "track_order",
        situation=situation,
        proven=ProvenIdentity(given_email="a@b.fr", given_postal_code="75011"),
        shop_answer=ShopAnswer("1001", ORDER),
    )
    assert plan_reply(POLICY, right, "Robin").facts.order_lookup == "not_verified"
    once = replace(right, situation=replace(situation, dialogue=DialogueState(failed_checks=1)))
    assert plan_reply(POLICY, once, "Robin").facts.order_lookup == "found"


def test_a_crisis_plan_carries_the_helplines() -> None:
    reading = _reading(
        "I want to end my life", "unknown", helplines=CrisisResources.load().for_country("GB")
    )
    plan = plan_reply(POLICY, reading, "Robin")
    assert plan.planned.template == "holding/crisis"
    assert "Samaritans: 116 123" in plan.planned.reply.text
    assert plan.decision.priority == 1.0


def test_a_reply_to_did_that_answer_your_question_is_taken_as_one() -> None:
    asked = replace(FIRST_MESSAGE, dialogue=DialogueState(awaiting="answer_check"))
    helped = plan_reply(POLICY, _reading("thanks a lot", "unknown", situation=asked), "Robin")
    assert helped.decision.codes() == ["answer_helped"]
    assert helped.planned.template == "dialogue/answer_helped"
    declined = plan_reply(POLICY, _reading("nope", "unknown", situation=asked), "Robin")
    assert declined.decision.codes() == ["answer_did_not_help"]
    assert declined.planned.template == "dialogue/offer_person"
    # A new question is a new question, and "thanks" with no question open is no reply.
    new = plan_reply(POLICY, _reading("no, how do I pay?", "unknown", situation=asked), "Robin")
    assert "answer_did_not_help" not in new.decision.codes()
    plain = plan_reply(POLICY, _reading("thanks a lot", "unknown"), "Robin")
    assert "answer_helped" not in plain.decision.codes()


def test_thanks_for_an_answer_that_asked_nothing_is_not_met_with_tell_me_more() -> None:
    answered = replace(FIRST_MESSAGE, bot_has_written=True)
    plan = plan_reply(POLICY, _reading("great, thanks!", "unknown", situation=answered), "Robin")
    assert plan.decision.codes() == ["answer_helped"]
    # A yes means nothing when nothing was asked; after "tell me more", thanks is no answer.
    assert (
        "answer_helped"
        not in plan_reply(
            POLICY, _reading("ok", "unknown", situation=answered), "Robin"
        ).decision.codes()
    )
    stalled = replace(answered, dialogue=DialogueState(stalled_turns=1))
    assert (
        "answer_helped"
        not in plan_reply(
            POLICY, _reading("thanks", "unknown", situation=stalled), "Robin"
        ).decision.codes()
    )


def test_a_cancellation_with_its_order_goes_to_a_person_who_can_cancel() -> None:
    plan = plan_reply(POLICY, _reading("please cancel order 1001", "cancel_order"), "Robin")
    assert plan.decision.action is Action.REPLY_AND_ESCALATE
    assert plan.decision.codes()[:2] == ["order_reference_given", "order_change_by_a_person"]
    assert "cancel order 1001" in plan.planned.reply.text


# The bot has just asked "which item are you looking for?" (answer/place_order).
ASKED_FOR_THE_ITEM = replace(
    FIRST_MESSAGE,
    bot_has_written=True,
    dialogue=DialogueState(awaiting=PRODUCT, asked_for="place_order"),
)


def test_the_item_asked_for_is_answered_with_and_a_person_offered() -> None:
    reading = _reading("the blue hoodie in M", "unknown", situation=ASKED_FOR_THE_ITEM)
    plan = plan_reply(POLICY, reading, "Robin")
    assert plan.planned.template == "answer/place_order/known_product"
    assert (plan.facts.product, plan.facts.product_intent) == ("blue hoodie in M", "place_order")
    assert plan.decision.codes() == ["product_given"]  # never "tell me more"
    assert plan.decision.action is Action.AUTO_REPLY  # a person offered, not imposed
    assert plan.planned.reply.text == VOICE.answer("en", "place_order", product="blue hoodie in M")
    assert "blue hoodie in M" in plan.planned.reply.text
    assert VOICE.answer("en", "place_order") not in plan.planned.reply.text


def test_the_item_noted_does_not_offer_a_person_already_being_asked_for() -> None:
    third_contact = replace(ASKED_FOR_THE_ITEM, contacts_last_7_days=3)
    reading = _reading("the blue hoodie in M", "unknown", situation=third_contact)
    plan = plan_reply(POLICY, reading, "Robin")
    assert plan.decision.codes() == ["repeat_contact", "product_given"]
    assert plan.decision.action is Action.REPLY_AND_ESCALATE
    assert plan.planned.template == "answer/place_order/known_product"
    noted = VOICE.answer("en", "place_order", product=plan.facts.product, offer_person=False)
    assert noted in plan.planned.reply.text
    offer = VOICE.libraries["en"].answers["place_order"].product_offer
    assert offer is not None and offer not in plan.planned.reply.text


def test_the_answer_is_the_item_whatever_the_intent_head_reads_but_an_order_number_wins() -> None:
    remembered = replace(
        ASKED_FOR_THE_ITEM,
        dialogue=replace(ASKED_FOR_THE_ITEM.dialogue, slots={ORDER_REFERENCE: "1001"}),
    )
    misread = _reading("la sudadera azul, talla M", "change_order", situation=remembered)
    plan = plan_reply(POLICY, misread, "Robin")
    assert plan.planned.template == "answer/place_order/known_product"
    assert (plan.facts.product, plan.facts.order_reference) == ("sudadera azul, talla M", "")
    named = _reading("order 48213", "track_order", situation=ASKED_FOR_THE_ITEM)
    plan = plan_reply(POLICY, named, "Robin")
    assert plan.planned.template == "answer/track_order/known_order"
    assert (plan.facts.order_reference, plan.facts.product) == ("48213", "")


def test_a_yes_thanks_or_a_request_for_a_person_names_no_item() -> None:
    unclear = plan_reply(POLICY, _reading("ok", "unknown", situation=ASKED_FOR_THE_ITEM), "Robin")
    assert (unclear.facts.product, unclear.planned.template) == ("", "answer/unknown")
    person = _reading("talk to someone", "contact_human_agent", situation=ASKED_FOR_THE_ITEM)
    plan = plan_reply(POLICY, person, "Robin")
    assert plan.facts.product == "" and plan.decision.action is Action.ESCALATE
    # Words the text alone could take for an item, read as a feeling: about that instead.
    grateful = _analysis("unknown", "es")
    grateful.dominant_emotion, grateful.intensity = "gratitude", 0.6
    thanks = _reading("Gracias, muy amable.", "unknown", situation=ASKED_FOR_THE_ITEM)
    plan = plan_reply(POLICY, replace(thanks, analysis=grateful), "Robin")
    assert plan.facts.product == "" and "product_given" not in plan.decision.codes()


def test_an_item_named_keeps_the_language_the_customer_wrote_in() -> None:
    situation = replace(ASKED_FOR_THE_ITEM, previous_language="fr")
    read_as_italian = replace(
        _reading("Nike Air Max 90, taille 42", "unknown", situation=situation),
        analysis=_analysis("unknown", "it"),
    )
    plan = plan_reply(POLICY, read_as_italian, "Robin")
    assert plan.planned.reply.language == "fr"
    assert "unsupported_language" not in plan.decision.codes()  # a name is no language


RETURNS = Match(
    article=Article(
        id="returns",
        title="Returns",
        questions=("Can I return something?",),
        answers={"en": "You can return any unworn item within 30 days."},
        escalate=False,
        source=Path("returns.yaml"),
    ),
    space="test",
    similarity=0.9,
    runner_up=0.4,
    score=2.0,
    threshold=1.0,
    answers=True,
)


def test_an_item_named_before_is_not_asked_for_again_unless_an_article_answers() -> None:
    elsewhere = replace(FIRST_MESSAGE, dialogue=DialogueState(slots={PRODUCT: "blue hoodie"}))
    asks = _reading("What is your refund policy?", "check_refund_policy", situation=elsewhere)
    plan = plan_reply(POLICY, asks, "Robin")
    assert plan.planned.template == "answer/check_refund_policy/known_product"
    assert "blue hoodie" in plan.planned.reply.text
    assert VOICE.answer("en", "check_refund_policy") not in plan.planned.reply.text
    # An article that answers the request is the better answer; no item serves an order.
    answered = plan_reply(POLICY, replace(asks, match=RETURNS), "Robin")
    assert (answered.planned.template, answered.facts.product) == ("knowledge/returns", "")
    other = _reading("where is my order?", "track_order", situation=elsewhere)
    assert plan_reply(POLICY, other, "Robin").facts.product == ""


def test_a_number_is_answered_only_if_opted_in_from_sending_the_message_until_now() -> None:
    number, sms = "+14155550123", envelope_pb2.CHANNEL_SMS
    sent = new_envelope(
        conversation_id="conv-sms",
        channel=sms,
        customer=envelope_pb2.CustomerRef(channel=sms, address=number),
    )
    at = sent.occurred_at.ToNanoseconds()

    def number_that(opted_out: bool, changed_at: int | None, address: str = number) -> Identity:
        found = Identity(channel=sms, address=address, opted_out=opted_out)
        if changed_at is not None:
            found.consent_updated_at.FromNanoseconds(changed_at)
        return found

    assert not address_opted_out([number_that(False, None)], sent)  # never opted out
    assert not address_opted_out([number_that(False, at - 1)], sent)  # START, then this
    assert address_opted_out([number_that(True, at - 1)], sent)  # STOP (or words), then this
    assert address_opted_out([number_that(True, None)], sent)
    assert address_opted_out([number_that(True, at + 1)], sent)  # a STOP sent after it
    assert address_opted_out([number_that(False, at + 1)], sent)  # sent while out, then START
    # Only the number the message came from counts, on its own channel.
    assert not address_opted_out([number_that(True, at - 1, "+14155550999")], sent)
    whatsapp = Identity(channel=envelope_pb2.CHANNEL_WHATSAPP, address=number, opted_out=True)
    assert not address_opted_out([whatsapp, number_that(False, None)], sent)
