"""People teaching the models, through the real stack in Chromium: a web chat customer is
read by the emotion service and handed over by the orchestrator; an agent corrects the
emotion and intent read in their message from the conversation page; the desk's command
line exports the correction as training data (with the models' versions the orchestrator
recorded, and nobody's id); once a supervisor erases the customer, the export has it no
more. A screenshot of the correction goes to ARTIFACTS."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import (
    ARTIFACTS,
    LAPTOP,
    create_account,
    sign_in_page,
    ticket_of,
)
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


def exported(stack: Stack, marker: str) -> list[dict[str, Any]]:
    """The training export's records of the message carrying ``marker``."""
    done = stack.desk_command("export-corrections", stdin="")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return [r for r in records if marker in r["text"]]


async def test_a_correction_made_in_the_desk_is_exported_until_the_customer_is_erased(
    stack: Stack,
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    agent = create_account(stack, "Maria", "agent")
    supervisor = create_account(stack, "Olivia", "supervisor")
    marker = uuid.uuid4().hex[:8]
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say(f"I want to talk to a real person please, order {marker}")
        ticket_id = await ticket_of(stack, "web", chat.visitor)
    finally:
        await chat.close()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            desk = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(desk, stack.desk_url, agent)
            await desk.goto(f"{stack.desk_url}/conversations/{ticket_id}")
            message = desk.locator(".turn--customer", has_text=f"order {marker}")
            correction = message.locator("details.correction")
            await correction.locator("summary").click()
            # The orchestrator's reading, found through the decision of the bot's reply.
            reading = correction.locator("p.muted")
            await expect(reading).to_contain_text("Read as:")
            await expect(reading).not_to_contain_text("no intent on record")
            read_as = await reading.inner_text()
            await correction.locator("select[name=emotion]").select_option("frustration")
            await correction.locator("select[name=intent]").select_option("track_order")
            await correction.get_by_role("button", name="Save correction").click()
            corrected = desk.locator(".turn--customer", has_text=f"order {marker}")
            await expect(corrected.locator("details.correction summary")).to_contain_text(
                "you said: frustration, track_order"
            )
            await corrected.locator("details.correction summary").click()
            await corrected.screenshot(path=ARTIFACTS / "correction.png")

            [record] = exported(stack, marker)
            assert (record["emotion"], record["intent"], record["language"]) == (
                "frustration",
                "track_order",
                "en",
            )
            assert record["detected_intent"] and record["detected_intent"] in read_as
            assert record["detected_emotion"] and record["model_versions"]
            assert chat.visitor not in json.dumps(record)

            owner = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(owner, stack.desk_url, supervisor)
            await owner.goto(f"{stack.desk_url}/conversations/{ticket_id}")
            await owner.click("#customer-data")
            await owner.click("#erase-start")
            await owner.select_option("#erase-reason", "customer_request")
            await owner.fill("#erase-confirmation", "erase")
            await owner.click("#erase-confirm")
            await expect(owner.locator("#erased")).to_be_visible()
        finally:
            await browser.close()

    assert exported(stack, marker) == []
