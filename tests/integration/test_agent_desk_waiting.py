"""Waiting for a person is never silence: the desk tells a customer their place in line
and the expected wait as soon as their handoff joins the queue, answers every message
they write while they wait (a burst after the guard, by the sweep), says when the team is
back outside business hours, and apologises once for a long wait, marking the ticket
overdue for supervisors. On a real context service and database, with the desk's clock
in the test's hands.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import messages_pb2

from services.agent_desk.hours import WEEKDAYS
from services.agent_desk.live import TicketChanged
from shared.kafka.codec import derived_event_id
from tests.integration.test_agent_desk_http import (
    Desk,
    customer_message,
    new_action,
    page_token,
    running_desk,
    sample,
    seeded_handoff,
    sign_in,
)

pytestmark = pytest.mark.integration

OUTBOUND = "rapport.outbound.web.v1"
PLACE = (
    "Thank you for waiting. You are number {} in line; "
    "a member of our team will reply here as soon as they can."
)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@asynccontextmanager
async def desk_at(tmp_path: Path, clock: FakeClock, **settings: Any) -> AsyncIterator[Desk]:
    async with running_desk(tmp_path, clock, notice_gap_seconds=20, **settings) as desk:
        yield desk


async def notices(desk: Desk) -> list[messages_pb2.SendMessage]:
    await desk.relay.publish_pending()
    return [e for t, e in desk.publisher.events if t == OUTBOUND]  # type: ignore[misc]


async def stored(desk: Desk, message: messages_pb2.SendMessage) -> context_pb.Turn:
    turns = (
        await desk.context.ListTurns(
            context_pb.ListTurnsRequest(conversation_id=message.envelope.conversation_id),
            timeout=5,
        )
    ).turns
    [turn] = [t for t in turns if t.event_id == message.envelope.event_id]
    return turn


async def claimed_after(desk: Desk, clock: FakeClock, minutes: float) -> None:
    """A ticket of the team picked up ``minutes`` after its handoff (a recent wait)."""
    packet = await seeded_handoff(desk, ago=timedelta(minutes=minutes))
    maria = await desk.parts.store.agent(desk.accounts["maria@example.org"])
    assert maria is not None
    await desk.parts.desk.claim(maria, packet.envelope.event_id, new_action())


async def test_a_new_handoff_is_told_its_place_and_the_expected_wait_at_once(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with desk_at(tmp_path, clock) as desk:
        for minutes in (4, 5, 9):  # the team's recent waits: the median is 5 minutes
            await claimed_after(desk, clock, minutes)
        await seeded_handoff(desk, ago=timedelta(minutes=10))  # ahead, told long ago
        assert await notices(desk) == []  # old handoffs are not told now
        before = sample("rapport_desk_holding_messages_total", channel="web")

        packet = await seeded_handoff(desk)
        await desk.parts.desk(packet)  # redelivered: told once

        [notice] = await notices(desk)
        assert notice.text == (
            PLACE.format(2)
            + " Lately, people have waited about 5 minutes for a member of our team."
        )
        handoff_id = packet.envelope.event_id
        assert notice.envelope.event_id == derived_event_id(handoff_id, "queued-notice")
        assert notice.envelope.causation_id == handoff_id
        assert notice.sender == messages_pb2.SENDER_BOT and notice.in_reply_to == ""
        turn = await stored(desk, notice)
        assert (turn.role, turn.text) == (context_pb.ROLE_BOT, notice.text)
        assert turn.decision.action == "holding"
        [reason] = turn.decision.reasons
        assert reason.code == "waiting_for_agent"
        assert "number 2 in line" in reason.explanation and "about 5 minutes" in reason.explanation
        ticket = await desk.parts.store.ticket(handoff_id)
        [followed] = await desk.parts.desk.messages_of(ticket)
        assert (followed.send_event_id, followed.sender) == (notice.envelope.event_id, "bot")
        assert sample("rapport_desk_holding_messages_total", channel="web") == before + 1


async def test_every_message_while_waiting_is_answered_a_burst_once_the_gap_has_passed(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with desk_at(tmp_path, clock) as desk:
        packet = await seeded_handoff(desk)
        assert len(await notices(desk)) == 1  # at once, with too few waits for a number
        assert "I can't say yet how long the wait will be." in (await notices(desk))[0].text

        clock.advance(3)
        thanks = customer_message(packet, "thank you")
        thanks.envelope.occurred_at.FromDatetime(clock.now)
        await desk.parts.desk(thanks)
        clock.advance(2)
        hello = customer_message(packet, "hello?")
        hello.envelope.occurred_at.FromDatetime(clock.now)
        await desk.parts.desk(hello)
        await desk.parts.desk.notices.sweep()
        assert len(await notices(desk)) == 1  # within the burst guard: held back...

        clock.advance(16)  # ...until 20 s after the first notice
        await desk.parts.desk.notices.sweep()
        await desk.parts.desk.notices.sweep()
        first, answer = await notices(desk)
        assert answer.text == PLACE.format(1) + " I can't say yet how long the wait will be."
        assert answer.in_reply_to == hello.envelope.event_id  # one answer for the burst
        assert answer.envelope.event_id == derived_event_id(
            hello.envelope.event_id, "queue-position"
        )
        reason = (await stored(desk, answer)).decision.reasons[0]
        assert reason.explanation.startswith("The customer wrote while waiting for a person")

        clock.advance(25)
        later = customer_message(packet, "still there?")
        later.envelope.occurred_at.FromDatetime(clock.now)
        await desk.parts.desk(later)
        await desk.parts.desk(later)  # redelivered
        replayed = customer_message(packet, "old", ago=timedelta(hours=1))
        replayed.envelope.occurred_at.FromDatetime(clock.now - timedelta(hours=1))
        await desk.parts.desk(replayed)
        clock.advance(30)
        await desk.parts.desk.notices.sweep()
        *_, last = await notices(desk)
        assert len(await notices(desk)) == 3 and last.in_reply_to == later.envelope.event_id
        assert (await desk.parts.store.ticket(packet.envelope.event_id)).unanswered_event_id is None


def closed_until_three_days_on(now: datetime, zone: str) -> tuple[dict[str, Any], datetime]:
    """Hours open only three days from ``now`` (in ``zone``), 09:00-10:00: closed now."""
    local = now.astimezone(ZoneInfo(zone))
    back = (local + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    weekly = {WEEKDAYS[back.weekday()]: ["09:00-10:00"]}
    return {"timezone": zone, "weekly": weekly}, back


async def test_outside_business_hours_the_customer_is_told_when_the_team_is_back(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    document, back = closed_until_three_days_on(clock.now, "Europe/Paris")
    hours_file = tmp_path / "business_hours.yaml"
    hours_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    async with desk_at(tmp_path, clock, hours_file=hours_file) as desk:
        packet = await seeded_handoff(desk)
        [notice] = await notices(desk)
        day = back.strftime("%A")
        assert notice.text == (
            PLACE.format(1)
            + f" Our team is away right now and back on {day} at 09:00 (Europe/Paris)."
        )
        clock.advance(16 * 60)  # over the limit, still outside hours
        await desk.parts.desk.notices.sweep()
        _, apology = await notices(desk)
        assert apology.text.startswith("I'm sorry you have been waiting over 15 minutes.")
        assert apology.text.endswith(f"back on {day} at 09:00 (Europe/Paris).")
        assert packet.envelope.event_id == apology.envelope.causation_id


async def test_a_wait_over_the_limit_is_apologised_for_once_and_shown_overdue(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with desk_at(tmp_path, clock, wait_limit_seconds=600) as desk:
        await seeded_handoff(desk, ago=timedelta(minutes=12))
        packet = await seeded_handoff(desk, ago=timedelta(minutes=9))
        before = sample("rapport_desk_overdue_tickets_total", channel="web")
        stop = asyncio.Event()
        async with desk.parts.live.subscribe() as changes:
            sweeping = asyncio.create_task(desk.parts.desk.run_sweeps(0.05, stop))
            first = await asyncio.wait_for(changes.get(), timeout=5)
            # The second ticket's wait passes 10 minutes now (handed off 9 minutes before
            # the real time of seeding, which the fake clock trails by the seeding itself).
            clock.advance(90)
            second = await asyncio.wait_for(changes.get(), timeout=5)
            await asyncio.sleep(0.2)  # a few more sweeps: nothing more to say
            stop.set()
            await asyncio.wait_for(sweeping, timeout=5)  # stops cleanly
        assert isinstance(first, TicketChanged) and isinstance(second, TicketChanged)
        assert second.ticket_id == packet.envelope.event_id
        apologies = await notices(desk)
        assert [n.envelope.causation_id for n in apologies] == [first.ticket_id, second.ticket_id]
        assert apologies[1].text == (
            "I'm sorry you have been waiting over 10 minutes. I've flagged your conversation "
            "to our team so it isn't overlooked. " + PLACE.format(2)
        )
        reason = (await stored(desk, apologies[1])).decision.reasons[0]
        assert reason.code == "wait_over_limit"
        assert sample("rapport_desk_overdue_tickets_total", channel="web") == before + 2
        ticket = await desk.parts.store.ticket(packet.envelope.event_id)
        assert ticket.overdue_at == clock.now

        async with desk.browser() as sue:
            assert await sign_in(sue, "sue@example.org") == 303
            await page_token(sue)
            async with sue.get("/") as queue:
                page = await queue.text()
        assert page.count("data-overdue") == 2 and "overdue since" in page
