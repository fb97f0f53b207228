"""Carrier-compliance keywords, and opt-outs said in plain words.

Carriers and Twilio define a fixed set of one-word commands: STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE and OPTOUT opt a number out; START, YES and UNSTOP opt it back
in; HELP (and INFO) ask who is texting. They count only as the whole message, whatever
the case or surrounding spaces, so "cancel my order" is an ordinary message.

People also opt out in their own words ("please stop texting me", "no me escribas más"),
and an opt-out request must be honoured however it is phrased, so a few unambiguous
phrasings in English, Spanish, French, German and Portuguese count too. The phrases name
the messaging itself ("stop texting", "unsubscribe", "don't message me") so that "stop
by the store tomorrow?" or "can you stop my order?" stay ordinary messages.

Pure functions: no I/O, so the webhook path and the tests share one definition.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

AMBIGUOUS_OPT_IN = frozenset({"YES"})
"""Also an everyday answer: it opts in only a number that is opted out."""

_KEYWORDS = {
    **dict.fromkeys(OPT_OUT_KEYWORDS, Intent.OPT_OUT),
    **dict.fromkeys(OPT_IN_KEYWORDS, Intent.OPT_IN),
    **dict.fromkeys(HELP_KEYWORDS, Intent.HELP),
}

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'"})

_PHRASES = [
    # English
    r"\bstop (?:texting|messaging|contacting|spamming|sms(?:ing)?)\b",
    r"\bstop sending (?:me )?(?:any |these |your |those )?(?:more )?(?:texts?|messages|sms)\b",
    r"\b(?:don't|dont|do not|never) (?:text|message|sms|contact) (?:me|us)\b",
    r"\b(?:don't|dont|do not) (?:send|want) (?:me )?(?:any )?(?:more )?(?:texts?|messages|sms)\b",
    r"\bno more (?:texts?|messages|sms)\b",
    r"\bunsubscribe\b",
    r"\bopt (?:me )?out\b",
    r"\b(?:remove|take) me (?:off|from) (?:your|the|this) (?:\w+ )?list\b",
    # Spanish
    r"\b(?:deja|dejen|deje|dejad|para|pare|paren) de (?:escribirme|enviarme|mandarme|"
    r"contactarme|molestarme)\b",
    r"\bno me (?:escribas|escriba|escriban|envies|envie|envien|mandes|mande|manden|"
    r"contactes|contacte|contacten) mas\b",
    r"\bno quiero (?:recibir )?mas (?:mensajes|sms)\b",
    r"\b(?:dar(?:me)?|darse|darnos) de baja\b",
    r"\bcancelar (?:la |mi )?suscripcion\b",
    r"\bdesuscribir(?:me)?\b",
    # French
    r"\barret(?:e|ez|er) de m'(?:ecrire|envoyer|contacter|spammer|harceler)\b",
    r"\bne m'(?:ecris|ecrivez|envoie|envoyez|contacte|contactez) plus\b",
    r"\bje ne veux plus (?:recevoir )?(?:de |vos |ces )?(?:messages|sms|textos)\b",
    r"\bdesabonn(?:e|ez)[- ]moi\b",
    r"\bme desabonner\b",
    r"\bdesinscri(?:s|vez)[- ]moi\b",
    r"\bme desinscrire\b",
    # German (umlauts are folded: "hör" becomes "hor")
    r"\bauf,? mir (?:\w+ ){0,2}zu (?:schreiben|simsen|senden|schicken|texten|kontaktieren)\b",
    r"\b(?:schreib|schreibt|schreiben sie|schick|schickt|schicken sie|sende|senden sie) mir "
    r"(?:keine (?:sms|nachrichten)|nicht mehr)\b",
    r"\bkeine (?:sms|nachrichten|textnachrichten) mehr\b",
    r"\b(?:melde|melden sie) mich (?:\w+ ){0,3}ab\b",
    r"\bmich (?:\w+ ){0,3}abmelden\b",
    r"\b(?:sms|nachrichten|newsletter) abbestellen\b",
    # Portuguese
    r"\b(?:pare|para|parem) de me (?:enviar|mandar|escrever|contactar|contatar)\b",
    r"\b(?:pare|parem) de (?:enviar|mandar) (?:mensagens|sms)\b",
    r"\bnao me (?:envie|envies|enviem|mande|mandes|mandem|escreva|escrevas|escrevam|"
    r"contacte|contate|contatem) mais\b",
    r"\bnao quero (?:receber )?mais (?:mensagens|sms)\b",
    r"\bcancelar (?:a |minha )?(?:inscricao|assinatura)\b",
    r"\b(?:me )?descadastr(?:ar|e|em)(?:-me)?\b",
    r"\bsair da lista\b",
]
_OPT_OUT_PHRASE = re.compile("|".join(f"(?:{phrase})" for phrase in _PHRASES))


def normalise(text: str) -> str:
    """Lower case, accents folded, one kind of apostrophe, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(folded.split())


def keyword(text: str) -> str | None:
    """The compliance keyword the whole message is (``"STOP"``...), or None.

    Spaces, hyphens and trailing punctuation are ignored ("Stop.", "opt-out", "stop all").
    """
    compact = re.sub(r"[\s\-_]+", "", text).rstrip(".!").upper()
    return compact if compact in _KEYWORDS else None


def opts_out_in_words(text: str) -> bool:
    """Whether a free-text message asks to stop receiving messages."""
    return _OPT_OUT_PHRASE.search(normalise(text)) is not None


def classify(text: str) -> tuple[Intent, str] | None:
    """What a message asks for, with the keyword ("" for plain words); None for the rest."""
    word = keyword(text)
    if word is not None:
        return _KEYWORDS[word], word
    if opts_out_in_words(text):
        return Intent.OPT_OUT, ""
    return None
