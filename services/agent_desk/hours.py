"""Business hours: when people of the team answer, read from a YAML file.

A customer waiting outside these hours is told when the team is back instead of an
expected wait (``waiting.py``). The file::

    timezone: Europe/Paris           # an IANA name; the hours are its wall-clock times
    weekly:                          # a day not listed is closed all day
      monday: ["09:00-18:00"]
      tuesday: ["09:00-12:30", "13:30-18:00"]
      friday: ["09:00-18:00", "22:00-02:00"]   # overnight: until 02:00 on Saturday
      saturday: ["00:00-24:00"]
      sunday: []
    holidays:                        # closed: no range starting on that date opens
      - {date: 2026-12-25, name: Christmas Day}
      - 2027-01-01

Times are wall-clock times in ``timezone``, so "09:00" stays 09:00 across a change of
summer time; a time the clock skips that day (02:30 when it jumps from 02:00 to 03:00)
is read as the clock shows after the jump. A holiday cancels the ranges that start on
it; an overnight range begun the evening before still ends as planned.

Pure apart from reading the file: ``is_open`` and ``next_opening`` are plain functions of
the hours and a moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.agent_desk.yaml_files import yaml_document

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MINUTES = 24 * 60
DEFAULT_HOURS_FILE = Path(__file__).resolve().parents[2] / "business_hours.yaml"
"""Read when no file is configured and it exists; without it the team is always open."""

_RANGE = re.compile(r"^(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})$")


class HoursError(ValueError):
    """The business hours file is missing, unreadable or wrong (the message says where)."""


@dataclass(frozen=True)
class Opening:
    """One range of a weekday, in minutes after local midnight: ``end`` at most 1440
    (24:00); an ``end`` not after ``start`` runs on past midnight."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class BusinessHours:
    timezone: ZoneInfo
    weekly: tuple[tuple[Opening, ...], ...]  # seven days, Monday first
    holidays: Mapping[date, str]  # date -> name ("" when unnamed)


ALWAYS_OPEN = BusinessHours(
    ZoneInfo("UTC"), tuple((Opening(0, DAY_MINUTES),) for _ in WEEKDAYS), {}
)


