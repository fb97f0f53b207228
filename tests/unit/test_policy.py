"""The decision policy as shipped in policy.yaml: actions and their reasons."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

from services.orchestrator.policy import Action, Facts, Policy

POLICY = Policy.load()


def decide(**facts: object) -> tuple[Action, list[str]]:
    decision = POLICY.decide(Facts(**{"emotion_available": True, **facts}))  # type: ignore[arg-type]
    return decision.action, decision.codes()


@pytest.mark.parametrize(
    ("facts", "action", "codes"),
    [
        ({"intent": "track_order", "dominant_emotion": "neutral"}, Action.AUTO_REPLY, []),
        ({"intent": "unknown"}, Action.AUTO_REPLY, ["intent_unclear"]),
        (
            {"intent": "get_refund", "dominant_emotion": "anger", "intensity": 0.9},
            Action.REPLY_AND_ESCALATE,
            ["strong_negative_emotion"],
        ),
        (
            {"intent": "get_refund", "dominant_emotion": "anger", "intensity": 0.3},
            Action.AUTO_REPLY,
            [],
        ),
        (
            {"intent": "track_order", "trend": "worsening", "sentiment_score": -0.4},
            Action.REPLY_AND_ESCALATE,
            ["worsening_trajectory"],
        ),
        # Negative by the sentiment head's cut point for the language: -0.15 is negative
        # in English, neutral in Spanish (-0.22).
        (
            {"intent": "track_order", "trend": "worsening", "sentiment_score": -0.15},
            Action.REPLY_AND_ESCALATE,
            ["worsening_trajectory"],
        ),
        (
            {
                "intent": "track_order",
                "trend": "worsening",
                "sentiment_score": -0.15,
                "language": "es",
            },
            Action.AUTO_REPLY,
            [],
        ),
        (
            {
                "intent": "track_order",
                "trend": "worsening",
                "sentiment_score": -0.3,
                "language": "es",
            },
            Action.REPLY_AND_ESCALATE,
            ["worsening_trajectory"],
        ),
        (
            {"intent": "track_order", "contacts_last_7_days": 3},
            Action.REPLY_AND_ESCALATE,
            ["repeat_contact"],
        ),
        (
            {"intent": "complaint", "sarcasm": True, "sentiment_score": -0.3},
            Action.REPLY_AND_ESCALATE,
            ["sarcasm_on_negative_topic"],
        ),
        (
            {"sarcasm": True, "sentiment_score": 0.8, "negative_event": True, "intent": "x"},
            Action.REPLY_AND_ESCALATE,
            ["sarcasm_on_negative_topic"],
        ),
        (
            {"sarcasm": True, "sentiment_score": -0.5, "negative_event": True, "intent": "x"},
            Action.REPLY_AND_ESCALATE,
            ["sarcasm_on_negative_topic"],
        ),
        (
            {"sarcasm": True, "sentiment_score": 0.9, "intent": "x"},
            Action.AUTO_REPLY,
            [],
        ),
        (
            {"intent": "unknown", "human_requested": True},
            Action.ESCALATE,
            ["human_requested"],
        ),
        (
            {"intent": "track_order", "sensitive_topic": "bereavement"},
            Action.ESCALATE,
            ["sensitive_topic"],
        ),
        (
            {
                "intent": "track_order",
                "language": "uk",
                "language_supported": False,
                "language_confidence": 0.9,
            },
            Action.REPLY_AND_ESCALATE,
            ["unsupported_language"],
        ),
        (  # too short to tell: no escalation on a guess
            {
                "intent": "track_order",
                "language": "sq",
                "language_supported": False,
                "language_confidence": 0.3,
            },
            Action.AUTO_REPLY,
            [],
        ),
        (
            {
                "intent": "track_order",
                "conversation_state": "waiting_for_agent",
                "human_requested": True,
            },
            Action.STAY_QUIET,
            ["agent_in_charge", "human_requested"],
        ),
        (
            {"emotion_available": False, "intent": "track_order"},
            Action.AUTO_REPLY,
            ["without_emotion_analysis"],
        ),
        (
            {"intent": "unknown", "human_requested": True, "returned_by_agent": "agent-7"},
            Action.ESCALATE,
            ["human_requested", "recently_returned"],
        ),
        (  # handed back: the history that escalated it does not escalate it again
            {
                "intent": "track_order",
                "returned_by_agent": "agent-7",
                "seen_by_agent": ("repeat_contact", "worsening_trajectory"),
                "contacts_last_7_days": 4,
                "trend": "worsening",
                "sentiment_score": -0.5,
            },
            Action.AUTO_REPLY,
            ["recently_returned"],
        ),
        (  # ... but a new reason in the message itself still does
            {
                "intent": "track_order",
                "returned_by_agent": "agent-7",
                "seen_by_agent": ("repeat_contact",),
                "contacts_last_7_days": 4,
                "dominant_emotion": "anger",
                "intensity": 0.8,
            },
            Action.REPLY_AND_ESCALATE,
            ["strong_negative_emotion", "recently_returned"],
        ),
        (  # a photo alone: nothing to analyse, and a person must look at it
            {"emotion_available": False, "has_text": False, "attachment_kinds": ("image",)},
            Action.REPLY_AND_ESCALATE,
            ["media_received"],
        ),
        (
            {
                "emotion_available": False,
                "has_text": False,
                "attachment_kinds": ("sticker", "voice_note"),
            },
            Action.REPLY_AND_ESCALATE,
            ["media_received"],
        ),
        (  # a sticker alone is a reaction: thanked for, nobody called
            {"emotion_available": False, "has_text": False, "attachment_kinds": ("sticker",)},
            Action.AUTO_REPLY,
            ["sticker_received"],
        ),
        (  # text with a photo: the text decides as usual, the photo still needs a person
            {"intent": "track_order", "attachment_kinds": ("image",)},
            Action.REPLY_AND_ESCALATE,
            ["media_received"],
        ),
        (
            {"intent": "track_order", "attachment_kinds": ("sticker",)},
            Action.AUTO_REPLY,
            [],
        ),
        (
            {
                "intent": "unknown",
                "human_requested": True,
                "attachment_kinds": ("file", "location"),
            },
            Action.ESCALATE,
            ["human_requested", "media_received"],
        ),
        (
            {
                "emotion_available": False,
                "has_text": False,
                "attachment_kinds": ("video",),
                "conversation_state": "with_agent",
            },
            Action.STAY_QUIET,
            ["agent_in_charge", "media_received"],
        ),
    ],
)
def test_each_situation_gets_its_action_and_reasons(
    facts: dict[str, object], action: Action, codes: list[str]
) -> None:
    assert decide(**facts) == (action, codes)


def test_a_keyword_the_channel_answered_keeps_the_bot_quiet_whatever_else_holds() -> None:
    decision = POLICY.decide(
        Facts(
            emotion_available=True,
            compliance_keyword="help",
            intent="unknown",
            contacts_last_7_days=4,
        )
    )
    assert decision.action is Action.STAY_QUIET
    assert decision.codes() == ["channel_keyword", "repeat_contact", "intent_unclear"]
    assert decision.reasons[0].explanation == (
        "The customer sent the keyword 'help': the channel already answered it, "
        "so the bot says nothing."
    )
    assert decide(intent="unknown") == (Action.AUTO_REPLY, ["intent_unclear"])


def test_a_number_that_opted_out_is_neither_answered_nor_handed_over_unless_in_crisis() -> None:
    asking = Facts(
        emotion_available=True, address_opted_out=True, human_requested=True, intent="refund"
    )
    decision = POLICY.decide(asking)
    assert decision.action is Action.STAY_QUIET
    assert decision.codes() == ["address_opted_out", "human_requested"]
    crisis = POLICY.decide(replace(asking, sensitive_topic="self_harm"))
    assert crisis.action is Action.ESCALATE and "crisis" in crisis.codes()


def test_a_holding_reply_is_not_explained_by_what_an_answer_would_have_said() -> None:
    """Escalating, the bot only says a person is coming: the article it did not quote
    and the order status it did not tell are not reasons; answering and handing over,
    it says both, and both are."""
    article = {
        "intent": "check_refund_policy",
        "knowledge_article": "refunds",
        "knowledge_answers": True,
        "asks_question": True,
    }
    assert decide(**article, human_requested=True) == (Action.ESCALATE, ["human_requested"])
    assert decide(**article, dominant_emotion="anger", intensity=0.9) == (
        Action.REPLY_AND_ESCALATE,
        ["strong_negative_emotion", "answered_from_knowledge"],
    )
    told = {"order_reference": "1002", "order_intent": "track_order", "order_lookup": "found"}
    assert decide(**told, sensitive_topic="bereavement") == (
        Action.ESCALATE,
        ["sensitive_topic", "order_reference_given"],
    )


def test_a_score_on_the_threshold_meets_it_after_crossing_the_contract_as_float32() -> None:
    on_threshold = struct.unpack("f", struct.pack("f", 0.7))[0]  # 0.699999988...
    assert on_threshold < 0.7

    assert decide(intent="get_refund", dominant_emotion="anger", intensity=on_threshold) == (
        Action.REPLY_AND_ESCALATE,
        ["strong_negative_emotion"],
    )


def test_reasons_are_sentences_with_the_facts_in_them() -> None:
    decision = POLICY.decide(
        Facts(
            emotion_available=True,
            dominant_emotion="anger",
            intensity=0.93,
            contacts_last_7_days=4,
            intent="complaint",
        )
    )
    explanations = {r.code: r.explanation for r in decision.reasons}
    assert explanations["strong_negative_emotion"] == (
        "The customer is upset (anger, intensity 0.93)."
    )
    assert explanations["repeat_contact"] == "This is contact number 4 in the last 7 days."
    assert 0.5 < decision.priority <= 1
    confidence = {r.code: r.confidence for r in decision.reasons}
    # A reason resting on a model's reading is as sure as the reading; a count is certain.
    assert confidence == {"strong_negative_emotion": 0.93, "repeat_contact": 1.0}


def test_the_needs_a_person_signal_hands_over_and_names_its_signals() -> None:
    decision = POLICY.decide(
        Facts(
            emotion_available=True,
            intent="get_refund",
            needs_person=True,
            needs_person_score=0.81,
            needs_person_signals=("anger", "intent:complaint"),
        )
    )
    assert decision.action is Action.REPLY_AND_ESCALATE
    [reason] = decision.reasons
    assert reason.code == "needs_a_person" and reason.confidence == pytest.approx(0.81)
    assert reason.explanation == (
        "The message reads as one a person should answer (signals: anger, intent:complaint)."
    )
    assert decide(intent="get_refund", needs_person_score=0.81)[0] is Action.AUTO_REPLY


def test_the_media_reason_names_what_was_sent_and_is_certain() -> None:
    decision = POLICY.decide(
        Facts(emotion_available=False, has_text=False, attachment_kinds=("image", "voice_note"))
    )
    [reason] = decision.reasons
    assert reason.explanation == (
        "The customer sent something the bot cannot look at (image, voice note): a person should."
    )
    assert reason.confidence == 1.0
    assert decision.priority == 0.3


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Can I talk to a person please?", True),
        ("quiero hablar con una persona", True),
        ("Je veux parler à quelqu'un", True),
        ("Ich möchte mit einem Menschen sprechen", True),
        ("Posso falar com uma pessoa?", True),
        ("The person who delivered it was nice", False),
    ],
)
def test_requests_for_a_person_are_heard_in_every_language(text: str, asks: bool) -> None:
    assert POLICY.asks_for_a_person(text) is asks


def test_sensitive_topics_are_named_and_ordinary_words_are_not() -> None:
    assert (
        POLICY.sensitive_topic("My mother passed away, please cancel her account") == "bereavement"
    )
    assert POLICY.sensitive_topic("I will contact my lawyer") == "legal_threat"
    assert POLICY.sensitive_topic("Mi padre falleció la semana pasada") == "bereavement"
    assert POLICY.sensitive_topic("My phone battery died again") == ""


def test_a_named_mishap_is_told_from_plain_thanks() -> None:
    assert POLICY.names_a_negative_event("Thanks a lot for cancelling my order")
    assert POLICY.names_a_negative_event("Oh great, another week without my parcel")
    assert not POLICY.names_a_negative_event("Thank you, have a nice day!")
    assert not POLICY.names_a_negative_event("Ok, thanks.")


def test_a_rule_on_an_unknown_fact_stops_loading(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text(
        "default_action: auto_reply\nbounce_window_minutes: 30\n"
        "rules: [{code: x, when: {mood: sad}, action: escalate, explanation: x}]\n"
        "lexicons: {human_request: {en: [human]}, sensitive_topics: {}}\n"
    )
    with pytest.raises(ValueError, match="unknown facts"):
        Policy.load(broken)
    broken.write_text(broken.read_text().replace("{mood: sad}", "{}, confidence: certainty"))
    with pytest.raises(ValueError, match="unknown facts"):
        Policy.load(broken)
