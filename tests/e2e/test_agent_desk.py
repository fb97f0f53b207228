"""The human side of a handoff, through the real stack: customers on the web chat, on
SMS (through the fake Twilio) and on WhatsApp (through the fake Graph API) are handed to
agents (created with the CLI), who answer them from the desk in Chromium; the customer
rates the help and the dashboard counts it; a reply the channel refuses shows so, live;
a customer's photo opens in the desk and an agent's image reaches WhatsApp."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, ViewportSize, async_playwright, expect
from rapport.events.v1 import handoff_pb2

from shared.conversations import thread_conversation_id
from shared.kafka.topics import HANDOFF
from tests.e2e.chat_client import ChatClient
from tests.e2e.stack import Stack
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_journey import metric_total
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.twilio_server import FakeTwilio, inbound_params, signed_webhook
from tests.kafka_helpers import eventually, read_until
from tests.media_helpers import png

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
TABLET: ViewportSize = {"width": 768, "height": 1024}
REASON = "The customer asked to talk to a person."
# Screenshots of the key screens, for people to look at (var/ is not committed).
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "agent-desk"


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
            recent_load = desk.locator("#my-recent-load")  # care for agents
            await expect(recent_load).to_have_text("Your last 3 hours: 0 conversations, 0 hard")
            await desk.evaluate("window.__sameDocument = true")

            chat = await (
                await browser.new_context(viewport={"width": 820, "height": 1000})
            ).new_page()
            await chat.goto(stack.web_url)
            await expect(chat.locator("#status")).to_have_text("online")
            await chat.fill("#text", f"I want to talk to a real person please, order {marker}")
            await chat.keyboard.press("Enter")
            bot = chat.locator(".message--bot")
            await expect(bot.first).to_contain_text("member of our team")
            # Waiting is never silence: the desk tells the place in line at once.
            await expect(bot.nth(1)).to_contain_text("You are number", timeout=20_000)

            # Ours, whatever other tests left waiting in the queue.
            first = desk.locator("#waiting .queue__item").filter(has_text=f"order {marker}")
            await expect(first).to_contain_text(REASON, timeout=20_000)
            assert await desk.evaluate("window.__sameDocument") is True  # no reload
            await expect(first.locator("[data-last-message]")).to_contain_text(f"order {marker}")
            await expect(first.get_by_role("img", name="Web chat")).to_be_visible()
            await expect(first.locator("[data-waiting]")).to_contain_text("waiting")

            await first.locator("a").click()
            await expect(desk.locator("#timeline")).to_contain_text(f"order {marker}")
            await expect(desk.locator("#reasons")).to_contain_text(REASON)
            await claim_with_shortcut(desk)

            await desk.fill("#reply-text", f"Hi, I'm Maria. Let me look at order {marker}.")
            await desk.keyboard.press("Control+Enter")
            agent_reply = chat.locator(".message--agent")
            await expect(agent_reply).to_contain_text(f"Let me look at order {marker}.")
            await expect(agent_reply.locator(".message__sender")).to_have_text("Maria · a person")

            await desk.click("#resolve")
            await expect(desk.locator("#ticket-status")).to_have_text("resolved")
            await desk.goto(f"{stack.desk_url}/")
            await expect(recent_load).to_contain_text("Your last 3 hours: 1 conversation, ")
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
    assert metric_total(metrics, "rapport_desk_logins_total", outcome="success") >= 1
    assert metric_total(metrics, "rapport_desk_refused_requests_total", reason="csrf") >= 1


def action_id(html: str) -> str:
    """The action id a conversation page gives its forms."""
    found = re.search(r'name="action_id" value="([^"]+)"', html)
    assert found, "no action id on the page"
    return found.group(1)


def create_account(stack: Stack, name: str, role: str) -> str:
    email = f"{name.lower()}-{uuid.uuid4().hex[:6]}@example.org"
    stack.desk_command(
        "create-user", "--email", email, "--name", name, "--role", role, stdin=PASSWORD + "\n"
    )
    return email


async def sign_in_page(page: Page, url: str, email: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def claim_with_shortcut(page: Page) -> None:
    """Press C on a conversation page once its script listens: a key pressed while the link
    from the queue is still loading would go to the queue page and be lost."""
    await expect(page.locator("#claim")).to_be_visible()
    await page.wait_for_load_state("domcontentloaded")
    await page.keyboard.press("c")
    await expect(page.locator("#ticket-status")).to_have_text("claimed")


async def rated_fours(page: Page, url: str) -> int:
    await page.goto(f"{url}/dashboard?days=14&channel=web")
    fours = page.locator("#chart-csat-scores-table tbody tr").nth(3).locator("td")
    return int(await fours.get_attribute("data-value") or "")


async def test_an_angry_customer_is_escalated_answered_by_a_person_and_rates_it(
    stack: Stack, host_page: str
) -> None:
    """The whole journey: upset in the widget on a shop's page → escalated with its reason
    → an agent edits a suggested reply → the customer reads it from a person → resolve →
    rated 4 → the dashboard counts it. Screenshots of the key screens go to ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    agent = create_account(stack, "Maria", "agent")
    owner = create_account(stack, "Olivia", "supervisor")
    marker = uuid.uuid4().hex[:6]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            board = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(board, stack.desk_url, owner)
            fours_before = await rated_fours(board, stack.desk_url)

            desk = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(desk, stack.desk_url, agent)
            await expect(desk.locator("#waiting-count")).to_be_visible()

            shop = await (await browser.new_context(viewport=TABLET)).new_page()
            await shop.goto(host_page)
            await shop.click("#rapport-launcher")
            chat = shop.frame_locator("#rapport-frame")
            await expect(chat.locator("#status")).to_have_text("online")
            for number, text in enumerate(
                [
                    "Where is my order?",
                    f"It's order {marker}, it was supposed to arrive on Monday.",
                    f"I hate this company. Worst service ever!!! Order {marker}",
                ],
                start=1,
            ):
                await chat.locator("#text").fill(text)
                await chat.locator("#text").press("Enter")
                await expect(chat.locator(".message--bot").nth(number - 1)).to_be_visible()
            handed_over = chat.locator(".message--bot").nth(2)
            await expect(handed_over).to_contain_text("member of our team")
            # The desk's notice follows the hand-over at once: waiting is never silence.
            await expect(chat.locator(".message--bot").nth(3)).to_contain_text(
                "You are number", timeout=20_000
            )

            first = desk.locator("#waiting .queue__item").filter(has_text=f"Order {marker}")
            await expect(first).to_contain_text("The customer is upset", timeout=20_000)
            await expect(first.locator("svg.chart")).to_be_visible()
            await desk.screenshot(path=ARTIFACTS / "queue.png", full_page=True)
            await first.locator("a").click()
            await expect(desk.locator("#timeline")).to_contain_text(f"order {marker}")  # ours
            await expect(desk.locator("#reasons")).to_contain_text("The customer is upset")
            await expect(desk.locator("#conversation-side svg.chart")).to_be_visible()
            await claim_with_shortcut(desk)

            await desk.evaluate("window.__sameDocument = true")
            await chat.locator("#text").fill(f"Are you there? {marker}")
            await chat.locator("#text").press("Enter")
            await expect(desk.locator("#timeline")).to_contain_text(f"Are you there? {marker}")
            assert await desk.evaluate("window.__sameDocument") is True  # live, no reload

            drafts = desk.locator("[data-draft]")
            await expect(drafts).to_have_count(3)
            await expect(drafts.first).to_contain_text("I'm Maria from the team")
            await desk.screenshot(path=ARTIFACTS / "conversation.png", full_page=True)
            await drafts.nth(1).click()
            draft = await desk.locator("#reply-text").input_value()
            assert draft.startswith("Hi, I'm Maria from the team")
            await desk.locator("#reply-text").press("End")
            await desk.locator("#reply-text").type(f" Order {marker} is my priority.")
            await desk.keyboard.press("Control+Enter")

            agent_reply = chat.locator(".message--agent")
            await expect(agent_reply).to_contain_text(f"{draft} Order {marker} is my priority.")
            await expect(agent_reply.locator(".message__sender")).to_have_text("Maria · a person")

            await desk.click("#resolve")
            await expect(desk.locator("#ticket-status")).to_have_text("resolved")
            await expect(chat.locator(".message--bot").last).to_contain_text(
                "from 1 (poor) to 5 (excellent)"
            )
            await chat.locator("#text").fill("4")
            await chat.locator("#text").press("Enter")
            await expect(chat.locator(".message--bot").last).to_contain_text(
                "Thank you for your rating"
            )

            for _ in range(50):  # the desk records the rating from rapport.feedback.v1
                if await rated_fours(board, stack.desk_url) == fours_before + 1:
                    break
                await asyncio.sleep(0.2)
            assert await rated_fours(board, stack.desk_url) == fours_before + 1
            await board.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
        finally:
            await browser.close()
    metrics = stack.metrics_url("agent_desk")
    assert metric_total(metrics, "rapport_desk_csat_ratings_total", channel="web", score="4") >= 1
    assert metric_total(metrics, "rapport_desk_handle_seconds_count", channel="web") >= 1


