"""The planner alone: one pure function from what was read to what the bot does."""

from __future__ import annotations

from dataclasses import replace

from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from services.orchestrator.crisis import CrisisResources
from services.orchestrator.dialogue import DialogueState
from services.orchestrator.orders import ShopAnswer
from services.orchestrator.planning import FIRST_MESSAGE, Reading, order_to_look_up, plan_reply
from services.orchestrator.policy import Action, Policy
from services.orchestrator.shop.order import Order
from services.orchestrator.shop.verification import ProvenIdentity

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
    assert order_to_look_up(POLICY, _reading("where is order 1001?", "track_order")) == "1001"
    assert order_to_look_up(POLICY, _reading("cancel order 1001", "cancel_order")) == ""
    assert order_to_look_up(POLICY, _reading("hello", "unknown")) == ""


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
