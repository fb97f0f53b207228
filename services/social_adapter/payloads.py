"""Reading platform JSON defensively: a webhook is untrusted input of any shape.

Platforms add fields and event kinds all the time, and anyone can post anything to a
webhook URL (a forged one is refused before parsing, but a signed one may still hold a
shape we never saw). These helpers turn "not what we expected" into empty values, so an
adapter skips what it does not understand instead of failing the whole webhook; only a
body that is not a JSON object at all is refused (400).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from shared.channels.adapter import Attachment, AttachmentKind
from shared.errors import InvalidInputError

JsonObject = dict[str, Any]


def load_object(body: bytes) -> JsonObject:
    """The body as a JSON object; :class:`InvalidInputError` for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidInputError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInputError("the body is not a JSON object")
    return data


def obj(data: object, key: str) -> JsonObject:
    """``data[key]`` when both are objects, else ``{}``."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def objects(data: object, key: str) -> list[JsonObject]:
    """The objects in the list ``data[key]`` (anything else in it is skipped)."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def text(data: object, key: str, limit: int = 65_536) -> str:
    """``data[key]`` as text: strings as they are, integers as digits, else ``""``."""
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, bool):
        return ""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, int):
        return str(value)[:limit]
    return ""


def size(value: object) -> int:
    """A byte count as given (the edge refuses an implausible one); 0 when there is none."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def degrees(value: object) -> float:
    """A coordinate as a float; NaN for anything but a number, for the edge to refuse."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an integer of hundreds of digits
        return math.nan


def location(coordinates: JsonObject, *names: str) -> Attachment:
    """A shared place: its coordinates (``latitude``, ``longitude``) and the names given
    for it (a title, an address), joined."""
    return Attachment(
        "",
        AttachmentKind.LOCATION,
        latitude=degrees(coordinates.get("latitude")),
        longitude=degrees(coordinates.get("longitude")),
        place=", ".join(name for name in names if name),
    )


def moment(seconds: object) -> datetime | None:
    """A Unix time (seconds, as a number or digits) as an aware datetime, if plausible."""
    if isinstance(seconds, str) and seconds.isdecimal() and len(seconds) < 20:
        seconds = int(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