async def no_horizontal_overflow(page: Page) -> None:
    overflow = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " document.querySelector('.main').scrollWidth, document.querySelector('.main').clientWidth]"
    )
    assert overflow[0] <= overflow[1] and overflow[2] <= overflow[3], overflow


@pytest.mark.parametrize("viewport", [TABLET, LAPTOP], ids=["tablet", "laptop"])
async def test_the_queue_and_conversation_fit_tablet_and_laptop_widths(
    stack: Stack, viewport: ViewportSize
) -> None:
    email = create_account(stack, "Tess", "agent")
    chat = await ChatClient.connect(stack.web_url)
    try:
        await chat.say(f"I want to talk to a real person please {'x' * 120}")
        await eventually(lambda: len(chat.replies) >= 1)
    finally:
        await chat.close()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport=viewport)).new_page()
            await sign_in_page(page, stack.desk_url, email)
            item = page.locator("#waiting .queue__item").first
            await expect(item).to_be_visible(timeout=20_000)
            await no_horizontal_overflow(page)
            await item.locator("a").click()
            await expect(page.locator("#claim")).to_be_visible()
            await no_horizontal_overflow(page)
            await claim_with_shortcut(page)
            await expect(page.locator("#reply-text")).to_be_visible()
            await no_horizontal_overflow(page)
            box = await page.locator("#send").bounding_box()
            assert box is not None and box["x"] + box["width"] <= viewport["width"]
        finally:
            await browser.close()


