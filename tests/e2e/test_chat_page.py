"""A person's view: the chat page in a real Chromium, typing a message and reading the reply."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Page, async_playwright, expect

from tests.e2e.stack import Stack

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@asynccontextmanager
async def chat_page(stack: Stack) -> AsyncIterator[Page]:
    """The chat page in a fresh Chromium, connected."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(stack.web_url)
            await expect(page.locator("#status")).to_have_text("online")
            yield page
        finally:
            await browser.close()


async def test_a_person_types_a_message_and_sees_the_reply(stack: Stack) -> None:
    async with chat_page(stack) as page:
        await page.fill("#text", "Hi, my order hasn't arrived <b>bold?</b>")
        await page.keyboard.press("Enter")

        customer = page.locator(".message--customer")
        await expect(customer).to_have_text("Hi, my order hasn't arrived <b>bold?</b>")
        bot = page.locator(".message--bot")
        await expect(bot).to_contain_text("automated assistant", timeout=2000)
        await expect(bot).to_contain_text("order number")
        assert await page.locator(".message b").count() == 0  # text, never HTML


async def test_the_conversation_is_a_live_region_screen_readers_announce(stack: Stack) -> None:
    async with chat_page(stack) as page:
        conversation = page.get_by_role("log", name="Conversation")
        await expect(conversation).to_have_attribute("aria-live", "polite")
        await page.fill("#text", "Hello")
        await page.keyboard.press("Enter")
        await expect(conversation.locator(".message--bot")).to_have_count(1, timeout=5000)
        await expect(conversation).not_to_have_attribute("aria-busy", "true")


async def test_a_customer_is_answered_from_the_knowledge_and_the_shop_then_gets_a_person(
    stack: Stack,
) -> None:
    """The journey of the chat page: the demo knowledge (knowledge/delivery-times.yaml)
    answers a delivery question; an order's status comes from the shop (the fake Shopify
    of tests/e2e/shop.py) once the customer proves it is theirs with its email and postal
    code; asking for a person then hands the conversation over."""
    async with chat_page(stack) as page:
        bot = page.locator(".message--bot")

        async def say(text: str, replies: int) -> None:
            await page.fill("#text", text)
            await page.keyboard.press("Enter")
            await expect(bot).to_have_count(replies, timeout=5000)

        await say("Hello, how long does delivery to Lyon usually take?", 1)
        await expect(bot.first).to_contain_text("2 to 3 working days in France")
        await expect(bot.first).to_contain_text("Did that answer your question?")

        await say("Thanks! And where is my order 1002?", 2)
        await expect(bot.nth(1)).to_contain_text("email address and the postal code")
        await expect(bot.nth(1)).not_to_contain_text("being prepared")

        await say("jane@example.com, 10001", 3)
        await expect(bot.nth(2)).to_contain_text("Order 1002 is being prepared")

        # The bot hands over, and the desk tells the customer their place in line at once.
        await say("Can I talk to a person please?", 5)
        await expect(bot.nth(3)).to_contain_text("member of our team")
        await expect(bot.nth(4)).to_contain_text("You are number")
