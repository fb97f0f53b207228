"""The email journey through the whole stack: a real Dovecot holds the support mailbox, a
real SMTP server plays the customer's mail client, and every service runs as its own
process with the email adapter reading that mailbox.

An upset customer mails asking for a person → the bot's acknowledgement arrives threaded
under their mail → the conversation waits in the desk's queue with its reasons → an agent
signs in (Chromium), claims it, sees the whole email (subject, signature) and replies →
the customer gets the reply as a person's mail in the same thread → the agent resolves →
the rating question arrives by email → the customer answers "5" by email → the desk's
dashboard counts the rating.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from playwright.async_api import Page, async_playwright, expect

from services.email_adapter.config import Security
from tests.dovecot import DovecotServer, running_dovecot
from tests.e2e.stack import Stack
from tests.e2e.test_agent_desk import (
    LAPTOP,
    claim_with_shortcut,
    create_account,
    sign_in_page,
)
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_journey import metric_total
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.e2e

SUPPORT = "support@rapport.test"
MAILBOX_USER, MAILBOX_PASSWORD = "support", "e2e-mailbox-password"
ASKED = "The customer asked to talk to a person."
UPSET = "The customer is upset"
SIGNATURE = "Zoë Quill\nFlat 2, 14 Mill Lane, Leeds"
MAIL_TIMEOUT = 30.0


@pytest.fixture
def mail_servers(stack: Stack) -> Iterator[tuple[DovecotServer, SmtpSink]]:
    """The support mailbox (Dovecot) and the customer's side (an SMTP sink), with the
    email adapter of the stack reading and sending through them."""
    with (
        running_dovecot({MAILBOX_USER: MAILBOX_PASSWORD}) as dovecot,
        SmtpSink(Security.NONE) as sink,
    ):
        stack.start_email_adapter(
            [
                {
                    "address": SUPPORT,
                    "display_name": "Rapport Support",
                    "imap_host": "127.0.0.1",
                    "imap_port": dovecot.port,
                    "imap_security": Security.NONE,
                    "imap_user": MAILBOX_USER,
                    "imap_password": MAILBOX_PASSWORD,
                    **sink.mailbox_fields(),
                }
            ]
        )
        try:
            yield dovecot, sink
        finally:
            stack.stop("email_adapter")


def customer_mail(
    customer: str, subject: str, text: str, message_id: str, answering: EmailMessage | None = None
) -> bytes:
    """A mail from ``customer`` to the support address, as their client writes it: a reply
    to ``answering`` carries its thread headers and quotes it."""
    mail = EmailMessage()
    mail["From"] = f"Zoë Quill <{customer}>"
    mail["To"] = SUPPORT
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    mail["Date"] = format_datetime(datetime.now(UTC))
    if answering is not None:
        mail["In-Reply-To"] = answering["Message-ID"]
        mail["References"] = f"{answering.get('References', '')} {answering['Message-ID']}".strip()
        quoted = "\n".join(f"> {line}" for line in body_of(answering).splitlines())
        text = f"{text}\n\nOn {answering['Date']}, Rapport Support <{SUPPORT}> wrote:\n{quoted}"
    mail.set_content(text)
    return bytes(mail)


def body_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage), "no text/plain part"
    return str(part.get_content())


def ids_in(header: str | None) -> list[str]:
    return [word.strip("<>") for word in (header or "").split()]


async def mail_to(
    sink: SmtpSink, address: str, wanted: Callable[[EmailMessage], bool]
) -> EmailMessage:
    """The first mail delivered to ``address`` that is ``wanted``, waiting for it."""
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for mail in sink.messages_to(address):
            if wanted(mail):
                return mail
        await asyncio.sleep(0.1)
    seen = [(m["Subject"], body_of(m)[:80]) for m in sink.messages_to(address)]
    raise AssertionError(f"no such mail to {address} in {MAIL_TIMEOUT}s; got {seen}")


def saying(*words: str) -> Callable[[EmailMessage], bool]:
    return lambda mail: all(word in body_of(mail) for word in words)


async def rated_fives(page: Page, url: str) -> int:
    await page.goto(f"{url}/dashboard?days=14&channel=email")
    fives = page.locator("#chart-csat-scores-table tbody tr").nth(4).locator("td")
    return int(await fives.get_attribute("data-value") or "")


async def eventually_equal(read: Callable[[], Awaitable[int]], expected: int, tries: int) -> None:
    for _ in range(tries):
        if await read() == expected:
            return
        await asyncio.sleep(0.2)
    assert await read() == expected


async def test_an_upset_customer_who_mails_is_answered_by_a_person_by_email_and_rates_it(
    stack: Stack, mail_servers: tuple[DovecotServer, SmtpSink]
) -> None:
    dovecot, sink = mail_servers
    marker = uuid.uuid4().hex[:8]
    customer = f"zoe.{marker}@example.com"
    subject = f"Order {marker} never arrived"
    first_id = f"first-{marker}@example.com"
    new_words = (
        f"I hate this company. Worst service ever!!! Order {marker} never arrived. "
        "I want to talk to a real person please."
    )
    agent = create_account(stack, "Maria", "agent")
    owner = create_account(stack, "Olivia", "supervisor")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            board = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(board, stack.desk_url, owner)
            fives_before = await rated_fives(board, stack.desk_url)
            desk = await (await browser.new_context(viewport=LAPTOP)).new_page()
            await sign_in_page(desk, stack.desk_url, agent)
            await expect(desk.locator("#waiting-count")).to_be_visible()

            dovecot.deliver(
                MAILBOX_USER,
                customer_mail(customer, subject, f"{new_words}\n\n-- \n{SIGNATURE}", first_id),
            )
            acknowledged = await mail_to(sink, customer, saying("member of our team"))
            assert ids_in(acknowledged["In-Reply-To"]) == [first_id]
            assert first_id in ids_in(acknowledged["References"])
            assert acknowledged["Subject"] == f"Re: {subject}"
            assert acknowledged["Auto-Submitted"] == "auto-replied"  # the bot's, automatic

            waiting = desk.locator("#waiting .queue__item", has_text=marker)
            # The queue shows the strongest reason; the conversation shows them all.
            top_reason = re.compile(f"{re.escape(ASKED)}|{re.escape(UPSET)}")
            await expect(waiting.locator(".queue__reason")).to_have_text(top_reason, timeout=20_000)
            await waiting.locator("a").click()
            wrote = desk.locator("#timeline .turn--customer", has_text=marker)
            await expect(wrote.locator(".turn__subject")).to_have_text(f"Subject: {subject}")
            # The new words (what the bot read) first; the whole mail, signature and all,
            # collapsed under them.
            await expect(wrote.locator(":scope > .turn__text")).to_have_text(new_words)
            whole = wrote.locator("details.whole-email")
            await expect(whole.locator("summary")).to_have_text("Whole email")
            await expect(whole.locator(".turn__text")).not_to_be_visible()
            await whole.locator("summary").click()
            await expect(whole.locator(".turn__text")).to_contain_text("14 Mill Lane, Leeds")
            for reason in (ASKED, UPSET):
                await expect(desk.locator("#reasons")).to_contain_text(reason)
            await claim_with_shortcut(desk)

            reply = f"Hi Zoë, I'm Maria. I'm tracing order {marker} for you now."
            await desk.fill("#reply-text", reply)
            await desk.keyboard.press("Control+Enter")
            answered = await mail_to(sink, customer, saying(reply))
            assert "Auto-Submitted" not in answered  # a person wrote it
            assert first_id in ids_in(answered["References"])
            assert ids_in(answered["In-Reply-To"]) == [first_id]
            assert answered["Subject"] == f"Re: {subject}"
            assert answered["From"].addresses[0].addr_spec == SUPPORT

            await desk.click("#resolve")
            await expect(desk.locator("#ticket-status")).to_have_text("resolved")
            question = await mail_to(sink, customer, saying("from 1 (poor) to 5 (excellent)"))
            assert first_id in ids_in(question["References"])

            dovecot.deliver(
                MAILBOX_USER,
                customer_mail(
                    customer, f"Re: {subject}", "5", f"rating-{marker}@example.com", question
                ),
            )
            await mail_to(sink, customer, saying("Thank you for your rating"))
            await eventually_equal(
                lambda: rated_fives(board, stack.desk_url), fives_before + 1, tries=50
            )
        finally:
            await browser.close()
    metrics = stack.metrics_url("agent_desk")
    assert metric_total(metrics, "rapport_desk_csat_ratings_total", channel="email", score="5") >= 1
