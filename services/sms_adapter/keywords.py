"""Carrier-compliance keywords, and opt-outs said in plain words.

Carriers and Twilio define a fixed set of one-word commands: STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE and OPTOUT opt a number out; START, YES and UNSTOP opt it back
in; HELP (and INFO) ask who is texting. They count only as the whole message, whatever
the case, accents or surrounding spaces, so "cancel my order" is an ordinary message.
They are the carriers' words in every language, so they say nothing of the texter's.
Twilio's stop filtering also takes ARRET (with its misspellings ARRETE and ARRETT), the
French one of Canadian carriers: French, then. No other language's word is on those
lists (not PARAR, not HALT), so none is taken: a word Twilio does not block could be an
everyday one, and such opt-outs are caught in plain words below anyway.

People also opt out in their own words ("please stop texting me", "no me escribas más"),
and an opt-out request must be honoured however it is phrased, so a few unambiguous
phrasings in English, Spanish, French, German and Portuguese count too, each telling the
language it is said in. The phrases name the messaging itself ("stop texting",
"unsubscribe", "don't message me") so that "stop by the store tomorrow?" or "can you stop
my order?" stay ordinary messages.

Pure functions: no I/O, so the webhook path and the tests share one definition.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    | {"ARRET", "ARRETE", "ARRETT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

KEYWORD_LANGUAGES = {"ARRET": "fr", "ARRETE": "fr", "ARRETT": "fr"}
"""The keywords that are in one language (the rest are every language's)."""

AMBIGUOUS_OPT_IN = frozenset({"YES"})
"""Also an everyday answer: it opts in only a number that is opted out."""

_KEYWORDS = {
    **dict.fromkeys(OPT_OUT_KEYWORDS, Intent.OPT_OUT),
    **dict.fromkeys(OPT_IN_KEYWORDS, Intent.OPT_IN),
    **dict.fromkeys(HELP_KEYWORDS, Intent.HELP),
}

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'"})

# The plain-words opt-outs, by the language they are said in.
_PHRASES = {
    "en": [
        r"\bstop (?:texting|messaging|contacting|spamming|sms(?:ing)?)\b",
        r"\bstop sending (?:me )?(?:any |these |your |those )?(?:more )?(?:texts?|messages|sms)\b",
        r"\b(?:don't|dont|do not|never) (?:text|message|sms|contact) (?:me|us)\b",
        r"\b(?:don't|dont|do not) (?:send|want) (?:me )?(?:any )?(?:more )?"
        r"(?:texts?|messages|sms)\b",
        r"\bno more (?:texts?|messages|sms)\b",
        r"\bunsubscribe\b",
        r"\bopt (?:me )?out\b",
        r"\b(?:remove|take) me (?:off|from) (?:your|the|this) (?:\w+ )?list\b",
    ],
    "es": [
        r"\b(?:deja|dejen|deje|dejad|para|pare|paren) de (?:escribirme|enviarme|mandarme|"
        r"contactarme|molestarme)\b",
        r"\bno me (?:escribas|escriba|escriban|envies|envie|envien|mandes|mande|manden|"
        r"contactes|contacte|contacten) mas\b",
        r"\bno quiero (?:recibir )?mas (?:mensajes|sms)\b",
        r"\b(?:dar(?:me)?|darse|darnos) de baja\b",
        r"\bcancelar (?:la |mi )?suscripcion\b",
        r"\bdesuscribir(?:me)?\b",
    ],
    "fr": [
        r"\barret(?:e|ez|er) de m'(?:ecrire|envoyer|contacter|spammer|harceler)\b",
        r"\bne m'(?:ecris|ecrivez|envoie|envoyez|contacte|contactez) plus\b",
        r"\bje ne veux plus (?:recevoir )?(?:de |vos |ces )?(?:messages|sms|textos)\b",
        r"\bdesabonn(?:e|ez)[- ]moi\b",
        r"\bme desabonner\b",
        r"\bdesinscri(?:s|vez)[- ]moi\b",
        r"\bme desinscrire\b",
    ],
    # German (umlauts are folded: "hör" becomes "hor")
    "de": [
        r"\bauf,? mir (?:\w+ ){0,2}zu (?:schreiben|simsen|senden|schicken|texten|kontaktieren)\b",
        r"\b(?:schreib|schreibt|schreiben sie|schick|schickt|schicken sie|sende|senden sie) mir "
        r"(?:keine (?:sms|nachrichten)|nicht mehr)\b",
        r"\bkeine (?:sms|nachrichten|textnachrichten) mehr\b",
        r"\b(?:melde|melden sie) mich (?:\w+ ){0,3}ab\b",
        r"\bmich (?:\w+ ){0,3}abmelden\b",
        r"\b(?:sms|nachrichten|newsletter) abbestellen\b",
    ],
    "pt": [
        r"\b(?:pare|para|parem) de me (?:enviar|mandar|escrever|contactar|contatar)\b",
        r"\b(?:pare|parem) de (?:enviar|mandar) (?:mensagens|sms)\b",
        r"\bnao me (?:envie|envies|enviem|mande|mandes|mandem|escreva|escrevas|escrevam|"
        r"contacte|contate|contatem) mais\b",
        r"\bnao quero (?:receber )?mais (?:mensagens|sms)\b",
        r"\bcancelar (?:a |minha )?(?:inscricao|assinatura)\b",
        r"\b(?:me )?descadastr(?:ar|e|em)(?:-me)?\b",
        r"\bsair da lista\b",
    ],
}
_OPT_OUT_PHRASES = {
    language: re.compile("|".join(f"(?:{phrase})" for phrase in phrases))
    for language, phrases in _PHRASES.items()
}


def normalise(text: str) -> str:
    """Lower case, accents folded, one kind of apostrophe, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " ".join(folded.split())


def keyword(text: str) -> str | None:
    """The compliance keyword the whole message is (``"STOP"``...), or None.

    Spaces, hyphens, accents and trailing punctuation are ignored ("Stop.", "opt-out",
    "stop all", "Arrêt").
    """
    compact = re.sub(r"[\s\-_]+", "", normalise(text)).rstrip(".!").upper()
    return compact if compact in _KEYWORDS else None


def opt_out_language(text: str) -> str | None:
    """The language a free-text message asks in to stop receiving messages; None when it
    does not ask that."""
    folded = normalise(text)
    return next((lang for lang, said in _OPT_OUT_PHRASES.items() if said.search(folded)), None)


@dataclass(frozen=True, slots=True)
class Request:
    """What a compliance message asks for."""

    intent: Intent
    keyword: str  # the keyword the whole message is ("STOP"); "" for plain words
    language: str  # the language it is said in; "" for the keywords every language uses


def classify(text: str) -> Request | None:
    """What a message asks for; None for every message that is not a compliance request."""
    word = keyword(text)
    if word is not None:
        return Request(_KEYWORDS[word], word, KEYWORD_LANGUAGES.get(word, ""))
    language = opt_out_language(text)
    return Request(Intent.OPT_OUT, "", language) if language is not None else None
