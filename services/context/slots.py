"""What a customer told the bot (an order reference, an email, a postal code), remembered.

Pure rules, no I/O: what a well-formed slot is, and which of two values of one name is
kept. The store keeps one value per customer and name, the newest; a repeat is a no-op.
Slot values are personal data, so no error message ever quotes one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from services.context.errors import InvalidSlotError

MAX_NAME = 40
MAX_VALUE = 200
MAX_CONVERSATION_ID = 64
#: Most slots one RememberSlots call may carry.
MAX_SLOTS_PER_CALL = 32
_NAME = re.compile(rf"[a-z][a-z_]{{0,{MAX_NAME - 1}}}")


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    value: str
    conversation_id: str
    channel: int
    given_at: datetime


def checked(slot: Slot) -> Slot:
    """``slot`` as stored (value without surrounding spaces), or why it cannot be."""
    if not _NAME.fullmatch(slot.name):
        raise InvalidSlotError(
            f"slot name {slot.name[:MAX_NAME]!r} must be a lowercase letter followed by "
            f"lowercase letters or underscores, at most {MAX_NAME} in all"
        )
    value = slot.value.strip()
    if not value:
        raise InvalidSlotError(f"slot {slot.name} has an empty value")
    if len(value) > MAX_VALUE:
        raise InvalidSlotError(
            f"slot {slot.name} has a {len(value)}-character value; at most {MAX_VALUE}"
        )
    if len(slot.conversation_id) > MAX_CONVERSATION_ID:
        raise InvalidSlotError(
            f"slot {slot.name} names a conversation id longer than {MAX_CONVERSATION_ID}"
        )
    return slot if value == slot.value else replace(slot, value=value)


def checked_all(slots: Iterable[Slot]) -> list[Slot]:
    """Every slot checked, or the first reason one cannot be stored; at least one, and a
    bounded number, so one call holds the writer briefly."""
    found = [checked(slot) for slot in slots]
    if not found:
        raise InvalidSlotError("slots is empty")
    if len(found) > MAX_SLOTS_PER_CALL:
        raise InvalidSlotError(f"{len(found)} slots; the limit is {MAX_SLOTS_PER_CALL} per call")
    return found


def newest_per_name(slots: Iterable[Slot]) -> list[Slot]:
    """One slot per name, the newest ``given_at``; on a tie the later in ``slots`` wins,
    as a later write of an equally old value does in the store. Ordered by name."""
    kept: dict[str, Slot] = {}
    for slot in slots:
        current = kept.get(slot.name)
        if current is None or slot.given_at >= current.given_at:
            kept[slot.name] = slot
    return [kept[name] for name in sorted(kept)]
