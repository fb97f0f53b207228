"""The owner's empathy map in Chromium, on the real stack.

A seeded fortnight of Telegram conversations (no other test writes on Telegram) is
appended to the context service as the orchestrator appends customers' messages, and
one of them is handed to the desk. A supervisor opens the map for Telegram: every cell
shows the figures counted here from the raw turns (``ListTurns``), the hottest cell is
the seeded one (customers angry about their delivery while waiting for a person), and
opening it lists exactly the conversations behind it, with the customers' words, the
handed-off one opening its ticket and the others their customer's page. A customer who
opted out of emotion analysis is in no cell. Neither page has a serious accessibility
violation, and a plain agent may open neither. Screenshots of both pages are kept.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from playwright.async_api import Page, async_playwright, expect
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import HANDOFF
from tests.e2e.accessibility import assert_accessible
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import ARTIFACTS, LAPTOP, create_account, sign_in_page
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

TELEGRAM = envelope_pb2.CHANNEL_TELEGRAM
WAITING = context_pb.JOURNEY_STAGE_WAITING_FOR_AGENT
ANGRY, FURIOUS = ("anger", 0.6, -0.5), ("anger", 0.9, -0.8)
CONFUSED, GLAD = ("confusion", 0.3, -0.1), ("gratitude", 0.5, 0.6)
Reading = tuple[str, float, float]


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


@dataclass
class Seeded:
    conversation_id: str
    customer_id: str


async def conversation(
    context: ContextClient,
    start: datetime,
    said: list[tuple[str, str, Reading | None]],
    *,
    handed_off_after: int | None = None,
    opted_out: bool = False,
) -> Seeded:
    """A Telegram customer's conversation: their messages (words, intent, reading), the
    conversation waiting for a person after message ``handed_off_after``."""
    address = f"tg-{uuid.uuid4().hex[:10]}"
    found = await context.resolve_customer(TELEGRAM, address, "", stamp(start))
    if opted_out:
        await context.update_consent(found.customer_id, "e2e", emotion_analysis_allowed=False)
    seeded = Seeded(str(uuid.uuid4()), found.customer_id)
    for index, (text, intent, reading) in enumerate(said):
        turn = context_pb.Turn(
            event_id=str(uuid.uuid4()),
            conversation_id=seeded.conversation_id,
            role=context_pb.ROLE_CUSTOMER,
            text=text,
            channel=TELEGRAM,
            occurred_at=stamp(start + timedelta(minutes=index)),
            intent=intent,
        )
        if reading is not None:
            emotion, intensity, sentiment = reading
            turn.emotion.CopyFrom(
                context_pb.EmotionSnapshot(
                    dominant_emotion=emotion, intensity=intensity, sentiment_score=sentiment
                )
            )
        await context.append_turn(seeded.customer_id, turn)
        if handed_off_after == index:
            await context.set_conversation_state(
                seeded.conversation_id, context_pb.CONVERSATION_STATE_WAITING_FOR_AGENT
            )
    return seeded


async def seed(context: ContextClient) -> tuple[list[Seeded], list[Seeded]]:
    """The hot conversations (angry about delivery while waiting), and the others."""
    start = datetime.now(UTC) - timedelta(days=3)
    hot = [
        await conversation(
            context,
            start + timedelta(hours=n),
            [
                ("where is my parcel", "delivery", ANGRY),
                (f"still waiting for order {n}", "delivery", FURIOUS),
                ("this is unacceptable", "delivery", FURIOUS),
            ],
            handed_off_after=0,
        )
        for n in range(4)
    ]
    others = [
        await conversation(
            context,
            start + timedelta(days=1),
            [("how do I get a refund", "refund", CONFUSED), ("ok thanks", "refund", GLAD)],
        ),
        await conversation(
            context,
            start + timedelta(days=1, hours=2),
            [("refund please", "refund", CONFUSED), ("not what I asked", "refund", CONFUSED)],
        ),
        await conversation(  # opted out: counted nowhere, whatever is sent
            context,
            start + timedelta(days=2),
            [("where is it", "delivery", None), ("hurry", "delivery", FURIOUS)],
            handed_off_after=0,
            opted_out=True,
        ),
    ]
    return hot, others


@dataclass(frozen=True)
class Shown:
    """A cell as the page shows it, or as the raw turns say it should."""

    emotion: str
    turns: int
    share: float
    intensity: float


def expected_cells(turns: list[context_pb.Turn]) -> dict[tuple[str, int], Shown]:
    """The map's cells counted from raw turns, independently of the context's totals."""
    readings: dict[tuple[str, int], list[context_pb.Turn]] = defaultdict(list)
    for turn in turns:
        if turn.role == context_pb.ROLE_CUSTOMER and turn.HasField("emotion"):
            readings[(turn.intent, turn.journey_stage)].append(turn)
    cells = {}
    for key, cell in readings.items():
        by_emotion: dict[str, list[float]] = defaultdict(list)
        for turn in cell:
            by_emotion[turn.emotion.dominant_emotion].append(turn.emotion.intensity)
        emotion = max(by_emotion, key=lambda e: (len(by_emotion[e]), sum(by_emotion[e])))
        values = by_emotion[emotion]
        cells[key] = Shown(emotion, len(cell), len(values) / len(cell), sum(values) / len(values))
    return cells


async def shown_cells(page: Page) -> dict[tuple[str, int], Shown]:
    cells = {}
    for cell in await page.locator("#empathy-map td[data-intent]").all():
        data = {
            name: await cell.get_attribute(f"data-{name}")
            for name in ("intent", "stage", "emotion", "turns", "share", "intensity")
        }
        cells[(str(data["intent"]), int(str(data["stage"])))] = Shown(
            str(data["emotion"]),
            int(str(data["turns"])),
            float(str(data["share"])),
            float(str(data["intensity"])),
        )
    return cells


async def hand_off(stack: Stack, seeded: Seeded) -> str:
    """Hand ``seeded`` to the desk as the orchestrator would; the ticket's id."""
    packet = handoff_pb2.HandoffRequested(
        envelope=new_envelope(
            conversation_id=seeded.conversation_id,
            channel=TELEGRAM,
            customer=envelope_pb2.CustomerRef(
                customer_id=seeded.customer_id, channel=TELEGRAM, address="tg-handed-off"
            ),
        ),
        reasons=[
            handoff_pb2.DecisionReason(
                code="angry", explanation="The customer is angry.", confidence=1.0
            )
        ],
        priority=0.8,
        language="en",
    )
    async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
        await publisher.publish(HANDOFF, packet)
    return packet.envelope.event_id


