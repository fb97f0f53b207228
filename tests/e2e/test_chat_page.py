"""A person's view: the chat page in a real Chromium, typing a message and reading the reply."""

from __future__ import annotations

import shutil

import pytest
from playwright.async_api import async_playwright, expect

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


async def test_a_person_types_a_message_and_sees_the_reply(stack: Stack) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(stack.web_url)
            await expect(page.locator("#status")).to_have_text("online")
            await page.fill("#text", "Hi, my order hasn't arrived <b>bold?</b>")
            await page.keyboard.press("Enter")

            customer = page.locator(".message--customer")
            await expect(customer).to_have_text("Hi, my order hasn't arrived <b>bold?</b>")
            bot = page.locator(".message--bot")
            await expect(bot).to_contain_text("automated assistant", timeout=2000)
            await expect(bot).to_contain_text("order number")
            assert await page.locator(".message b").count() == 0  # text, never HTML
        finally:
            await browser.close()
