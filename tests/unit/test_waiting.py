"""What a customer waiting for a person is told, and when: the burst and replay guards,
the expected wait from recent waits, its rounding, and the wording in five languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.agent_desk.hours import ALWAYS_OPEN, hours_from
from services.agent_desk.waiting import (
    Answer,
    Notice,
    WaitingRules,
    answer_to,
    expected_wait,
    notice,
    reopening,
    rounded,
)
from shared.voice.replies import VOICE, Duration, Reopening

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris
PARIS = ZoneInfo("Europe/Paris")
OFFICE = hours_from(
    {
        "timezone": "Europe/Paris",
        "weekly": {"monday": ["09:00-18:00"], "wednesday": ["14:00-18:00"]},
    },
    "test",
)


def rules(hours: object = ALWAYS_OPEN, samples: int = 3) -> WaitingRules:
    return WaitingRules(
        hours=hours,  # type: ignore[arg-type]
        gap=timedelta(seconds=20),
        stale_after=timedelta(minutes=2),
        limit=timedelta(minutes=15),
        estimate_window=timedelta(hours=2),
        estimate_samples=samples,
    )


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


@pytest.mark.parametrize(
    ("waiting", "sent", "last", "answer"),
    [
        (True, 1, None, Answer.NOW),  # nobody told yet
        (True, 1, 25, Answer.NOW),  # the gap has passed
        (True, 1, 20, Answer.NOW),
        (True, 1, 3, Answer.LATER),  # "thank you" right after the notice: answered later
        (True, 120, None, Answer.NOTHING),  # a replay of an old message
        (False, 1, None, Answer.NOTHING),  # claimed: a person is there
    ],
)
def test_every_fresh_message_is_answered_now_or_after_the_burst_guard(
    waiting: bool, sent: float, last: float | None, answer: Answer
) -> None:
    got = answer_to(
        waiting=waiting,
        sent_at=NOW - seconds(sent),
        last_notice=None if last is None else NOW - seconds(last),
        now=NOW,
        rules=rules(),
    )
    assert got is answer


def test_the_expected_wait_is_the_median_once_there_are_enough_samples() -> None:
    waits = [timedelta(minutes=m) for m in (2, 30, 5)]
    assert expected_wait(waits[:2], 3) is None
    assert expected_wait(waits, 3) == timedelta(minutes=5)
    assert expected_wait([timedelta(minutes=2), timedelta(minutes=4)], 2) == timedelta(minutes=3)
    assert expected_wait([], 1) is None


@pytest.mark.parametrize(
    ("minutes", "said"),
    [(0.2, 1), (1.4, 1), (1.6, 2), (7.4, 7), (10, 10), (12, 10), (13, 15), (58, 60), (70, 75)]
    + [(118, 120), (150, 180), (200, 180)],
)
def test_waits_are_rounded_the_way_a_person_says_them(minutes: float, said: int) -> None:
    assert rounded(timedelta(minutes=minutes)) == Duration(said)


def test_outside_hours_the_notice_says_when_the_team_is_back_instead_of_a_wait() -> None:
    waits = [timedelta(minutes=5)] * 3
    closed = notice(2, waits, rules(OFFICE), NOW)
    assert closed == Notice(
        2, None, Reopening(datetime(2026, 3, 4, 14, 0, tzinfo=PARIS), 0, "Europe/Paris")
    )
    assert "back at 2026-03-04T14:00:00+01:00" in closed.explanation()
    assert notice(2, waits, rules(), NOW) == Notice(2, Duration(5), None)
    assert notice(1, waits[:2], rules(), NOW) == Notice(1, None, None)
    assert "too few recent waits" in notice(1, [], rules(), NOW).explanation()
    assert reopening(ALWAYS_OPEN, NOW) is None


def test_the_day_the_team_is_back_counts_from_the_business_today() -> None:
    evening = datetime(2026, 3, 4, 22, 30, tzinfo=UTC)  # 23:30 Wednesday in Paris
    back = reopening(OFFICE, evening)
    assert back == Reopening(datetime(2026, 3, 9, 9, 0, tzinfo=PARIS), 5, "Europe/Paris")


MONDAY_9 = datetime(2026, 3, 9, 9, 0, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("language", "position", "wait", "expected"),
    [
        (
            "en",
            2,
            Duration(5),
            "You are number 2 in line; a member of our team will reply here as soon as they "
            "can. Lately, people have waited about 5 minutes",
        ),
        (
            "es",
            3,
            Duration(1),
            "Eres el número 3 en la fila; una persona de nuestro equipo te responderá aquí "
            "lo antes posible. Últimamente, la espera para hablar con una persona del equipo "
            "ha sido de alrededor de un minuto.",
        ),
        ("fr", 1, Duration(120), "d'environ 2 heures."),
        ("de", 4, Duration(75), "etwa 75 Minuten."),
        ("pt-BR", 2, None, "Ainda não consigo dizer quanto tempo a espera vai durar."),
        ("en", 1, None, "I can't say yet how long the wait will be."),
    ],
)
def test_the_notice_gives_the_place_and_the_wait_in_the_customers_language(
    language: str, position: int, wait: Duration | None, expected: str
) -> None:
    reply = VOICE.queue_position(language, position, wait=wait)
    assert expected in reply.text
    assert str(position) in reply.text
    assert VOICE.banned_words_in(reply.text) == []


@pytest.mark.parametrize(
    ("days", "at", "en", "de"),
    [
        (
            0,
            datetime(2026, 3, 4, 14, 0, tzinfo=PARIS),
            "back today at 14:00 (Europe/Paris)",
            "wieder heute um 14:00 Uhr",
        ),
        (
            1,
            datetime(2026, 3, 5, 9, 0, tzinfo=PARIS),
            "back tomorrow at 09:00",
            "wieder morgen um 09:00 Uhr",
        ),
        (
            5,
            MONDAY_9,
            "back on Monday at 09:00 (Europe/Paris)",
            "wieder am Montag um 09:00 Uhr (Europe/Paris)",
        ),
        (
            12,
            datetime(2026, 3, 16, 9, 0, tzinfo=PARIS),
            "back on 16 March at 09:00",
            "wieder am 16. März um 09:00 Uhr",
        ),
    ],
)
def test_when_the_team_is_back_is_said_as_today_tomorrow_a_weekday_or_a_date(
    days: int, at: datetime, en: str, de: str
) -> None:
    back = Reopening(at, days, "Europe/Paris")
    assert en in VOICE.queue_position("en", 1, wait=Duration(5), back=back).text
    assert "waited" not in VOICE.queue_position("en", 1, wait=Duration(5), back=back).text
    assert de in VOICE.queue_position("de", 1, back=back).text


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt"])
def test_every_language_has_the_waiting_sentences(language: str) -> None:
    back = Reopening(MONDAY_9, 5, "Europe/Paris")
    texts = [
        VOICE.queue_position(language, 3, wait=Duration(15)).text,
        VOICE.queue_position(language, 3).text,
        VOICE.queue_position(language, 3, back=back).text,
        VOICE.overdue_notice(language, 3, Duration(15), back).text,
        VOICE.overdue_notice(language, 3, Duration(1)).text,
    ]
    for text in texts:
        assert "3" in text and "{" not in text
        assert VOICE.banned_words_in(text) == []
    assert "15" in texts[0] and "15" in texts[3] and "09:00" in texts[2] and "09:00" in texts[3]
    assert len(set(texts)) == len(texts)


def test_the_overdue_notice_apologises_then_gives_the_honest_state() -> None:
    text = VOICE.overdue_notice("en", 2, Duration(15), Reopening(MONDAY_9, 5, "Europe/Paris")).text
    assert text.startswith("I'm sorry you have been waiting over 15 minutes.")
    assert "You are number 2 in line" in text
    assert text.endswith("back on Monday at 09:00 (Europe/Paris).")
    assert VOICE.duration("en", Duration(1)) == "a minute"
    assert VOICE.duration("fr", Duration(180)) == "3 heures"
    assert VOICE.duration("es", Duration(90)) == "90 minutos"
