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
async def chat_page(stack: Stack, init_script: str = "") -> AsyncIterator[Page]:
    """The chat page in a fresh Chromium, connected; ``init_script`` runs before the
    page's own."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            if init_script:
                await page.add_init_script(init_script)
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


# What the page shows, in the order it shows it: the typing indicator appearing and
# going ("typing: <its text>", "typing gone") and each message added ("<kind>: <text>").
WATCH_THE_PAGE = """
window.__shown = [];
document.addEventListener("DOMContentLoaded", () => {
  const typing = document.getElementById("typing");
  let said = typing.textContent;
  new MutationObserver((records) => {
    for (const record of records) {
      if (typing.contains(record.target) && said !== typing.textContent) {
        said = typing.textContent;
        window.__shown.push(said ? "typing: " + said : "typing gone");
      }
      for (const node of record.addedNodes) {
        if (node.classList && node.classList.contains("message")) {
          window.__shown.push(node.className.split("--")[1] + ": " + node.textContent);
        }
      }
    }
  }).observe(document.querySelector("main"), { subtree: true, childList: true });
});
"""


async def test_the_typing_indicator_shows_only_when_the_bot_prepares_a_reply(stack: Stack) -> None:
    """Rapport says when the bot is preparing a reply: the indicator shows before the
    bot's answer, not after a message nobody answers at once. Handed over to a person,
    the bot stays quiet and the desk answers (the place in line): no indicator then."""
    async with chat_page(stack, WATCH_THE_PAGE) as page:
        bot = page.locator(".message--bot")
        await page.fill("#text", "I want to talk to a real person please")
        await page.keyboard.press("Enter")
        await expect(bot.first).to_contain_text("member of our team", timeout=10_000)
        await expect(bot.nth(1)).to_contain_text("You are number", timeout=20_000)
        await expect(page.locator("#typing")).to_be_empty()

        await page.fill("#text", "Hello? Is anyone there?")
        await page.keyboard.press("Enter")
        # Waiting for a person: the desk answers with the place in line (after its guard
        # against floods), the bot says nothing.
        await expect(bot.nth(2)).to_contain_text("You are number", timeout=40_000)

        shown = await page.evaluate("window.__shown")
        asked = shown.index("customer: I want to talk to a real person please")
        holding = next(i for i, seen in enumerate(shown) if "member of our team" in seen)
        assert shown[asked + 1 : holding] == [
            "typing: Rapport assistant is typing…",
            "typing gone",
        ], shown
        again = shown.index("customer: Hello? Is anyone there?")
        assert not [seen for seen in shown[again:] if seen.startswith("typing")], shown
        await expect(page.locator("#typing")).to_be_empty()
        # Said to screen readers too: a status message, in the page even while empty.
        await expect(page.locator("#typing")).to_have_attribute("role", "status")


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