def _wall_clock(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """``minutes`` after local midnight of ``day`` (1440 is the next midnight), in UTC."""
    day += timedelta(days=minutes // DAY_MINUTES)
    minutes %= DAY_MINUTES
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return local.astimezone(UTC)


def _intervals(hours: BusinessHours, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The opening intervals that start on local ``day``, in UTC, earliest first."""
    if day in hours.holidays:
        return
    for opening in sorted(hours.weekly[day.weekday()], key=lambda o: o.start):
        end_day = day + timedelta(days=1) if opening.overnight else day
        start = _wall_clock(day, opening.start, hours.timezone)
        end = _wall_clock(end_day, opening.end, hours.timezone)
        if start < end:  # a range inside a skipped hour is empty
            yield start, end


def is_open(hours: BusinessHours, now: datetime) -> bool:
    """Whether a person of the team is there at ``now`` (an aware moment)."""
    today = now.astimezone(hours.timezone).date()
    return any(
        start <= now < end
        for day in (today - timedelta(days=1), today)  # yesterday's overnight range
        for start, end in _intervals(hours, day)
    )


def next_opening(hours: BusinessHours, now: datetime) -> datetime | None:
    """The first moment at or after ``now`` that the team is open, in the business's
    time zone: ``now`` itself while open; None when no range is ever open."""
    if is_open(hours, now):
        return now.astimezone(hours.timezone)
    today = now.astimezone(hours.timezone).date()
    # A weekday with hours comes back every 7 days; each holiday can skip one of them.
    for offset in range(7 * (len(hours.holidays) + 1) + 1):
        for start, _end in _intervals(hours, today + timedelta(days=offset)):
            if start >= now:
                return start.astimezone(hours.timezone)
    return None


# Reading the file


def _minutes(hour: str, minute: str, where: str, *, end: bool) -> int:
    value = int(hour) * 60 + int(minute)
    if int(minute) > 59 or value > (DAY_MINUTES if end else DAY_MINUTES - 1):
        raise HoursError(f"{where}: {hour}:{minute} is not a time of day")
    return value


def _opening(value: Any, where: str) -> Opening:
    match = _RANGE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise HoursError(f'{where}: {value!r} is not a range like "09:00-18:00"')
    start = _minutes(match[1], match[2], where, end=False)
    end = _minutes(match[3], match[4], where, end=True)
    if start == end:
        raise HoursError(f"{where}: {value!r} opens and closes at the same time")
    return Opening(start, end)


def _weekly(value: Any, source: str) -> tuple[tuple[Opening, ...], ...]:
    if not isinstance(value, Mapping):
        raise HoursError(f"{source}: weekly must map weekday names to lists of ranges")
    unknown = sorted(str(day) for day in value if day not in WEEKDAYS)
    if unknown:
        raise HoursError(f"{source}: weekly: unknown weekdays {unknown}; use {list(WEEKDAYS)}")
    days = []
    for name in WEEKDAYS:
        ranges = value.get(name) or []
        if not isinstance(ranges, list):
            raise HoursError(f'{source}: weekly.{name} must be a list like ["09:00-18:00"]')
        days.append(
            tuple(_opening(r, f"{source}: weekly.{name}[{i}]") for i, r in enumerate(ranges))
        )
    if not any(days):
        raise HoursError(f"{source}: weekly has no opening hours at all")
    return tuple(days)


def _holiday(value: Any, where: str) -> tuple[date, str]:
    raw, name = (
        (value.get("date"), value.get("name", "")) if isinstance(value, Mapping) else (value, "")
    )
    if isinstance(raw, datetime) or not isinstance(raw, date | str):
        raise HoursError(f"{where}: the date must be written like 2026-12-25")
    if isinstance(raw, str):
        try:
            raw = date.fromisoformat(raw)
        except ValueError:
            raise HoursError(f"{where}: {raw!r} is not a date like 2026-12-25") from None
    if not isinstance(name, str):
        raise HoursError(f"{where}.name must be text")
    return raw, name


def _holidays(value: Any, source: str) -> dict[date, str]:
    if not isinstance(value, list):
        raise HoursError(f"{source}: holidays must be a list of dates")
    found: dict[date, str] = {}
    for index, item in enumerate(value):
        day, name = _holiday(item, f"{source}: holidays[{index}]")
        if day in found:
            raise HoursError(f"{source}: holidays[{index}]: {day} is listed twice")
        found[day] = name
    return found


def hours_from(document: Any, source: str) -> BusinessHours:
    """Business hours from a parsed document; ``source`` names it in every error."""
    if not isinstance(document, Mapping):
        raise HoursError(f"{source}: expected a mapping with timezone, weekly and holidays")
    unknown = sorted(str(key) for key in document if key not in {"timezone", "weekly", "holidays"})
    if unknown:
        raise HoursError(f"{source}: unknown fields {unknown}")
    zone_name = document.get("timezone")
    if not isinstance(zone_name, str) or not zone_name:
        raise HoursError(f"{source}: timezone is required, an IANA name like Europe/Paris")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{source}: timezone: {zone_name!r} is not an IANA time zone") from None
    return BusinessHours(
        zone,
        _weekly(document.get("weekly"), source),
        _holidays(document.get("holidays") or [], source),
    )


def load_hours(path: Path) -> BusinessHours:
    """Read and check a business hours file; a mistake stops the desk at start-up."""
    return hours_from(yaml_document(path, HoursError), str(path))


def configured_hours(path: Path | None, default: Path = DEFAULT_HOURS_FILE) -> BusinessHours:
    """The hours in ``path``; without one, the repository's ``business_hours.yaml`` if
    there is one, else always open."""
    if path is not None:
        return load_hours(path)
    return load_hours(default) if default.is_file() else ALWAYS_OPEN
