"""Canned responses: what a response may say, how it is filled, found and what its macro does."""

from __future__ import annotations

import pytest

from services.agent_desk.canned import (
    MacroAction,
    MacroStep,
    Response,
    check_shortcut,
    check_text,
    conversation_values,
    fill,
    matching,
    parse_actions,
    text_for,
    unfilled,
)
from shared.errors import InvalidInputError

TEAMS = ("support", "billing")


def _response(shortcut: str, title: str, **texts: str) -> Response:
    return Response(id=shortcut, title=title, shortcut=shortcut, texts=texts, actions=())


def test_a_text_with_known_placeholders_is_accepted() -> None:
    check_text("Hi {first_name}, order {order_reference} left today. {agent_name}")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Hi {firstname}", "{firstname}"),
        ("Your order {order} shipped", "{order}"),
        ("Hi {first_name", "brace"),
        ("Hi first_name}", "brace"),
        ("   ", "needs a text"),
    ],
)
def test_a_text_with_a_mistake_is_refused_naming_it(text: str, named: str) -> None:
    with pytest.raises(InvalidInputError, match=named.replace("{", r"\{")):
        check_text(text)


def test_shortcuts_are_lower_case_words_typed_after_a_slash() -> None:
    assert check_shortcut(" /Refund-Late ") == "refund-late"
    for bad in ("", "/", "two words", "é", "x" * 33):
        with pytest.raises(InvalidInputError):
            check_shortcut(bad)


def test_macro_steps_are_read_and_checked() -> None:
    steps = parse_actions(["tag:Refund", " resolve ", ""], TEAMS)
    assert steps == (MacroAction(MacroStep.TAG, "refund"), MacroAction(MacroStep.RESOLVE))
    assert parse_actions(["transfer:billing"], TEAMS) == (
        MacroAction(MacroStep.TRANSFER, "billing"),
    )
    assert str(MacroAction(MacroStep.TAG, "vip")) == "tag:vip"
    assert MacroAction.stored("transfer:gone") == MacroAction(MacroStep.TRANSFER, "gone")


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        (["close"], "Unknown macro step"),
        (["transfer:legal"], "the teams are support, billing"),
        (["tag:"], "A tag is"),
        (["tag:two words"], "A tag is"),
        (["resolve:now"], "takes no value"),
        (["resolve", "return"], "only one of them"),
        (["transfer:billing", "resolve"], "only one of them"),
    ],
)
def test_a_wrong_macro_is_refused_naming_the_mistake(steps: list[str], named: str) -> None:
    with pytest.raises(InvalidInputError, match=named):
        parse_actions(steps, TEAMS)


def test_placeholders_are_filled_from_the_conversation_and_the_rest_stay_marked() -> None:
    values = conversation_values(
        "Ana Lima", "Sam", {"order_reference": "#1001", "email": "", "colour": "red"}
    )
    assert values == {
        "order_reference": "#1001",
        "customer_name": "Ana Lima",
        "first_name": "Ana",
        "agent_name": "Sam",
    }
    text = fill("Hi {first_name}, {order_reference} to {email}. {agent_name}", values)
    assert text == "Hi Ana, #1001 to {email}. Sam"
    assert unfilled(text) == ["email"]
    assert unfilled("a {json} sample") == []  # only the desk's placeholders count


def test_no_name_leaves_the_name_placeholders_to_fill() -> None:
    assert "first_name" not in conversation_values("  ", "Sam", {})


def test_the_conversation_language_is_used_when_the_response_has_it() -> None:
    response = _response("hi", "Hello", en="Hello", es="Hola")
    assert text_for(response, "es", "en") == ("Hola", "es")
    assert text_for(response, "de", "en") == ("Hello", "en")
    assert text_for(_response("hi", "Hello", fr="Bonjour"), "de", "en") == ("Bonjour", "fr")


def test_search_finds_by_shortcut_title_or_text_without_accents_or_case() -> None:
    refund = _response("refund", "Refund on its way", en="Your refund left today.")
    late = _response("late", "Late parcel", es="Tu reembolsó llegará tarde")
    address = _response("address", "Change of address", en="We updated the address.")
    everything = [address, late, refund]
    assert matching(everything, "/ref") == [refund]
    assert matching(everything, "REEMBOLSO") == [late]
    assert matching(everything, "address updated") == [address]
    assert matching(everything, "") == [address, late, refund]  # "/" alone lists all
    assert matching(everything, "nothing like it") == []