async def test_an_sms_customer_handed_off_gets_the_agents_reply_as_an_sms(stack: Stack) -> None:
    account, token = "AC" + "34" * 16, "e2e-twilio-auth-token"
    number = f"+1202555{uuid.uuid4().int % 10_000:04d}"
    email = create_account(stack, "Sam", "agent")
    async with FakeTwilio(account, token) as twilio:
        public = stack.start_sms_adapter(twilio.base_url, account, token)
        body, headers = signed_webhook(
            public + "/twilio/sms",
            inbound_params(number, "I want to talk to a real person please", account_sid=account),
            token,
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{stack.sms_url}/twilio/sms", data=body, headers=headers) as response,
        ):
            assert response.status == 200
        [handoff] = await read_until(
            stack.kafka_bootstrap,
            HANDOFF,
            lambda r: r.key == thread_conversation_id("sms", number).encode(),
        )
        ticket_id = handoff_pb2.HandoffRequested.FromString(handoff.value).envelope.event_id
        # The bot's hand-over, then the desk's place in line: waiting is never silence.
        await eventually(lambda: len(twilio.sent_to(number)) == 2, timeout=20)
        assert any("You are number" in sent.body for sent in twilio.sent_to(number))

        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=stack.desk_url, cookie_jar=jar) as desk:
            async with desk.get("/login") as page:
                login = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
            assert login
            form = {"email": email, "password": PASSWORD, "csrf_token": login.group(1)}
            async with desk.post("/login", data=form) as signed_in:
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', await signed_in.text())
            assert csrf
            path = f"/conversations/{ticket_id}"
            for _ in range(100):  # until the desk consumed the handoff
                async with desk.get(path) as page:
                    html = await page.text()
                    if page.status == 200:
                        break
                await asyncio.sleep(0.1)
            form = {"csrf_token": csrf.group(1), "action_id": action_id(html)}
            async with desk.post(f"{path}/claim", data=form) as claimed:
                assert claimed.status == 200
                form["action_id"] = action_id(await claimed.text())
            text = f"Hi, I'm Sam. I'm on it ({uuid.uuid4().hex[:6]})."
            async with desk.post(f"{path}/reply", data={**form, "text": text}) as replied:
                assert replied.status == 200
        await eventually(lambda: len(twilio.sent_to(number)) == 3, timeout=15)
    sms = twilio.sent_to(number)[-1]
    assert sms.body == text


