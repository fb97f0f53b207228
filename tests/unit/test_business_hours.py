"""Business hours: reading the file with clear errors, and when the team is open or next
opens (summer time, holidays, overnight ranges)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.agent_desk.hours import (
    ALWAYS_OPEN,
    HoursError,
    configured_hours,
    hours_from,
    is_open,
    load_hours,
    next_opening,
)

PARIS = ZoneInfo("Europe/Paris")
EXAMPLE = Path(__file__).resolve().parents[2] / "infra" / "business_hours.example.yaml"


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def hours(**overrides: Any) -> Any:
    document = {
        "timezone": "Europe/Paris",
        "weekly": {
            "monday": ["09:00-18:00"],
            "tuesday": ["09:00-12:30", "13:30-18:00"],
            "wednesday": ["09:00-18:00"],
            "thursday": ["09:00-18:00"],
            "friday": ["09:00-18:00", "22:00-02:00"],
            "saturday": ["10:00-14:00"],
        },
        "holidays": [{"date": date(2026, 12, 25), "name": "Christmas Day"}, "2026-12-26"],
    }
    document.update(overrides)
    return hours_from(document, "hours.yaml")


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (paris(2026, 3, 2, 8, 59), False),  # Monday, before opening
        (paris(2026, 3, 2, 9, 0), True),  # opening is included
        (paris(2026, 3, 2, 18, 0), False),  # closing is not
        (paris(2026, 3, 3, 12, 45), False),  # Tuesday's lunch break
        (paris(2026, 3, 3, 13, 30), True),
        (paris(2026, 3, 6, 23, 30), True),  # Friday night's range...
        (paris(2026, 3, 7, 1, 59), True),  # ...runs into Saturday
        (paris(2026, 3, 7, 2, 0), False),
        (paris(2026, 3, 8, 12, 0), False),  # Sunday is not listed: closed
        (paris(2026, 12, 25, 12, 0), False),  # a Friday, and a holiday
        (datetime(2026, 3, 2, 8, 30, tzinfo=UTC), True),  # 09:30 in Paris (UTC+1)
    ],
)
def test_the_team_is_open_in_its_ranges_in_its_own_time_zone(moment: datetime, open_: bool) -> None:
    assert is_open(hours(), moment) is open_


def test_while_open_the_next_opening_is_now() -> None:
    now = paris(2026, 3, 2, 10, 0)
    assert next_opening(hours(), now) == now


@pytest.mark.parametrize(
    ("now", "back"),
    [
        (paris(2026, 3, 2, 7, 0), paris(2026, 3, 2, 9, 0)),  # later today
        (paris(2026, 3, 3, 12, 45), paris(2026, 3, 3, 13, 30)),  # after lunch
        (paris(2026, 3, 2, 19, 0), paris(2026, 3, 3, 9, 0)),  # tomorrow
        (paris(2026, 3, 6, 19, 0), paris(2026, 3, 6, 22, 0)),  # the overnight range
        (paris(2026, 3, 7, 15, 0), paris(2026, 3, 9, 9, 0)),  # Saturday → Monday
        # Thursday 24 December after closing: Friday 25th and Saturday 26th are holidays.
        (paris(2026, 12, 24, 19, 0), paris(2026, 12, 28, 9, 0)),
    ],
)
def test_the_next_opening_skips_closed_days_and_holidays(now: datetime, back: datetime) -> None:
    found = next_opening(hours(), now)
    assert found == back
    assert found is not None and found.tzinfo == PARIS


def test_a_holiday_leaves_the_overnight_range_begun_the_evening_before() -> None:
    late = hours(holidays=["2026-03-07"])  # a Saturday, after Friday night's range
    assert is_open(late, paris(2026, 3, 7, 1, 0))
    assert not is_open(late, paris(2026, 3, 7, 11, 0))
    assert next_opening(late, paris(2026, 3, 7, 3, 0)) == paris(2026, 3, 9, 9, 0)


def test_summer_time_keeps_the_wall_clock_hours() -> None:
    # Europe/Paris moves from UTC+1 to UTC+2 on Sunday 29 March 2026 and back on
    # Sunday 25 October 2026; opening at 09:00 stays 09:00 on the clock.
    assert next_opening(hours(), paris(2026, 3, 28, 15, 0)) == paris(2026, 3, 30, 9, 0)
    assert paris(2026, 3, 30, 9, 0).astimezone(UTC).hour == 7
    assert next_opening(hours(), paris(2026, 10, 24, 15, 0)) == paris(2026, 10, 26, 9, 0)
    assert paris(2026, 10, 26, 9, 0).astimezone(UTC).hour == 8
    assert is_open(hours(), datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    assert not is_open(hours(), datetime(2026, 3, 30, 6, 59, tzinfo=UTC))


def test_a_range_across_the_summer_time_jump_opens_at_the_clock_after_it() -> None:
    nights = hours(weekly={"sunday": ["02:30-04:00"]})  # 02:00-03:00 does not exist that day
    assert next_opening(nights, paris(2026, 3, 29, 1, 0)) == paris(2026, 3, 29, 3, 30)
    assert is_open(nights, paris(2026, 3, 29, 3, 45))


def test_a_whole_day_range_lasts_the_whole_day_also_when_it_has_23_hours() -> None:
    always = hours(weekly={day: ["00:00-24:00"] for day in ("saturday", "sunday", "monday")})
    for hour in (0, 1, 3, 12, 23):
        assert is_open(always, paris(2026, 3, 29, hour, 30))
    assert is_open(always, paris(2026, 3, 30, 0, 0))


def test_no_file_means_always_open_and_the_example_is_valid(tmp_path: Path) -> None:
    assert configured_hours(None, tmp_path / "absent.yaml") is ALWAYS_OPEN
    assert is_open(ALWAYS_OPEN, datetime(2026, 1, 1, 3, 0, tzinfo=UTC))
    example = load_hours(EXAMPLE)
    assert str(example.timezone) == "Europe/Paris"
    assert configured_hours(None, EXAMPLE) == example
    assert configured_hours(EXAMPLE) == example


def test_a_never_opening_week_has_no_next_opening() -> None:
    closed = ALWAYS_OPEN.__class__(PARIS, tuple(() for _ in range(7)), {})
    assert next_opening(closed, paris(2026, 3, 2, 9, 0)) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": None}, "hours.yaml: timezone is required"),
        ({"timezone": "Mars/Olympus"}, "hours.yaml: timezone: 'Mars/Olympus' is not an IANA"),
        ({"weekly": ["09:00-18:00"]}, "hours.yaml: weekly must map weekday names"),
        (
            {"weekly": {"munday": ["09:00-18:00"]}},
            "hours.yaml: weekly: unknown weekdays ['munday']",
        ),
        ({"weekly": {"monday": "09:00-18:00"}}, "hours.yaml: weekly.monday must be a list"),
        ({"weekly": {"monday": ["9-18"]}}, "hours.yaml: weekly.monday[0]: '9-18' is not a range"),
        ({"weekly": {"monday": ["09:00-25:00"]}}, "hours.yaml: weekly.monday[0]: 25:00 is not"),
        ({"weekly": {"monday": ["24:00-02:00"]}}, "hours.yaml: weekly.monday[0]: 24:00 is not"),
        ({"weekly": {"monday": ["09:61-10:00"]}}, "weekly.monday[0]: 09:61 is not a time"),
        ({"weekly": {"monday": ["09:00-09:00"]}}, "opens and closes at the same time"),
        ({"weekly": {"monday": []}}, "hours.yaml: weekly has no opening hours at all"),
        ({"holidays": "2026-12-25"}, "hours.yaml: holidays must be a list"),
        ({"holidays": ["25/12/2026"]}, "hours.yaml: holidays[0]: '25/12/2026' is not a date"),
        ({"holidays": [{"name": "Christmas"}]}, "hours.yaml: holidays[0]: the date must be"),
        ({"holidays": [{"date": "2026-12-25", "name": 3}]}, "holidays[0].name must be text"),
        (
            {"holidays": ["2026-12-25", date(2026, 12, 25)]},
            "holidays[1]: 2026-12-25 is listed twice",
        ),
        ({"opening": "soon"}, "hours.yaml: unknown fields ['opening']"),
    ],
)
def test_mistakes_are_refused_naming_the_file_and_the_field(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(HoursError, match=message.replace("[", r"\[").replace("]", r"\]")):
        hours(**change)


def test_an_unreadable_or_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "hours.yaml"
    broken.write_text("timezone: [", encoding="utf-8")
    with pytest.raises(HoursError, match=f"{broken}: not valid YAML"):
        load_hours(broken)
    with pytest.raises(HoursError, match="cannot be read"):
        configured_hours(tmp_path / "missing.yaml")
    listed = tmp_path / "list.yaml"
    listed.write_text(yaml.safe_dump(["monday"]), encoding="utf-8")
    with pytest.raises(HoursError, match=f"{listed}: expected a mapping"):
        load_hours(listed)
