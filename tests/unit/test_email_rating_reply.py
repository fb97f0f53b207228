"""A customer answering the rating question by email is read as a rating, as on SMS: the
orchestrator reads the message's ``text``, which for an email is the customer's new words
only, so the quoted question and the signature under the score do not hide it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.email_adapter.mime import read_email
from services.orchestrator.ratings import Rating, Scale, read_score
from shared.voice.replies import VOICE

QUESTION = VOICE.rating_question("en", nps=False)
HEADERS = """From: Zoe Quill <zoe@example.com>
To: help@shop.example
Subject: Re: Where is my parcel?
Message-ID: <rating-reply@example.com>
In-Reply-To: <question@shop.example>
Date: Mon, 07 Dec 2026 10:15:00 +0000
MIME-Version: 1.0"""


def mail(content_type: str, body: str) -> bytes:
    head = f"{HEADERS}\nContent-Type: {content_type}; charset=utf-8"
    return (head + "\n\n" + body).replace("\n", "\r\n").encode("utf-8")


def gmail_reply(answer: str) -> bytes:
    return mail(
        "text/plain",
        f"{answer}\n\nOn Mon, 7 Dec 2026 at 10:00, Shop <help@shop.example> wrote:\n> {QUESTION}\n",
    )


def outlook_reply(answer: str) -> bytes:
    return mail(
        "text/plain",
        f"{answer}\n\n________________________________\n"
        "From: Shop <help@shop.example>\nSent: Monday, 7 December 2026 10:00\n"
        f"To: zoe@example.com\nSubject: Where is my parcel?\n\n{QUESTION}\n",
    )


def html_reply(answer: str) -> bytes:
    return mail(
        "text/html",
        f"<html><body><div>{answer}</div><br><div class=gmail_quote>"
        "<div>On Mon, 7 Dec 2026 at 10:00, Shop &lt;help@shop.example&gt; wrote:</div>"
        f"<blockquote>{QUESTION}</blockquote></div></body></html>",
    )


def signed_reply(answer: str) -> bytes:
    return mail("text/plain", f"{answer}\n\n-- \nZoe Quill\nLeeds\n\n> {QUESTION}\n")


@pytest.mark.parametrize("reply", [gmail_reply, outlook_reply, html_reply, signed_reply])
@pytest.mark.parametrize(
    ("answer", "rating"),
    [
        ("5", Rating(5, "")),
        ("5 - great", Rating(5, "great")),
        ("2/5 too slow", Rating(2, "too slow")),
    ],
)
def test_a_rating_answered_by_email_is_read_from_the_new_words(
    reply: Callable[[str], bytes], answer: str, rating: Rating
) -> None:
    email = read_email(reply(answer))
    assert read_score(email.text, Scale.CSAT_5) == rating


def test_an_email_that_only_quotes_the_question_is_no_rating() -> None:
    email = read_email(gmail_reply("Sorry, which order do you mean?"))
    assert read_score(email.text, Scale.CSAT_5) is None
