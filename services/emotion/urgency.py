"""How urgent a message is: explicit signals in the words plus how strongly the customer feels.

Pure rules, no model: every signal found is named in the result, so a high urgency can
always be explained. Cue lists cover the languages Rapport answers in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CUES: dict[str, tuple[str, ...]] = {
    "deadline": (
        "today",
        "tonight",
        "tomorrow",
        "by monday",
        "by tuesday",
        "by wednesday",
        "by thursday",
        "by friday",
        "by the weekend",
        "deadline",
        "before",
        "in an hour",
        "this morning",
        "hoy",
        "mañana",
        "esta noche",
        "aujourd'hui",
        "demain",
        "ce soir",
        "heute",
        "morgen",
        "hoje",
        "amanhã",
    ),
    "right_now": (
        "right now",
        "immediately",
        "asap",
        "as soon as possible",
        "urgent",
        "urgently",
        "emergency",
        "now!",
        "ahora mismo",
        "urgente",
        "inmediatamente",
        "tout de suite",
        "immédiatement",
        "sofort",
        "dringend",
        "agora mesmo",
        "imediatamente",
    ),
    "threat_to_leave": (
        "cancel my account",
        "close my account",
        "switch to",
        "take my business elsewhere",
        "never buy",
        "never order",
        "last time i",
        "chargeback",
        "lawyer",
        "sue you",
        "legal action",
        "report you",
        "bad review",
        "leave a review",
        "dar de baja",
        "abogado",
        "avocat",
        "résilier",
        "anwalt",
        "kündigen",
        "advogado",
        "cancelar minha conta",
    ),
}
_LEVEL_HIGH = 0.6
_LEVEL_NORMAL = 0.25
_SIGNAL_WEIGHTS = {
    "deadline": 0.3,
    "right_now": 0.45,
    "threat_to_leave": 0.45,
    "repeated_punctuation": 0.15,
    "all_caps": 0.2,
    "strong_emotion": 0.35,
}
_URGENT_EMOTIONS = frozenset({"anger", "anxiety", "frustration"})
_WORD = re.compile(r"\w+", re.UNICODE)
# One pattern per signal: any of its cues, starting at a word boundary.
_PATTERNS = {
    name: re.compile(r"(?<!\w)(?:" + "|".join(re.escape(c) for c in cues) + ")")
    for name, cues in _CUES.items()
}
_REPEATED_PUNCTUATION = re.compile(r"[!?]{2,}")


@dataclass(frozen=True, slots=True)
class Urgency:
    level: str  # "low" | "normal" | "high"
    score: float
    signals: tuple[str, ...]


def shouting(text: str) -> bool:
    """Three or more words of three or more letters written in capitals."""
    return sum(1 for w in _WORD.findall(text) if len(w) >= 3 and w.isupper()) >= 3


def urgency(text: str, dominant_emotion: str, intensity: float) -> Urgency:
    lowered = text.lower()
    signals = [name for name, pattern in _PATTERNS.items() if pattern.search(lowered)]
    if _REPEATED_PUNCTUATION.search(text):
        signals.append("repeated_punctuation")
    if shouting(text):
        signals.append("all_caps")
    if dominant_emotion in _URGENT_EMOTIONS and intensity >= 0.6:
        signals.append("strong_emotion")
    score = min(1.0, sum(_SIGNAL_WEIGHTS[s] for s in signals))
    level = "high" if score >= _LEVEL_HIGH else "normal" if score >= _LEVEL_NORMAL else "low"
    return Urgency(level, round(score, 3), tuple(signals))
