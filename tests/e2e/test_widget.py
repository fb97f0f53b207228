"""The embeddable widget on a plain page, in a real Chromium: reply, history, reconnect."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import FrameLocator, Page, ViewportSize, async_playwright, expect
from rapport.events.v1 import messages_pb2

from shared.kafka.producer import EventPublisher
from shared.kafka.topics import outbound_topic
from tests.e2e.stack import Stack
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.kafka_helpers import read_until

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def _widget_opened(
    host_page: str, viewport: ViewportSize | None = None
) -> AsyncIterator[tuple[Page, FrameLocator]]:
    """A browser on the shop page with the chat opened and online: the page and the chat."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=viewport)
            await page.goto(host_page)
            await page.click("#rapport-launcher")
            chat = page.frame_locator("#rapport-frame")
            await expect(chat.locator("#status")).to_have_text("online")
            yield page, chat
        finally:
            await browser.close()


async def test_the_widget_keeps_history_and_delivers_what_was_typed_offline(
    stack: Stack, host_page: str
) -> None:
    phone: ViewportSize = {"width": 390, "height": 800}
    async with _widget_opened(host_page, phone) as (page, chat):
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


async def _visitor(page: Page) -> str:
    """The visitor id the chat frame keeps in its own storage."""
    frame = next(f for f in page.frames if "embedded=1" in f.url)
    visitor = await frame.evaluate("localStorage.getItem('rapport.visitor')")
    assert isinstance(visitor, str) and visitor
    return visitor


async def test_a_reply_delivered_again_after_an_adapter_restart_is_shown_once(
    stack: Stack, host_page: str
) -> None:
    async with _widget_opened(host_page) as (page, chat):
        await chat.locator("#text").fill("Where is my order?")
        await chat.locator("#text").press("Enter")
        await expect(chat.locator(".message--bot")).to_have_count(1, timeout=5000)
        visitor = await _visitor(page)
        topic = outbound_topic("web")
        [record] = await read_until(
            stack.kafka_bootstrap,
            topic,
            lambda r: (
                messages_pb2.SendMessage.FromString(r.value).envelope.customer.address == visitor
            ),
        )
        reply = messages_pb2.SendMessage.FromString(record.value)
        later = messages_pb2.SendMessage()
        later.CopyFrom(reply)
        later.envelope.event_id = str(uuid.uuid4())
        later.text = "A later message"

        # A restarted adapter remembers nothing it delivered, as after a crash.
        stack.kill("web_adapter")
        stack.start("web_adapter")
        stack.wait_ready("web_adapter")
        await expect(chat.locator("#status")).to_have_text("online", timeout=15000)
        async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
            await publisher.publish(topic, reply)
            await publisher.publish(topic, later)  # same conversation: comes after it

        await expect(chat.locator(".message--bot").last).to_contain_text("A later message")
        await expect(chat.locator(".message--bot")).to_have_count(2)
