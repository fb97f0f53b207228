"""Where a conversation stands, read from the stored turns: what the bot asked for, what
the customer already gave on any channel, and the replies in a row that could not help."""

from __future__ import annotations

import pytest
from rapport.context.v1 import context_service_pb2 as context_pb

from services.orchestrator.dialogue import (
    ORDER_REFERENCE,
    PERSON,
    PRODUCT,
    DialogueState,
    dialogue_state,
    order_reference,
    product_given,
    slots_given,
)
from services.orchestrator.policy import Policy


def _bot(conversation: str, template: str) -> context_pb.Turn:
    return context_pb.Turn(
        conversation_id=conversation,
        role=context_pb.ROLE_BOT,
        text="...",
        decision=context_pb.DecisionRecord(template=template),
    )


def _customer(conversation: str, text: str) -> context_pb.Turn:
    return context_pb.Turn(conversation_id=conversation, role=context_pb.ROLE_CUSTOMER, text=text)


def _history(*turns: context_pb.Turn) -> context_pb.GetContextResponse:
    return context_pb.GetContextResponse(recent_turns=turns)


@pytest.mark.parametrize(
    ("text", "asked", "found"),
    [
        ("It's order fd8cc0", False, "fd8cc0"),
        ("order number 55123 please", False, "55123"),
        ("Die Bestellnummer ist 48213.", False, "48213"),
        ("el número de pedido es 12345", False, "12345"),
        ("commande n° 77821", False, "77821"),
        ("fd8cc0", True, "fd8cc0"),
        ("#A-1042", True, "A-1042"),
        ("fd8cc0", False, ""),  # a lone token counts only as the answer to the question
        ("my phone number is 0612345678", False, ""),
        ("I ordered 2 shirts", True, ""),
        ("call me at 10:30", True, ""),
        ("Can I pay by card when it arrives? (v00-07)", True, ""),  # not a short answer
        ("it's fd8cc0 thanks", True, "fd8cc0"),
        ("my number is +4915123456701", True, ""),
    ],
)
def test_an_order_reference_is_read_where_one_is_given(text: str, asked: bool, found: str) -> None:
    assert order_reference(text, asked=asked) == found


def test_the_bots_question_is_what_the_conversation_waits_for() -> None:
    state = dialogue_state(
        _history(
            _customer("c1", "where is my order"),
            _bot("c1", "answer/track_order"),
            _customer("c1", "fd8cc0"),
        ),
        "c1",
    )
    assert state == DialogueState(
        awaiting=ORDER_REFERENCE, asked_for="track_order", slots={}, stalled_turns=0
    )
    offered = dialogue_state(
        _history(_bot("c1", "knowledge/unknown"), _customer("c1", "yes")), "c1"
    )
    assert offered.awaiting == PERSON and offered.stalled_turns == 1


def test_an_order_given_on_another_channel_is_remembered() -> None:
    state = dialogue_state(
        _history(
            _bot("sms", "answer/cancel_order"),
            _customer("sms", "it's 77310"),
            _bot("sms", "answer/cancel_order/known_order"),
            _customer("web", "I want to cancel my order"),
        ),
        "web",
    )
    assert state.slots == {ORDER_REFERENCE: "77310"} and state.awaiting == ""


def test_replies_that_could_not_help_are_counted_until_one_did() -> None:
    turns = [
        _bot("c1", "answer/unknown"),
        _customer("c1", "hmm"),
        _bot("c1", "answer/track_order"),
        _customer("c1", "well"),
        _bot("c1", "answer/unknown"),
        _customer("c1", "so"),
        _bot("c1", "knowledge/unknown"),
        _customer("c1", "ok"),
    ]
    assert dialogue_state(_history(*turns), "c1").stalled_turns == 2
    assert dialogue_state(_history(*turns[:4]), "c1").stalled_turns == 0
    assert dialogue_state(_history(*turns), "another").stalled_turns == 0


@pytest.mark.parametrize(
    ("text", "agrees"),
    [
        ("yes please", True),
        ("Yes, I'd like that", True),
        ("sí, por favor", True),
        ("oui", True),
        ("Ja gerne", True),
        ("sim, pode ser", True),
        ("no thanks", False),
        ("yesterday my parcel came", False),
        ("I am not sure", False),
    ],
)
def test_a_yes_is_told_apart(text: str, agrees: bool) -> None:
    assert Policy.load().agrees(text) is agrees


@pytest.mark.parametrize(
    ("text", "awaiting", "slots"),
    [
        (
            "jane@example.com 75011",
            "verification",
            {"email": "jane@example.com", "postal_code": "75011"},
        ),
        (
            "my email is Jane.Doe@mail.fr, postcode sw1a 1aa",
            "",
            {"email": "Jane.Doe@mail.fr", "postal_code": "SW1A 1AA"},
        ),
        (
            "order 1001, a@b.pt and 1000-001",
            "verification",
            {"order_reference": "1001", "email": "a@b.pt", "postal_code": "1000-001"},
        ),
        ("Die richtige Nummer ist 1004", "order_reference", {"order_reference": "1004"}),
        ("75011", "", {}),  # a lone number is a postal code only when one was asked for
        ("CEP 01310-100", "", {"postal_code": "01310-100"}),
        ("the blue hoodie in M", "product", {"product": "blue hoodie in M"}),
        ("the blue hoodie in M", "order_reference", {}),  # an item only when one was asked
        ("order 48213", "product", {"order_reference": "48213"}),  # an order number wins
        ("jane@example.com", "product", {"email": "jane@example.com"}),
    ],
)
def test_the_orders_details_are_read_as_slots(
    text: str, awaiting: str, slots: dict[str, str]
) -> None:
    assert slots_given(text, awaiting) == slots


