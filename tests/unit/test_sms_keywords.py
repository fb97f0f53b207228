"""Compliance keywords as Twilio defines them, and opt-outs in plain words in five
languages, each with the language it tells (the keywords every language uses tell none)."""

from __future__ import annotations

import pytest

from services.sms_adapter.keywords import Intent, Request, classify

OPT_OUT, OPT_IN, HELP = Intent.OPT_OUT, Intent.OPT_IN, Intent.HELP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Twilio's keywords, as the whole message, any case, any surrounding space: the
        # carriers' words in every language, so they tell no language
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
        # Canadian carriers' French STOP, as Twilio's filtering takes it (accents folded)
        ("ARRET", (OPT_OUT, "ARRET", "fr")),
        ("Arrêt", (OPT_OUT, "ARRET", "fr")),
        ("arrête", (OPT_OUT, "ARRETE", "fr")),
        ("ARRETT", (OPT_OUT, "ARRETT", "fr")),
        # English in plain words
        ("please stop texting me", (OPT_OUT, "", "en")),
        ("Don't message me anymore", (OPT_OUT, "", "en")),
        ("don’t text me again!!", (OPT_OUT, "", "en")),
        ("unsubscribe me", (OPT_OUT, "", "en")),
        ("Stop sending me these messages", (OPT_OUT, "", "en")),
        ("no more texts please", (OPT_OUT, "", "en")),
        ("Remove me from your list", (OPT_OUT, "", "en")),
        ("how do I opt out?", (OPT_OUT, "", "en")),
        # Spanish
        ("Por favor deja de escribirme", (OPT_OUT, "", "es")),
        ("No me envíen más mensajes", (OPT_OUT, "", "es")),
        ("quiero darme de baja", (OPT_OUT, "", "es")),
        ("No quiero recibir más mensajes", (OPT_OUT, "", "es")),
        # French
        ("Arrêtez de m'envoyer des SMS", (OPT_OUT, "", "fr")),
        ("ne m’écrivez plus", (OPT_OUT, "", "fr")),
        ("désabonnez-moi s'il vous plaît", (OPT_OUT, "", "fr")),
        ("Je veux me désinscrire", (OPT_OUT, "", "fr")),
        # German
        ("Bitte hören Sie auf, mir zu schreiben", (OPT_OUT, "", "de")),
        ("Schreiben Sie mir nicht mehr", (OPT_OUT, "", "de")),
        ("keine SMS mehr bitte", (OPT_OUT, "", "de")),
        ("Ich möchte mich abmelden", (OPT_OUT, "", "de")),
        # Portuguese
        ("Pare de me enviar mensagens", (OPT_OUT, "", "pt")),
        ("não me mande mais nada", (OPT_OUT, "", "pt")),
        ("quero cancelar a inscrição", (OPT_OUT, "", "pt")),
        ("Por favor, me descadastre", (OPT_OUT, "", "pt")),
    ],
)
def test_compliance_requests_are_recognised(
    text: str, expected: tuple[Intent, str] | tuple[Intent, str, str]
) -> None:
    intent, keyword, *language = expected
    assert classify(text) == Request(intent, keyword, "".join(language))


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
        "PARAR",  # not a keyword carriers or Twilio take: too close to everyday words
        "Arrête de me parler de ça, je veux juste mon colis",
        "",
        "   ",
    ],
)
def test_ordinary_messages_stay_ordinary(text: str) -> None:
    assert classify(text) is None