META_SECRET, WA_TOKEN, PHONE_ID = "e2e-meta-app-secret", "e2e-whatsapp-token", "106540352242922"
WHATSAPP_TEXT = Path(__file__).resolve().parents[1] / "fixtures" / "meta" / "whatsapp_text.json"
WINDOW = timedelta(hours=24)
LEFT_OPEN = timedelta(seconds=45)
"""How long the WhatsApp window stays open after the test starts: time enough for the
handoff to reach the desk and the agent to open and claim it, and short to wait out."""


def whatsapp_webhook(phone: str, text: str, sent_at: datetime) -> tuple[bytes, dict[str, str]]:
    """A customer's WhatsApp message as Meta posts it, signed with the app secret."""
    data = json.loads(WHATSAPP_TEXT.read_text())
    value = data["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_ID
    value["contacts"][0]["wa_id"] = phone.lstrip("+")
    value["messages"][0].update(
        {
            "from": phone.lstrip("+"),
            "id": f"wamid.{uuid.uuid4().hex.upper()}",
            "timestamp": str(int(sent_at.timestamp())),
            "text": {"body": text},
        }
    )
    body = json.dumps(data).encode()
    digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


async def ticket_of(stack: Stack, channel: str, address: str) -> str:
    """The id of the ticket the bot's handoff of this customer's thread opened."""
    [record] = await read_until(
        stack.kafka_bootstrap,
        HANDOFF,
        lambda r: r.key == thread_conversation_id(channel, address).encode(),
    )
    return handoff_pb2.HandoffRequested.FromString(record.value).envelope.event_id


async def refused_live(watcher: Page, text: str, status: str, reason: str) -> None:
    """The agent's message ``text`` shows on ``watcher``, refused with ``reason``, without
    the page being loaded again."""
    delivery = watcher.locator(".turn--agent", has_text=text).locator(".delivery")
    await expect(delivery).to_have_attribute("data-delivery", "refused", timeout=20_000)
    await expect(delivery).to_contain_text(status)
    await expect(delivery).to_contain_text(reason)
    assert await watcher.evaluate("window.__sameDocument") is True


async def test_replies_refused_by_an_sms_opt_out_or_a_closed_whatsapp_window_show_live(
    stack: Stack,
) -> None:
    """The real SMS adapter refuses a reply to a number that texted STOP; the real social
    adapter one sent after the customer's 24 hours ran out. The agent sees each message
    marked "Not sent", with the reason, on the open conversation as it happens."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    account, token = "AC" + "56" * 16, "e2e-twilio-auth-token"
    number = f"+1202555{uuid.uuid4().int % 10_000:04d}"
    phone = f"+1650555{uuid.uuid4().int % 10_000:04d}"
    email = create_account(stack, "Rita", "agent")
    graph = FakeGraphApi(page_token="unused", whatsapp_token=WA_TOKEN, phone_number_id=PHONE_ID)
    await graph.start()
    try:
        async with FakeTwilio(account, token) as twilio, aiohttp.ClientSession() as http:
            public = stack.start_sms_adapter(twilio.base_url, account, token)
            stack.start_social_adapter(graph.base_url, META_SECRET, WA_TOKEN, PHONE_ID)
            closes = datetime.now(UTC) + LEFT_OPEN
            body, headers = whatsapp_webhook(
                phone, "I want to talk to a real person please", closes - WINDOW
            )
            async with http.post(
                f"{stack.social_url}/meta/whatsapp", data=body, headers=headers
            ) as answer:
                assert answer.status == 200

            async def text_sms(text: str) -> None:
                body, headers = signed_webhook(
                    public + "/twilio/sms", inbound_params(number, text, account_sid=account), token
                )
                async with http.post(
                    f"{stack.sms_url}/twilio/sms", data=body, headers=headers
                ) as answer:
                    assert answer.status == 200

            # The customer asks for a person, then texts STOP while waiting (the bot hands
            # nothing over for a number that is opted out when it decides: in that order).
            await text_sms("I want to talk to a real person please")
            sms_ticket = await ticket_of(stack, "sms", number)
            await text_sms("STOP")
            wa_ticket = await ticket_of(stack, "whatsapp", phone)

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                try:
                    agent = await browser.new_context(viewport=LAPTOP)
                    desk = await agent.new_page()
                    await sign_in_page(desk, stack.desk_url, email)
                    for ticket in (wa_ticket, sms_ticket):
                        await expect(
                            desk.locator(f'#waiting .queue__item[data-ticket="{ticket}"]')
                        ).to_be_visible(timeout=20_000)

                    # WhatsApp: claimed while the window is open; the reply waits for it to close.
                    whatsapp = await agent.new_page()
                    await whatsapp.goto(f"{stack.desk_url}/conversations/{wa_ticket}")
                    await claim_with_shortcut(whatsapp)
                    assert datetime.now(UTC) < closes, "claimed too late to see the window close"

                    # SMS: the customer texted STOP after asking for a person.
                    await desk.goto(f"{stack.desk_url}/conversations/{sms_ticket}")
                    await claim_with_shortcut(desk)
                    watcher = await agent.new_page()  # the same agent's second tab
                    await watcher.goto(f"{stack.desk_url}/conversations/{sms_ticket}")
                    await watcher.evaluate("window.__sameDocument = true")
                    sms_text = f"Hi, Rita here. I'll call you back ({uuid.uuid4().hex[:6]})."
                    await desk.fill("#reply-text", sms_text)
                    await desk.keyboard.press("Control+Enter")
                    await refused_live(
                        watcher, sms_text, "Not sent", "the customer opted out of this channel"
                    )
                    # The agent's message (the desk's notice may have been refused too).
                    refused = watcher.locator(".turn--agent", has_text=sms_text)
                    await expect(refused.locator(".delivery--refused")).to_contain_text(
                        "replied STOP"
                    )
                    await watcher.screenshot(path=ARTIFACTS / "refused-sms.png", full_page=True)

                    wa_watcher = await agent.new_page()
                    await wa_watcher.goto(f"{stack.desk_url}/conversations/{wa_ticket}")
                    await wa_watcher.evaluate("window.__sameDocument = true")
                    await asyncio.sleep(max((closes - datetime.now(UTC)).total_seconds(), 0) + 1)
                    wa_text = f"Your refund is on its way ({uuid.uuid4().hex[:6]})."
                    await whatsapp.fill("#reply-text", wa_text)  # the page from before it closed
                    await whatsapp.keyboard.press("Control+Enter")
                    await refused_live(
                        wa_watcher, wa_text, "Not sent", "the platform's reply window is closed"
                    )
                    refused = wa_watcher.locator(".turn--agent", has_text=wa_text)
                    await expect(refused.locator(".delivery--refused")).to_contain_text("24 hours")
                    await wa_watcher.screenshot(
                        path=ARTIFACTS / "refused-whatsapp.png", full_page=True
                    )
                finally:
                    await browser.close()
        assert all(sms_text not in sent.body for sent in twilio.sent_to(number))
        assert all(wa_text not in json.dumps(sent.body) for sent in graph.received), (
            "the refused reply reached the Graph API"
        )
    finally:
        await graph.close()
    metrics = stack.metrics_url("agent_desk")
    for channel, problem in (("sms", "opted_out"), ("whatsapp", "window_closed")):
        assert (
            metric_total(
                metrics, "rapport_desk_message_problems_total", channel=channel, problem=problem
            )
            >= 1
        )


WHATSAPP_IMAGE = WHATSAPP_TEXT.with_name("whatsapp_image.json")


def whatsapp_photo_webhook(phone: str, media_id: str) -> tuple[bytes, dict[str, str]]:
    """A customer's caption-less WhatsApp photo as Meta posts it, signed with the app secret."""
    data = json.loads(WHATSAPP_IMAGE.read_text())
    value = data["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_ID
    value["contacts"][0]["wa_id"] = phone.lstrip("+")
    message = value["messages"][0]
    message.update(
        {
            "from": phone.lstrip("+"),
            "id": f"wamid.{uuid.uuid4().hex.upper()}",
            "timestamp": str(int(datetime.now(UTC).timestamp())),
        }
    )
    message["image"] = {"mime_type": "image/png", "sha256": "unchecked", "id": media_id}
    body = json.dumps(data).encode()
    digest = hmac.new(META_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


async def test_a_whatsapp_photo_opens_in_the_desk_and_the_agents_image_reaches_whatsapp(
    stack: Stack,
) -> None:
    """A caption-less photo on WhatsApp is handed over for a person to look at; the agent
    sees it in the conversation and opens it (the bytes come from the fake Graph API
    through the social adapter and the desk), then answers with an image of their own,
    which the social adapter fetches from the desk and uploads to WhatsApp."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    email = create_account(stack, "Nina", "agent")
    phone = f"+1650555{uuid.uuid4().int % 10_000:04d}"
    photo, answer = png(9, 7), png(4, 4)
    graph = FakeGraphApi(page_token="unused", whatsapp_token=WA_TOKEN, phone_number_id=PHONE_ID)
    await graph.start()
    try:
        stack.start_social_adapter(graph.base_url, META_SECRET, WA_TOKEN, PHONE_ID)
        body, headers = whatsapp_photo_webhook(phone, graph.add_media(photo, "image/png"))
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{stack.social_url}/meta/whatsapp", data=body, headers=headers) as posted,
        ):
            assert posted.status == 200
        ticket = await ticket_of(stack, "whatsapp", phone)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                desk = await (await browser.new_context(viewport=LAPTOP)).new_page()
                await sign_in_page(desk, stack.desk_url, email)
                item = desk.locator(f'#waiting .queue__item[data-ticket="{ticket}"]')
                await expect(item.locator("[data-media]")).to_have_text(
                    "sent media", timeout=20_000
                )
                await expect(item).to_contain_text("cannot look at (image)")
                await desk.screenshot(path=ARTIFACTS / "queue-media.png")
                await item.locator("a").click()

                shown = desk.locator(".turn--customer .attachment--image")
                await expect(shown).to_contain_text("Photo")
                await expect(shown.locator("img")).to_have_js_property("naturalWidth", 9)
                href = await shown.locator(".attachment__open").get_attribute("href")
                assert href
                opened = await desk.request.get(f"{stack.desk_url}{href}")
                assert opened.status == 200 and await opened.body() == photo
                assert opened.headers["content-type"] == "image/png"
                assert opened.headers["x-content-type-options"] == "nosniff"

                await claim_with_shortcut(desk)
                await desk.locator("#reply-attachment").set_input_files(
                    {"name": "parcel.png", "mimeType": "image/png", "buffer": answer}
                )
                caption = f"Is this the parcel? ({uuid.uuid4().hex[:6]})"
                await desk.fill("#reply-text", caption)
                await desk.click("#send")

                sent = desk.locator(".turn--agent", has_text=caption)
                await expect(sent.locator(".attachment--image")).to_contain_text("parcel.png")
                await expect(sent.locator(".delivery")).to_have_attribute(
                    "data-delivery", "sent", timeout=20_000
                )
                await expect(sent.locator("img")).to_have_js_property("naturalWidth", 4)
                await desk.screenshot(path=ARTIFACTS / "media.png", full_page=True)
            finally:
                await browser.close()
        [image] = [m for m in graph.to(phone.lstrip("+")) if m["type"] == "image"]
        assert image["image"]["caption"] == caption
        uploaded = graph.media[image["image"]["id"]]
        assert (uploaded.body, uploaded.content_type) == (answer, "image/png")
    finally:
        await graph.close()
