"""Compliance keywords as Twilio defines them, and opt-outs in plain words in five languages."""

from __future__ import annotations

import pytest

from services.sms_adapter.keywords import Intent, classify

OPT_OUT, OPT_IN, HELP = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Twilio's keywords, as the whole message, any case, any surrounding space
        ("STOP", (OPT_OUT, "STOP")),
        ("stop", (OPT_OUT, "STOP")),
        ("  Stop \n", (OPT_OUT, "STOP")),
        ("Stop.", (OPT_OUT, "STOP")),
        ("STOPALL", (OPT_OUT, "STOPALL")),
        ("stop all", (OPT_OUT, "STOPALL")),
        ("unsubscribe", (OPT_OUT, "UNSUBSCRIBE")),
        ("Cancel", (OPT_OUT, "CANCEL")),
        ("end", (OPT_OUT, "END")),
        ("QUIT", (OPT_OUT, "QUIT")),
        ("revoke", (OPT_OUT, "REVOKE")),
        ("optout", (OPT_OUT, "OPTOUT")),
        ("opt-out", (OPT_OUT, "OPTOUT")),
        ("START", (OPT_IN, "START")),
        ("yes", (OPT_IN, "YES")),
        ("Unstop", (OPT_IN, "UNSTOP")),
        ("HELP", (HELP, "HELP")),
        ("info", (HELP, "INFO")),
        # English in plain words
        ("please stop texting me", (OPT_OUT, "")),
        ("Don't message me anymore", (OPT_OUT, "")),
        ("don’t text me again!!", (OPT_OUT, "")),
        ("unsubscribe me", (OPT_OUT, "")),
        ("Stop sending me these messages", (OPT_OUT, "")),
        ("no more texts please", (OPT_OUT, "")),
        ("Remove me from your list", (OPT_OUT, "")),
        ("how do I opt out?", (OPT_OUT, "")),
        # Spanish
        ("Por favor deja de escribirme", (OPT_OUT, "")),
        ("No me envíen más mensajes", (OPT_OUT, "")),
        ("quiero darme de baja", (OPT_OUT, "")),
        ("No quiero recibir más mensajes", (OPT_OUT, "")),
        # French
        ("Arrêtez de m'envoyer des SMS", (OPT_OUT, "")),
        ("ne m’écrivez plus", (OPT_OUT, "")),
        ("désabonnez-moi s'il vous plaît", (OPT_OUT, "")),
        ("Je veux me désinscrire", (OPT_OUT, "")),
        # German
        ("Bitte hören Sie auf, mir zu schreiben", (OPT_OUT, "")),
        ("Schreiben Sie mir nicht mehr", (OPT_OUT, "")),
        ("keine SMS mehr bitte", (OPT_OUT, "")),
        ("Ich möchte mich abmelden", (OPT_OUT, "")),
        # Portuguese
        ("Pare de me enviar mensagens", (OPT_OUT, "")),
        ("não me mande mais nada", (OPT_OUT, "")),
        ("quero cancelar a inscrição", (OPT_OUT, "")),
        ("Por favor, me descadastre", (OPT_OUT, "")),
    ],
)
def test_compliance_requests_are_recognised(text: str, expected: tuple[Intent, str]) -> None:
    assert classify(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "stop by the store tomorrow?",
        "Can you stop my order?",
        "I want to cancel my order",
        "Yes please, go ahead",
        "help me track my parcel",
        "more info on my refund?",
        "the end of the month is fine",
        "Please don't send me the wrong size again",
        "Start the return process",
        "Para quando é a entrega?",
        "¿Para cuándo llega mi pedido?",
        "Arrêtez la commande s'il vous plaît",
        "Ich möchte meine Adresse ändern",
        "It stopped working after a week",
        "",
        "   ",
    ],
)
def test_ordinary_messages_stay_ordinary(text: str) -> None:
    assert classify(text) is None