async def test_the_empathy_map_shows_the_hot_cell_and_opens_its_conversations(
    stack: Stack,
) -> None:
    async with grpc.aio.insecure_channel(stack.context_address) as channel:
        context = ContextClient(channel, deadline_seconds=10)
        hot, others = await seed(context)
        ticket = await hand_off(stack, hot[0])
        raw = [t for s in hot + others for t in await context.list_turns(s.conversation_id)]
    expected = expected_cells(raw)
    assert ("delivery", WAITING) in expected  # the seed made the cell this test is about
    supervisor = create_account(stack, "Owner", "supervisor")
    agent = create_account(stack, "Agent", "agent")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The desk's Content-Security-Policy refuses inline scripts, axe-core's too.
            page = await (await browser.new_context(viewport=LAPTOP, bypass_csp=True)).new_page()
            await sign_in_page(page, stack.desk_url, supervisor)
            await page.goto(f"{stack.desk_url}/dashboard")
            await page.click("#empathy-link")
            await page.select_option("select[name=channel]", "telegram")
            await page.click("#empathy button[type=submit]")
            await expect(page.locator("#empathy-map")).to_be_visible()

            shown = await shown_cells(page)
            assert shown.keys() == expected.keys()
            for key, cell in expected.items():
                assert shown[key].emotion == cell.emotion and shown[key].turns == cell.turns
                assert shown[key].share == pytest.approx(cell.share, abs=1e-4)
                assert shown[key].intensity == pytest.approx(cell.intensity, abs=1e-4)

            hottest = page.locator("td.empathy__cell--hottest")
            await expect(hottest).to_have_count(1)
            assert await hottest.get_attribute("data-intent") == "delivery"
            assert await hottest.get_attribute("data-stage") == str(WAITING)
            await expect(hottest).to_contain_text("anger 100%")
            await expect(hottest).to_contain_text("intensity 0.90 · 8 msg")
            await expect(page.locator("#hottest")).to_contain_text("delivery, waiting for a person")
            await page.screenshot(path=ARTIFACTS / "empathy-map.png", full_page=True)
            await assert_accessible(page, "the empathy map")

            await hottest.locator("a.empathy__emotion").click()
            await expect(page.locator("#empathy-cell h1")).to_have_text(
                "Anger about delivery: waiting for a person"
            )
            rows = page.locator("#cell-conversations tr[data-conversation]")
            listed = {await r.get_attribute("data-conversation") for r in await rows.all()}
            assert listed == {s.conversation_id for s in hot}
            first = rows.filter(has_text="still waiting for order 0")
            await expect(first).to_contain_text("this is unacceptable")
            await expect(first).not_to_contain_text("where is my parcel")  # before the wait
            for seeded in hot[1:]:
                row = page.locator(f'tr[data-conversation="{seeded.conversation_id}"]')
                await expect(
                    row.locator(f'a[href="/customers/{seeded.customer_id}"]')
                ).to_have_count(1)
            handed_off = page.locator(f'tr[data-conversation="{hot[0].conversation_id}"]')
            link = handed_off.locator(f'a[href="/conversations/{ticket}"]')
            for _ in range(100):  # the desk takes the handoff from Kafka
                if await link.count():
                    break
                await page.wait_for_timeout(200)
                await page.reload()
            await expect(link).to_have_count(1)
            await page.screenshot(path=ARTIFACTS / "empathy-cell.png", full_page=True)
            await assert_accessible(page, "a cell's conversations")
            await link.click()
            await expect(page).to_have_url(f"{stack.desk_url}/conversations/{ticket}")
            cell_url = (
                f"{stack.desk_url}/empathy/cell?days=14&channel=telegram"
                f"&intent=delivery&stage={WAITING}&emotion=anger"
            )
            await page.close()

            clerk = await browser.new_page()
            await sign_in_page(clerk, stack.desk_url, agent)
            await expect(clerk.locator("#empathy-link")).to_have_count(0)
            for url in (f"{stack.desk_url}/empathy", cell_url):
                response = await clerk.goto(url)
                assert response is not None and response.status == 403
        finally:
            await browser.close()
