"""The owner's charts in Chromium, on the real stack: a month of the desk's history is
written to its database, a customer is handed over live; every chart on the dashboard
draws its data as SVG with a title and the same numbers in its table, each exports CSV,
the conversation page draws the customer's feelings turn by turn, and the weekly summary
renders and prints without the desk's navigation. Screenshots (and the printout as PDF)
go to ARTIFACTS."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Locator, Page, async_playwright, expect
from rapport.common.v1 import envelope_pb2
from sqlalchemy import insert

from services.agent_desk.database import create_engine
from services.agent_desk.models import ConversationSeen, Rating, Ticket, TicketStatus
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import ARTIFACTS, LAPTOP, create_account, sign_in_page
from tests.e2e.test_agent_desk_routing import handed_over
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

CHARTS = (
    "volume",
    "csat",
    "escalation",
    "first-contact",
    "times",
    "sentiment",
    "csat-scores",
    "wait-times",
    "reasons",
)
CHANNELS = (envelope_pb2.CHANNEL_WEB, envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WHATSAPP)
REASONS = ("strong_negative_emotion", "asked_for_human", "no_progress")


async def seed_history(stack: Stack, days: int = 30) -> None:
    """Three conversations a day for ``days`` days, two of them handed over and resolved,
    one of those rated: written to the stack's desk database as the desk would have."""
    now, run = datetime.now(UTC), uuid.uuid4().hex[:8]
    seen: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    for day in range(days):
        for n in range(3):
            started = now - timedelta(days=day, hours=2 + n)
            conversation, channel = f"history-{run}-{day}-{n}", CHANNELS[(day + n) % 3]
            seen.append(
                {"conversation_id": conversation, "channel": channel, "started_at": started}
            )
            if n == 2:
                continue
            handed = started + timedelta(minutes=2)
            claimed = handed + timedelta(seconds=40 + 170 * ((day + n) % 7))
            resolved = claimed + timedelta(minutes=5 + day % 11)
            ticket_id = str(uuid.uuid4())
            tickets.append(
                {
                    "id": ticket_id,
                    "conversation_id": conversation,
                    "customer_id": str(uuid.uuid4()),
                    "customer_name": "",
                    "channel": channel,
                    "team": "support",
                    "priority": 0.5,
                    "language": "en",
                    "required_skills": [],
                    "repeat_contacts": (day + n) % 4 == 0,
                    "packet": b"",
                    "status": TicketStatus.RESOLVED.value,
                    "handed_off_at": handed,
                    "claimed_at": claimed,
                    "resolved_at": resolved,
                    "updated_at": resolved,
                    "team_since": handed,
                    "reason_codes": [REASONS[(day + n) % 3]],
                    "sentiment_first": -0.6 + 0.02 * day,
                    "sentiment_last": 0.3 - 0.01 * day * n,
                    "tags": [],
                }
            )
            if n == 0:
                ratings.append(
                    {
                        "event_id": str(uuid.uuid4()),
                        "ticket_id": ticket_id,
                        "conversation_id": conversation,
                        "agent_id": "",
                        "channel": channel,
                        "score": 1 + (day * 3) % 5,
                        "comment": "",
                        "rated_at": resolved + timedelta(minutes=1),
                    }
                )
    engine = create_engine(stack.env["RAPPORT_AGENT_DESK_DATABASE_URL"])
    try:
        async with engine.begin() as connection:
            for table, values in [(ConversationSeen, seen), (Ticket, tickets), (Rating, ratings)]:
                await connection.execute(insert(table), values)
    finally:
        await engine.dispose()


async def drawn_matches_table(figure: Locator) -> int:
    """The chart's marks (or bars) carry the numbers of its table, column by column;
    returns how many values it draws."""
    await expect(figure.locator("svg[role=img] > title")).not_to_be_empty()
    await expect(figure.locator("svg[role=img] > desc")).not_to_be_empty()
    found: dict[str, list[list[str]]] = await figure.evaluate(
        """figure => {
            const svg = figure.querySelector("svg");
            const series = [...svg.querySelectorAll("g.chart__series")];
            const drawn = series.length
                ? series.map(g => [...g.querySelectorAll(".chart__mark")].map(m => m.dataset.value))
                : [[...svg.querySelectorAll(".chart__bar")].map(b => b.dataset.value)];
            const rows = [...figure.querySelectorAll("table tbody tr")];
            const table = drawn.map((_, column) => rows
                .map(row => row.querySelectorAll("td")[column].dataset.value)
                .filter(value => series.length === 0 || value !== ""));
            return {drawn, table};
        }"""
    )
    assert found["drawn"] == found["table"]
    return sum(len(values) for values in found["drawn"])


async def test_every_chart_draws_its_numbers_exports_them_and_the_week_prints(
    stack: Stack,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await seed_history(stack)
    owner = create_account(stack, "Charlotte", "supervisor")
    ticket = await handed_over(stack, "This is useless and I am really angry. Get me a person!")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            board: Page = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(board, stack.desk_url, owner)
            await board.goto(f"{stack.desk_url}/dashboard?days=30")
            for name in CHARTS:
                figure = board.locator(f"#chart-{name}")
                await expect(figure.locator("svg")).to_be_visible()
                assert await drawn_matches_table(figure) > 0, f"{name} draws nothing"
                link = figure.locator("a.chart__csv")
                exported = await board.request.get(
                    f"{stack.desk_url}{await link.get_attribute('href')}"
                )
                assert exported.ok and exported.headers["content-type"].startswith("text/csv")
                assert len((await exported.text()).splitlines()) > 1
            await board.screenshot(path=ARTIFACTS / "charts-dashboard.png", full_page=True)
            reasons = board.locator("#chart-reasons")
            await reasons.locator("summary").click()
            await expect(reasons.locator("table")).to_be_visible()
            await reasons.screenshot(path=ARTIFACTS / "charts-reasons-table.png")

            await board.goto(f"{stack.desk_url}/dashboard?days=365")
            await expect(board.locator("#chart-volume .chart__mark").first).to_be_attached()
            assert await drawn_matches_table(board.locator("#chart-volume")) > 0
            await board.screenshot(path=ARTIFACTS / "charts-dashboard-year.png", full_page=True)

            await board.goto(f"{stack.desk_url}/conversations/{ticket}")
            trajectory = board.locator("#conversation-side #chart-trajectory")
            await expect(trajectory.locator("svg.chart")).to_be_visible()
            assert await drawn_matches_table(trajectory) >= 2  # sentiment and intensity
            await trajectory.screenshot(path=ARTIFACTS / "charts-trajectory.png")

            await board.goto(f"{stack.desk_url}/dashboard/weekly")
            await expect(board.locator("#weekly-figures tbody tr")).to_have_count(8)
            for figure in await board.locator("#weekly .chart-figure").all():
                await expect(figure.locator("svg")).to_be_visible()
                await drawn_matches_table(figure)
            await board.screenshot(path=ARTIFACTS / "charts-weekly.png", full_page=True)
            await board.emulate_media(media="print")
            await expect(board.locator("header.bar")).to_be_hidden()
            await board.screenshot(path=ARTIFACTS / "charts-weekly-print.png", full_page=True)
            await board.pdf(path=ARTIFACTS / "charts-weekly.pdf")
        finally:
            await browser.close()
