"""The human side of a handoff, through the real stack: a customer asks for a person on the
chat page, an agent (created with the CLI) sees it arrive live, answers, and resolves."""

from __future__ import annotations

import re
import uuid

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.stack import Stack
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_journey import metric_total

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
REASON = "The customer asked to talk to a person."


def create_agent(stack: Stack, name: str) -> str:
    """An agent account made with the CLI's own code path; returns the email."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    done = stack.desk_command(
        "create-user", "--email", email, "--name", name, "--role", "agent", stdin=PASSWORD + "\n"
    )
    assert "created agent" in done.stdout
    return email


async def test_an_agent_takes_a_handoff_live_and_answers_the_customer_as_a_person(
    stack: Stack,
) -> None:
    email = create_agent(stack, "Maria")
    marker = uuid.uuid4().hex[:8]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            desk = await (
                await browser.new_context(viewport={"width": 1280, "height": 800})
            ).new_page()
            await desk.goto(f"{stack.desk_url}/login")
            await desk.fill("input[name=email]", email)
            await desk.fill("input[name=password]", PASSWORD)
            await desk.click("button[type=submit]")
            await expect(desk.locator("#waiting-count")).to_be_visible()
            await desk.evaluate("window.__sameDocument = true")

            chat = await (
                await browser.new_context(viewport={"width": 820, "height": 1000})
            ).new_page()
            await chat.goto(stack.web_url)
            await expect(chat.locator("#status")).to_have_text("online")
            await chat.fill("#text", f"I want to talk to a real person please, order {marker}")
            await chat.keyboard.press("Enter")
            await expect(chat.locator(".message--bot")).to_contain_text("member of our team")

            first = desk.locator("#waiting .queue__item").first
            await expect(first).to_contain_text(REASON, timeout=20_000)
            assert await desk.evaluate("window.__sameDocument") is True  # no reload

            await first.locator("a").click()
            await expect(desk.locator("#timeline")).to_contain_text(f"order {marker}")
            await expect(desk.locator("#reasons")).to_contain_text(REASON)
            await desk.keyboard.press("c")  # the claim shortcut
            await expect(desk.locator("#ticket-status")).to_have_text("claimed")

            await desk.fill("#reply-text", f"Hi, I'm Maria. Let me look at order {marker}.")
            await desk.keyboard.press("Control+Enter")
            agent_reply = chat.locator(".message--agent")
            await expect(agent_reply).to_contain_text(f"Let me look at order {marker}.")
            await expect(agent_reply.locator(".message__sender")).to_have_text("Maria · a person")

            await desk.click("#resolve")
            await expect(desk.locator("#ticket-status")).to_have_text("resolved")
        finally:
            await browser.close()


async def test_the_desk_refuses_requests_without_csrf_and_agents_on_admin_pages(
    stack: Stack,
) -> None:
    email = create_agent(stack, "Bob")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=stack.desk_url, cookie_jar=jar) as browser:
        async with browser.get("/login") as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        assert token
        async with browser.post(
            "/login", data={"email": email, "password": PASSWORD}, allow_redirects=False
        ) as refused:
            assert refused.status == 403  # no CSRF token
        async with browser.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
            allow_redirects=False,
        ) as signed_in:
            assert signed_in.status == 303
        async with browser.get("/admin/users") as admin_page:
            assert admin_page.status == 403
        async with browser.post("/logout", allow_redirects=False) as refused:
            assert refused.status == 403  # signed in, but no CSRF token
        async with browser.get("/") as still_signed_in:
            assert still_signed_in.status == 200
    metrics = stack.metrics_url("agent_desk")
    assert metric_total(metrics, "rapport_agent_desk_logins_total", outcome="success") >= 1
    assert metric_total(metrics, "rapport_agent_desk_refused_requests_total", reason="csrf") >= 1
