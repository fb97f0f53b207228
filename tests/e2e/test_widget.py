"""The embeddable widget on a plain page, in a real Chromium: reply, history, reconnect,
quick replies and the keyboard."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import FrameLocator, Page, ViewportSize, async_playwright, expect
from rapport.events.v1 import messages_pb2

from shared.kafka.codec import EVENT_TYPE_HEADER
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


async def _first_reply(stack: Stack, visitor: str) -> messages_pb2.SendMessage:
    """The first reply Rapport sent the visitor, as published on the web outbound topic."""
    [record] = await read_until(
        stack.kafka_bootstrap,
        outbound_topic("web"),
        lambda r: (
            dict(r.headers)[EVENT_TYPE_HEADER] == b"rapport.events.v1.SendMessage"
            and messages_pb2.SendMessage.FromString(r.value).envelope.customer.address == visitor
        ),
    )
    return messages_pb2.SendMessage.FromString(record.value)


def _another(
    reply: messages_pb2.SendMessage, text: str, *quick_replies: str
) -> messages_pb2.SendMessage:
    """A new reply in the same conversation, with its own event id."""
    later = messages_pb2.SendMessage()
    later.CopyFrom(reply)
    later.envelope.event_id = str(uuid.uuid4())
    later.text = text
    del later.quick_replies[:]
    later.quick_replies.extend(
        messages_pb2.QuickReply(title=title, payload=title.upper().replace(" ", "_"))
        for title in quick_replies
    )
    return later


async def test_a_reply_delivered_again_after_an_adapter_restart_is_shown_once(
    stack: Stack, host_page: str
) -> None:
    async with _widget_opened(host_page) as (page, chat):
        await chat.locator("#text").fill("Where is my order?")
        await chat.locator("#text").press("Enter")
        await expect(chat.locator(".message--bot")).to_have_count(1, timeout=5000)
        topic = outbound_topic("web")
        reply = await _first_reply(stack, await _visitor(page))
        later = _another(reply, "A later message")

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


async def test_quick_replies_are_buttons_that_send_their_title_once(
    stack: Stack, host_page: str
) -> None:
    async with _widget_opened(host_page) as (page, chat):
        await chat.locator("#text").fill("Where is my order?")
        await chat.locator("#text").press("Enter")
        bot = chat.locator(".message--bot")
        await expect(bot).to_have_count(1, timeout=5000)
        reply = await _first_reply(stack, await _visitor(page))
        async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
            topic = outbound_topic("web")
            await publisher.publish(topic, _another(reply, "Did that help?", "Yes", "No"))
            await publisher.publish(
                topic, _another(reply, "What next?", "Track my order", "Talk to a person")
            )

        # Only the latest message offers its quick replies, as real buttons.
        await expect(bot).to_have_count(3)
        buttons = chat.locator(".quick-reply")
        await expect(buttons).to_have_text(["Track my order", "Talk to a person"])
        await expect(bot.nth(2).get_by_role("button")).to_have_count(2)
        await expect(buttons.first).to_have_attribute("type", "button")
        box = await buttons.first.bounding_box()
        assert box is not None and box["height"] >= 44  # a touch target

        # Reached from the keyboard: back from the composer, past the attach button.
        await chat.locator("#text").focus()
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Shift+Tab")
        await expect(chat.get_by_role("button", name="Talk to a person")).to_be_focused()

        await chat.get_by_role("button", name="Track my order").click()
        await expect(chat.locator(".message--customer")).to_have_text(
            ["Where is my order?", "Track my order"]
        )
        await expect(buttons).to_have_count(0)  # not to be sent twice
        await expect(chat.locator("#text")).to_be_focused()
        # Published like a typed message: Rapport answers it.
        await expect(bot.nth(3)).to_be_visible(timeout=10000)
        await expect(chat.locator(".message--customer")).to_have_count(2)


async def test_escape_closes_the_widget_and_the_focus_goes_back_to_the_launcher(
    stack: Stack, host_page: str
) -> None:
    async with _widget_opened(host_page) as (page, chat):
        launcher = page.locator("#rapport-launcher")
        frame = page.locator("#rapport-frame")
        await expect(launcher).to_have_attribute("aria-expanded", "true")

        await chat.locator("#text").click()
        await page.keyboard.press("Escape")  # inside the chat
        await expect(frame).to_be_hidden()
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await expect(launcher).to_be_focused()

        await page.keyboard.press("Enter")  # the launcher, from the keyboard
        await expect(frame).to_be_visible()
        await expect(launcher).to_have_attribute("aria-expanded", "true")
        await expect(chat.locator("#text")).to_be_focused()

        await page.locator("h1").click()
        await page.keyboard.press("Escape")  # on the shop's page, while the chat is open
        await expect(frame).to_be_hidden()
        await expect(launcher).to_have_attribute("aria-expanded", "false")
        await expect(launcher).to_be_focused()
