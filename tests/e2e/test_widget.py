"""The embeddable widget on a plain page, in a real Chromium: reply, history, reconnect."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.stack import Stack
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


async def test_the_widget_keeps_history_and_delivers_what_was_typed_offline(
    stack: Stack, host_page: str
) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 800})  # a phone
            await page.goto(host_page)
            await page.click("#rapport-launcher")
            chat = page.frame_locator("#rapport-frame")
            await expect(chat.locator("#status")).to_have_text("online")
            await chat.locator("#text").fill("Hi, my order hasn't arrived")
            await chat.locator("#text").press("Enter")
            await expect(chat.locator(".message--bot")).to_contain_text(
                "automated assistant", timeout=5000
            )

            await page.reload()
            await page.click("#rapport-launcher")
            chat = page.frame_locator("#rapport-frame")
            await expect(chat.locator(".message--customer")).to_have_text(
                ["Hi, my order hasn't arrived"]
            )
            await expect(chat.locator(".message--bot")).to_have_count(1)
            await expect(chat.locator("#status")).to_have_text("online")

            stack.kill("web_adapter")
            await expect(chat.locator("#status")).to_have_text("reconnecting…")
            await chat.locator("#text").fill("Are you still there?")
            await chat.locator("#text").press("Enter")
            stack.start("web_adapter")
            stack.wait_ready("web_adapter")
            await expect(chat.locator("#status")).to_have_text("online", timeout=15000)
            await expect(chat.locator(".message--bot")).to_have_count(2, timeout=30000)
        finally:
            await browser.close()
