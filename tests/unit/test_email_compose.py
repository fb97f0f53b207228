"""Writing reply mails: alternatives from the same words, threading, marks, stable ids."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from services.email_adapter.compose import (
    MAX_REFERENCES,
    ThreadHeaders,
    compose_email,
    outbound_message_id,
    reply_subject,
    thread_references,
)
from services.email_adapter.mime import EmailAttachment, read_email

THREAD = ThreadHeaders(
    subject="Where is my order?",
    in_reply_to="c2@example.com",
    references=("c1@example.com", "r1@shop.example"),
)


def reply(
    text: str = "Hi Bob,\n\nyour parcel left today.",
    *,
    thread: ThreadHeaders | None = THREAD,
    automatic: bool = True,
    attachment: EmailAttachment | None = None,
    sender_name: str = "Shop Support",
) -> EmailMessage:
    return compose_email(
        sender="help@shop.example",
        sender_name=sender_name,
        recipient="bob@example.com",
        text=text,
        thread=thread,
        message_id="rapport.1@shop.example",
        automatic=automatic,
        attachment=attachment,
    )


def sent(mail: EmailMessage) -> EmailMessage:
    """The mail as a receiving client parses it off the wire."""
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def bodies(mail: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in mail.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }


def test_the_reply_is_threaded_dated_and_marked_automatic() -> None:
    mail = sent(reply())

    assert mail["From"] == "Shop Support <help@shop.example>"
    assert mail["To"] == "bob@example.com"
    assert mail["Subject"] == "Re: Where is my order?"
    assert mail["Message-ID"] == "<rapport.1@shop.example>"
    assert mail["In-Reply-To"] == "<c2@example.com>"
    assert mail["References"] == "<c1@example.com> <r1@shop.example> <c2@example.com>"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Date"].datetime is not None
    assert mail.get_content_type() == "multipart/alternative"


def test_an_agents_reply_is_not_marked_automatic() -> None:
    assert sent(reply(automatic=False))["Auto-Submitted"] is None


def test_without_a_thread_the_mail_has_a_default_subject_and_no_threading() -> None:
    mail = sent(reply(thread=None))

    assert mail["Subject"] == "Your message"
    assert mail["In-Reply-To"] is None and mail["References"] is None


def test_plain_and_html_say_the_same_words_with_marks_rendered_and_escaped() -> None:
    text = "Hi **Bob** & <family>,\n\nyour _order_ order_id_7 is\non its way.\n\n\n**Shop**"

    parts = bodies(sent(reply(text)))

    assert parts["text/plain"] == (
        "Hi Bob & <family>,\n\nyour order order_id_7 is\non its way.\n\n\nShop\n"
    )
    html = parts["text/html"]
    assert "<strong>Bob</strong> &amp; &lt;family&gt;," in html
    assert "your <em>order</em> order_id_7 is<br>\non its way." in html
    assert html.count("<p ") == 3 and "<family>" not in html
    assert html.startswith("<!DOCTYPE html>")


def test_a_non_ascii_display_name_is_encoded_and_read_back() -> None:
    mail = reply(sender_name="Zoë's Café, Ltd")

    assert b"Zo\xc3\xab" not in mail.as_bytes().split(b"\n\n")[0]
    assert sent(mail)["From"].addresses[0].display_name == "Zoë's Café, Ltd"


def test_the_attachment_is_a_proper_attachment_part() -> None:
    pdf = EmailAttachment("label März.pdf", "application/pdf", b"%PDF-1.4\n", False)

    mail = sent(reply(attachment=pdf))

    assert mail.get_content_type() == "multipart/mixed"
    (part,) = list(mail.iter_attachments())
    assert part.get_filename() == "label März.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.4\n"


@pytest.mark.parametrize("content_type", ["", "nonsense", "multipart/mixed", "a/b/c"])
def test_an_attachment_of_no_usable_type_goes_as_octet_stream(content_type: str) -> None:
    odd = EmailAttachment("file", content_type, b"\x00\x01", False)

    (part,) = list(sent(reply(attachment=odd)).iter_attachments())

    assert part.get_content_type() == "application/octet-stream"
    assert part.get_content() == b"\x00\x01"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Where is my order?", "Re: Where is my order?"),
        ("Re: Where is my order?", "Re: Where is my order?"),
        ("RE: re:  AW: Sv: Where is my order?", "Re: Where is my order?"),
        ("Re[2]: Where", "Re: Where"),
        ("Fwd: Where", "Re: Fwd: Where"),
        ("Return policy", "Re: Return policy"),
        ("Re:", "Re: Your message"),
        ("", "Your message"),
    ],
)
def test_the_subject_is_re_once(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_references_end_with_in_reply_to_without_repeats() -> None:
    thread = ThreadHeaders("s", "b@x", ("a@x", "b@x", "a@x", "c@x"))

    assert thread_references(thread) == ("a@x", "c@x", "b@x")


def test_long_references_keep_the_root_and_the_latest() -> None:
    ids = tuple(f"m{number}@x" for number in range(50))
    thread = ThreadHeaders("s", "last@x", ids)

    references = thread_references(thread)

    assert len(references) == MAX_REFERENCES
    assert references[0] == "m0@x" and references[-1] == "last@x"
    assert references[1:-1] == ids[-(MAX_REFERENCES - 2) :]


def test_no_in_reply_to_keeps_the_references_alone() -> None:
    assert thread_references(ThreadHeaders("s", "", ("a@x",))) == ("a@x",)


def test_the_outbound_id_is_stable_per_event_and_distinct_between_events() -> None:
    first = outbound_message_id("8a6e0804-2bd0-4672-b79d-d97027f9071b", "Shop.Example")

    assert first == outbound_message_id("8a6e0804-2bd0-4672-b79d-d97027f9071b", "shop.example")
    assert first != outbound_message_id("0c7b9b36-0c4f-4ab4-9a7e-4e4f0c1c6f05", "shop.example")
    assert first.startswith("rapport.") and first.endswith("@shop.example")


def test_a_composed_reply_reads_back_as_it_was_written() -> None:
    pdf = EmailAttachment("label.pdf", "application/pdf", b"%PDF-1.4\n", False)
    mail = reply("Hello **Bob**,\n\nhere is _your_ label.", attachment=pdf, sender_name="Zoë")

    read = read_email(mail.as_bytes())

    assert read.message_id == "rapport.1@shop.example"
    assert read.in_reply_to == ("c2@example.com",)
    assert read.references == ("c1@example.com", "r1@shop.example", "c2@example.com")
    assert (read.sender, read.sender_name) == ("help@shop.example", "Zoë")
    assert read.subject == "Re: Where is my order?"
    assert read.full_text == "Hello Bob,\n\nhere is your label."
    assert read.automatic == "auto_submitted"
    assert [(a.file_name, a.data) for a in read.attachments] == [("label.pdf", b"%PDF-1.4\n")]
