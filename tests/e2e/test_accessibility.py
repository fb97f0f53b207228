"""Accessibility, checked by axe-core in Chromium: the chat page with a conversation on it
(quick replies included), and the agent desk's queue, a conversation and the dashboard.
No serious or critical violation is allowed."""

from __future__ import annotations

import pytest
from playwright.async_api import async_playwright, expect
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.conversations import thread_conversation_id
from shared.kafka.codec import new_envelope
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import outbound_topic
from tests.e2e.accessibility import assert_accessible
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import (
    LAPTOP,
    claim_with_shortcut,
    create_account,
    sign_in_page,
)
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS, chat_page
from tests.kafka_helpers import eventually

pytestmark = pytest.mark.e2e


def _offering(visitor: str, text: str, *titles: str) -> messages_pb2.SendMessage:
    """A bot message to ``visitor`` with quick replies, as a channel adapter receives it."""
    web = envelope_pb2.CHANNEL_WEB
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id=thread_conversation_id("web", visitor),
            channel=web,
            customer=envelope_pb2.CustomerRef(channel=web, address=visitor),
        ),
        text=text,
        sender=messages_pb2.SENDER_BOT,
        sender_name="Rapport assistant",
        quick_replies=[
            messages_pb2.QuickReply(title=title, payload=title.upper().replace(" ", "_"))
            for title in titles
        ],
    )


async def test_the_chat_page_with_a_conversation_has_no_serious_violations(stack: Stack) -> None:
    async with chat_page(stack) as page:
        await page.fill("#text", "Where is my order?")
        await page.keyboard.press("Enter")
        await expect(page.locator(".message--bot")).to_have_count(1, timeout=10_000)
        visitor = await page.evaluate("localStorage.getItem('rapport.visitor')")
        async with EventPublisher(stack.kafka_bootstrap, client_id="tests") as publisher:
            await publisher.publish(
                outbound_topic("web"),
                _offering(visitor, "Did that help?", "Yes", "Talk to a person"),
            )
        await expect(page.locator(".quick-reply")).to_have_count(2)

        await assert_accessible(page, "the chat page")


async def test_the_agent_desk_queue_conversation_and_dashboard_have_no_serious_violations(
    stack: Stack,
) -> None:
    agent = create_account(stack, "Ada", "agent")
    supervisor = create_account(stack, "Sofia", "supervisor")
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say("I want to talk to a real person please, my parcel is lost")
        await eventually(lambda: len(chat.replies) >= 1)
    finally:
        await chat.close()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The desk's Content-Security-Policy refuses inline scripts, axe-core's too.
            desk = await (await browser.new_context(viewport=LAPTOP, bypass_csp=True)).new_page()
            await sign_in_page(desk, stack.desk_url, agent)
            waiting = desk.locator("#waiting .queue__item", has_text="my parcel is lost").first
            await expect(waiting).to_be_visible(timeout=20_000)
            await assert_accessible(desk, "the queue")

            await waiting.locator("a").click()
            await expect(desk.locator("#claim")).to_be_visible()
            await claim_with_shortcut(desk)
            await expect(desk.locator("#reply-text")).to_be_visible()
            await assert_accessible(desk, "a conversation")

            board = await (await browser.new_context(viewport=LAPTOP, bypass_csp=True)).new_page()
            await sign_in_page(board, stack.desk_url, supervisor)
            await expect(board.locator("#workloads")).to_be_visible()
            await assert_accessible(board, "the supervisor's queue")
            await board.goto(f"{stack.desk_url}/dashboard?days=14")
            await expect(board.locator("#chart-csat-scores svg")).to_be_visible()
            await assert_accessible(board, "the dashboard")
        finally:
            await browser.close()
