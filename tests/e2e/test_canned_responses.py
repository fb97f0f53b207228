"""Canned responses in Chromium, through the real stack: a supervisor writes one for the
team with placeholders, an agent inserts it with "/" in a conversation a web customer
handed over, and the customer reads it filled in."""

from __future__ import annotations

import random
import string

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.shop import BROKEN_ORDER
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import claim_with_shortcut, create_account, sign_in_page
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

TEXT = "Hi, {agent_name} here. I'm looking at order {order_reference} now."


async def test_a_team_response_is_inserted_filled_in_and_sent(stack: Stack) -> None:
    supervisor = create_account(stack, "Sue", "supervisor")
    agent = create_account(stack, "Maria", "agent")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            sue = await (await browser.new_context()).new_page()
            await sign_in_page(sue, stack.desk_url, supervisor)
            await sue.click("text=Responses")
            await sue.fill("input[name=title]", "Looking at the order")
            await sue.fill("input[name=shortcut]", "onit")
            await sue.select_option("select[name=scope]", label="Team support")
            await sue.fill("textarea[name=text_en]", TEXT)
            await sue.click("#response-form button[type=submit]")
            await expect(sue.locator("#responses")).to_contain_text("/onit")

            chat = await (await browser.new_context()).new_page()
            await chat.goto(stack.web_url)
            await expect(chat.locator("#status")).to_have_text("online")
            # The shop cannot look this order up: a person checks it, and the bot keeps
            # its number for them.
            marker = "".join(random.choices(string.ascii_lowercase, k=10))
            await chat.fill("#text", f"where is my order {BROKEN_ORDER}?? {marker}")
            await chat.keyboard.press("Enter")
            await expect(chat.locator(".message--bot").first).to_be_visible(timeout=20_000)

            maria = await (await browser.new_context()).new_page()
            await sign_in_page(maria, stack.desk_url, agent)
            waiting = maria.locator("#waiting .queue__item").filter(has_text=marker)
            await waiting.first.locator("a").click(timeout=20_000)
            await claim_with_shortcut(maria)

            await maria.locator("#reply-text").press_sequentially("/on")
            picker = maria.locator("#responses-picker")
            await expect(picker.get_by_role("option")).to_have_count(1)
            await expect(picker).to_contain_text("/onit Looking at the order")
            await maria.keyboard.press("Enter")
            filled = f"Hi, Maria here. I'm looking at order {BROKEN_ORDER} now."
            await expect(maria.locator("#reply-text")).to_have_value(filled)
            await expect(picker).to_be_hidden()
            await maria.keyboard.press("Control+Enter")

            await expect(chat.locator(".message--agent")).to_contain_text(filled)
            await expect(maria.locator("#timeline")).to_contain_text(filled)
        finally:
            await browser.close()