def test_details_asked_for_an_order_and_their_failures_are_followed() -> None:
    asked = _bot("web-1", "order/unverified/track_order")
    state = dialogue_state(_history(asked, _customer("web-1", "x")), "web-1")
    assert (state.awaiting, state.asked_for, state.offers_person) == (
        "verification",
        "track_order",
        False,
    )
    refused = _bot("web-1", "order/not_verified/track_order")
    state = dialogue_state(
        _history(asked, _customer("web-1", "a@b.fr 75012"), refused, _customer("web-1", "?")),
        "web-1",
    )
    # Corrected details are still read as the order's, and a yes takes the person offered.
    assert (state.awaiting, state.offers_person, state.failed_checks) == ("verification", True, 1)
    assert state.slots == {"email": "a@b.fr", "postal_code": "75012"}


def test_an_unknown_order_asks_for_the_number_again_and_counts_as_no_progress() -> None:
    turns = [
        _bot("sms-1", "answer/track_order"),
        _customer("sms-1", "4242"),
        _bot("sms-1", "order/not_found/track_order"),
        _customer("sms-1", "4343"),
        _bot("sms-1", "order/not_found/track_order"),
        _customer("sms-1", "?"),
    ]
    state = dialogue_state(_history(*turns), "sms-1")
    assert (state.awaiting, state.asked_for, state.stalled_turns) == (
        ORDER_REFERENCE,
        "track_order",
        2,
    )


def test_an_answer_from_the_knowledge_waits_to_hear_whether_it_helped() -> None:
    answered = _bot("web-1", "knowledge/delivery-times")
    state = dialogue_state(_history(answered, _customer("web-1", "thanks")), "web-1")
    assert state.awaiting == "answer_check"
    unknown = _bot("web-1", "knowledge/unknown")
    state = dialogue_state(_history(unknown, _customer("web-1", "yes")), "web-1")
    assert (state.awaiting, state.offers_person) == (PERSON, True)


@pytest.mark.parametrize(
    ("text", "asked", "found"),
    [
        ("the blue hoodie in M", True, "blue hoodie in M"),
        ("It’s the blue hoodie!", True, "blue hoodie"),
        ("ok, I'd like a linen shirt", True, "linen shirt"),
        ("¡la sudadera azul, talla M!", True, "sudadera azul, talla M"),
        ("c'est l'écharpe rouge", True, "écharpe rouge"),
        ("die Wanderschuhe Modell Alpin, Größe 42", True, "Wanderschuhe Modell Alpin, Größe 42"),
        ("um casaco de lã", True, "casaco de lã"),
        ('"Nike Air Max 90"', True, "Nike Air Max 90"),
        ("hoodie (M)", True, "hoodie (M)"),
        ("A-line skirt", True, "A-line skirt"),  # "a" opens it only as a word
        ("the blue hoodie in M", False, ""),  # only the answer to the bot's question
        ("yes", True, ""),
        ("thanks a lot!", True, ""),
        ("hello", True, ""),
        ("no idea", True, ""),
        ("Vielen Dank", True, ""),
        ("the", True, ""),
        ("do you have it in blue?", True, ""),  # a question, not an item
        ("I want to cancel my order", True, ""),  # another request
        ("I am not sure which one, I will have to check with my wife first", True, ""),
        ("x" * 81, True, ""),  # never cut, so never longer than a name
        ("", True, ""),
    ],
)
def test_the_item_is_read_from_a_short_answer_to_the_bots_question(
    text: str, asked: bool, found: str
) -> None:
    assert product_given(text, asked=asked) == found


def test_an_item_named_is_remembered_once_the_bot_took_it_as_one() -> None:
    asked = _bot("web", "answer/place_order")
    state = dialogue_state(_history(_customer("web", "hi"), asked, _customer("web", "x")), "web")
    assert (state.awaiting, state.asked_for) == (PRODUCT, "place_order")
    took = [
        asked,
        _customer("web", "the blue hoodie"),
        _bot("web", "answer/place_order/known_product"),
    ]
    state = dialogue_state(_history(*took, _customer("sms", "what is your refund policy")), "sms")
    assert state.slots == {PRODUCT: "blue hoodie"}
    # Its answer offers a person: a yes takes it, and it was progress, not a stall.
    here = dialogue_state(_history(*took, _customer("web", "yes")), "web")
    assert (here.awaiting, here.offers_person, here.stalled_turns) == (PERSON, True, 0)
    # Words the bot did not take as an item (it handed over instead) are not one.
    handed = [asked, _customer("web", "talk to someone"), _bot("web", "holding/ordinary")]
    assert dialogue_state(_history(*handed, _customer("web", "hello")), "web").slots == {}
