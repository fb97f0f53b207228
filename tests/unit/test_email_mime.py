"""Reading mail as it really arrives: clients, languages, charsets, broken parts, robots."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from services.email_adapter.mime import (
    UnreadableEmailError,
    read_email,
    thread_ids,
)


def mail(headers: str, body: str | bytes, *, charset: str = "utf-8") -> bytes:
    """A raw mail: header lines (\\n-separated) and a body, with CRLF line ends."""
    head = headers.strip("\n").replace("\n", "\r\n").encode("utf-8")
    raw_body = body.encode(charset) if isinstance(body, str) else body
    return head + b"\r\n\r\n" + raw_body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


PLAIN_HEADERS = """From: Bob Baker <bob@Example.COM>
To: help@shop.example
Subject: order
Message-ID: <m1@example.com>
Date: Mon, 07 Dec 2026 10:15:00 +0100
Content-Type: text/plain; charset=utf-8"""


# --- the customer's new words, in five languages -----------------------------------------

GMAIL_EN = """hi,
my order 1234 never arived, can u check pls?

Thanks,
Bob

On Mon, Dec 7, 2026 at 10:15 AM Shop Support <help@shop.example> wrote:
> Hello Bob,
> how can we help?
"""
GMAIL_EN_WRAPPED = """still broken!! same error as yesterday

On Mon, Dec 7, 2026 at 10:15 AM Rapport Shop Support Team <
help@shop.example> wrote:

> Hello Bob,
"""
GMAIL_DE = """Hallo,
das paket ist imer noch nicht da!! was ist da los

Gruß
Anna

Am Mo., 7. Dez. 2026 um 10:15 Uhr schrieb Shop Support <help@shop.example>:
> Hallo Anna,
> danke für Ihre Nachricht.
"""
GMAIL_FR = """Bonjour,
j'ai tjrs pas recu mon colis, c'est normal ?

Cordialement
Marie

Le lun. 7 déc. 2026 à 10:15, Shop Support <help@shop.example> a écrit :
> Bonjour Marie,
"""
GMAIL_ES = """Hola,
el pedido llego roto :( quiero devolverlo

Saludos,
Juan

El lun, 7 dic 2026 a las 10:15, Shop Support (<help@shop.example>) escribió:
> Hola Juan,
"""
GMAIL_PT = """Olá,
meu pedido nao chegou ainda, ja faz 10 dias

Abs,
João

Em seg., 7 de dez. de 2026 às 10:15, Shop Support <help@shop.example> escreveu:
> Olá João,
"""
OUTLOOK_EN = """Please cancel it, I found it cheaper elswhere.

-----Original Message-----
From: Shop Support <help@shop.example>
Sent: Monday, December 7, 2026 10:15 AM
To: bob@example.com
Subject: RE: order

Hello Bob,
"""
OUTLOOK_FR = """Merci d'annuler la commande svp.

De : Shop Support <help@shop.example>
Envoyé : lundi 7 décembre 2026 10:15
À : marie@example.fr
Objet : RE: commande

Bonjour Marie,
"""
SIGNED = (  # RFC 3676's signature delimiter is "-- ", its trailing space included
    "The app crashes when I pay:\n- open the cart\n- press pay\n\n"
    "-- \nBob Baker\nACME Ltd | +44 20 7946 0000\n"
)
IPHONE = "where is my refund??\n\nSent from my iPhone\n"
OUTLOOK_MOBILE = "any news on the return? label attached\n\nSent from Outlook for Android\n"
IPHONE_DE = "Paket ist beschädigt angekommen, was nun?\n\nVon meinem iPhone gesendet\n"
IPHONE_FR = "toujours rien reçu...\n\nEnvoyé de mon iPhone\n"
IPHONE_PT = "cadê meu reembolso?\n\nEnviado do meu iPhone\n"
SAYS_MORE = "Sent from my iPhone the photo did not arrive, can you resend it?\n"


@pytest.mark.parametrize(
    ("body", "new_words"),
    [
        (GMAIL_EN, "hi,\nmy order 1234 never arived, can u check pls?"),
        (GMAIL_EN_WRAPPED, "still broken!! same error as yesterday"),
        (GMAIL_DE, "Hallo,\ndas paket ist imer noch nicht da!! was ist da los"),
        (GMAIL_FR, "Bonjour,\nj'ai tjrs pas recu mon colis, c'est normal ?"),
        (GMAIL_ES, "Hola,\nel pedido llego roto :( quiero devolverlo"),
        (GMAIL_PT, "Olá,\nmeu pedido nao chegou ainda, ja faz 10 dias"),
        (OUTLOOK_EN, "Please cancel it, I found it cheaper elswhere."),
        (OUTLOOK_FR, "Merci d'annuler la commande svp."),
        (SIGNED, "The app crashes when I pay:\n- open the cart\n- press pay"),
        (IPHONE, "where is my refund??"),
        (OUTLOOK_MOBILE, "any news on the return? label attached"),
        (IPHONE_DE, "Paket ist beschädigt angekommen, was nun?"),
        (IPHONE_FR, "toujours rien reçu..."),
        (IPHONE_PT, "cadê meu reembolso?"),
        (SAYS_MORE, SAYS_MORE.strip()),
    ],
    ids=[
        *("en", "en-wrapped", "de", "fr", "es", "pt", "outlook", "outlook-fr", "sig"),
        *("iphone", "outlook-mobile", "iphone-de", "iphone-fr", "iphone-pt", "says-more"),
    ],
)
def test_the_text_is_the_new_words_and_the_full_text_keeps_the_thread(
    body: str, new_words: str
) -> None:
    read = read_email(mail(PLAIN_HEADERS, body))

    assert read.text == new_words
    assert read.full_text == body.strip().replace("-- \n", "--\n").replace(" \n", "\n")


def test_a_line_that_starts_like_a_sign_off_but_says_more_is_kept() -> None:
    body = "Hi\nThanks, the refund arrived but the box is still here.\nWhat now?\n"

    assert read_email(mail(PLAIN_HEADERS, body)).text == body.strip()


def test_answers_between_quoted_lines_are_kept_and_the_quotes_dropped() -> None:
    body = "> What is your order number?\n12345\n> And your postcode?\nSW1A 1AA\n"

    assert read_email(mail(PLAIN_HEADERS, body)).text == "12345\nSW1A 1AA"


def test_a_mail_that_is_all_quote_keeps_its_words_rather_than_none() -> None:
    body = "> the whole thing i sent before\n> again\n"

    read = read_email(mail(PLAIN_HEADERS, body))

    assert read.text == read.full_text == body.strip()


# --- headers -------------------------------------------------------------------------------


def test_encoded_words_folded_headers_and_thread_ids_are_read() -> None:
    raw = (
        b"From: =?ISO-8859-1?Q?Andr=E9_Pirard?= <PIRARD@VM1.Ulg.AC.be>\r\n"
        b'To: help@shop.example, "Doe, Jane" <jane@example.org>\r\n'
        b"Cc: boss@example.org\r\n"
        b"Subject: =?utf-8?B?w4Agdm90cmUgc2VydmljZQ==?=\r\n =?utf-8?q?_encore?=\r\n"
        b"Message-ID:\r\n <abc.123@mail.example.be>\r\n"
        b"In-Reply-To: <p1@shop.example> (the last reply)\r\n"
        b"References: <r1@shop.example>\r\n\t<r2@shop.example> <r1@shop.example>\r\n"
        b" <p1@shop.example>\r\n"
        b"Date: Mon, 07 Dec 2026 10:15:00 +0100\r\n"
        b"Content-Language: pt-BR\r\n"
        b"\r\n"
        b"ol\xc3\xa1"
    )

    read = read_email(raw)

    assert read.sender == "PIRARD@vm1.ulg.ac.be"
    assert read.sender_name == "André Pirard"
    assert read.recipients == ("help@shop.example", "jane@example.org", "boss@example.org")
    assert read.subject == "À votre service encore"
    assert read.message_id == "abc.123@mail.example.be"
    assert read.in_reply_to == ("p1@shop.example",)
    assert read.references == ("r1@shop.example", "r2@shop.example", "p1@shop.example")
    assert thread_ids(read) == ("p1@shop.example", "r2@shop.example", "r1@shop.example")
    assert read.sent_at == datetime(2026, 12, 7, 9, 15, tzinfo=UTC)
    assert read.language == "pt"


def test_a_mail_without_message_id_gets_one_derived_from_its_bytes() -> None:
    raw = mail("From: bob@example.com\nSubject: hi", "no id here")
    other = mail("From: bob@example.com\nSubject: hi", "no id here either")

    first, again = read_email(raw), read_email(raw)

    assert first.message_id == again.message_id
    assert first.message_id != read_email(other).message_id
    assert hashlib.sha256(raw).hexdigest()[:40] in first.message_id


@pytest.mark.parametrize(
    "date", ["", "Date: not a date", "Date: Mon, 07 Dec 99999 10:15:00 +9999", "Date: 32 Foo"]
)
def test_a_missing_or_broken_date_is_none(date: str) -> None:
    assert read_email(mail(f"From: bob@example.com\n{date}", "hi")).sent_at is None


def test_a_date_without_zone_is_taken_as_utc() -> None:
    read = read_email(mail("From: bob@example.com\nDate: Mon, 07 Dec 2026 10:15:00", "hi"))

    assert read.sent_at == datetime(2026, 12, 7, 10, 15, tzinfo=UTC)


def test_ids_with_junk_or_no_brackets_are_read_as_far_as_they_go() -> None:
    headers = (
        "From: bob@example.com\nMessage-ID: <a b>\nIn-Reply-To: p1@shop.example\n"
        "References: <\x01bad@x> <good@shop.example> junk"
    )

    read = read_email(mail(headers, "hi"))

    assert read.message_id.endswith("@message-id.invalid")
    assert read.in_reply_to == ("p1@shop.example",)
    assert read.references == ("good@shop.example",)


def test_a_malformed_address_header_falls_back_to_the_raw_value() -> None:
    raw = mail('From: "unterminated <bob@example.com>\nTo: ,,, <>, @@, help@shop.example', "hi")

    read = read_email(raw)

    assert read.sender == "bob@example.com"
    assert read.recipients == ("help@shop.example",)


# --- refused mail --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b" \r\n\r\n ", "empty"),
        (b"\x00\x01\x02 plain garbage", "not_an_email"),
        (mail("Subject: hi", "no sender at all"), "no_sender"),
        (mail("From: undisclosed-recipients:;", "x"), "no_sender"),
        (mail("From: Bob <bob>", "x"), "no_sender"),
        (mail("From: <>", "x"), "no_sender"),
    ],
    ids=["empty", "blank", "garbage", "no-from", "group", "no-domain", "empty-address"],
)
def test_only_a_mail_without_a_sender_is_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(UnreadableEmailError) as refused:
        read_email(raw)

    assert refused.value.reason == reason


def test_the_sender_header_stands_in_for_an_unreadable_from() -> None:
    read = read_email(mail("From: nobody\nSender: real@example.com", "hi"))

    assert read.sender == "real@example.com"


# --- bodies, charsets, structure -----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain", b"Caf\xe9 cr\xe8me", "Café crème"),  # Latin-1, undeclared
        ("text/plain; charset=us-ascii", b"Caf\xc3\xa9", "Café"),  # UTF-8 declared as ASCII
        ("text/plain; charset=utf-8", b"Caf\xe9 \x93ok\x94", "Café “ok”"),  # cp1252 as UTF-8
        ("text/plain; charset=x-unknown", b"Caf\xc3\xa9", "Café"),  # unknown charset
        ("text/plain; charset=zlib", b"hello", "hello"),  # a codec that is not a charset
        ("text/plain; charset=iso-8859-7", b"\xc3\xe5\xe9\xdc", "Γειά"),  # declared, right
        ("text/plain; charset=utf-8", b"tab\there\x00\x1b[31m", "tab\there[31m"),  # controls
        ("text/plain; charset=utf-8", b"e\xcc\x81", "\u00e9"),  # NFC
    ],
)
def test_text_is_decoded_by_the_best_charset_and_cleaned(
    content_type: str, body: bytes, text: str
) -> None:
    raw = mail(f"From: bob@example.com\nContent-Type: {content_type}", body)

    assert read_email(raw).full_text == text


@pytest.mark.parametrize(
    ("encoding", "body", "text"),
    [
        ("base64", b"aGVsbG8gd29ybGQ!!!==\n", "hello world"),
        ("base64", b"aGVsbG8gd29ybGQ", "hello world"),  # padding missing
        ("quoted-printable", b"Caf=C3=A9 =ZZ broken=\nline", "Café =ZZ brokenline"),
        ("x-uuencode-nonsense", b"as it is", "as it is"),
    ],
)
def test_broken_transfer_encodings_are_decoded_as_far_as_they_go(
    encoding: str, body: bytes, text: str
) -> None:
    headers = (
        "From: bob@example.com\nContent-Type: text/plain; charset=utf-8\n"
        f"Content-Transfer-Encoding: {encoding}"
    )

    assert read_email(mail(headers, body)).full_text == text


def test_html_only_mail_is_turned_into_text_without_anything_run_or_fetched() -> None:
    body = (
        "<html><head><title>Order</title><style>p {color: red}</style>"
        "<script>alert('x')</script></head><body><p>Hello <b>there</b>,</p>"
        "<p>the box was <i>empty</i> &amp; torn.</p><img src='https://tracker.example/p.gif'>"
        "<noscript>enable js</noscript><blockquote type='cite'>On Mon, Shop wrote:<br>"
        "old words</blockquote></body></html>"
    )
    raw = mail("From: bob@example.com\nContent-Type: text/html; charset=utf-8", body)

    read = read_email(raw)

    assert read.full_text.startswith("Hello there,\n\nthe box was empty & torn.")
    assert "alert" not in read.full_text and "color" not in read.full_text
    assert "enable js" not in read.full_text and "Order" not in read.full_text
    assert read.text == "Hello there,\n\nthe box was empty & torn."


def nested_mail() -> bytes:
    """mixed > (alternative > (plain, related > (html, inline image)), pdf, forwarded mail)."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    return mail(
        "From: Bob <bob@example.com>\nSubject: photos\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="mixed"',
        f"""--mixed
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

See the photo, the lid is cracked.
--alt
Content-Type: multipart/related; boundary="rel"

--rel
Content-Type: text/html; charset=utf-8

<p>See the photo, the <b>lid</b> is cracked.</p><img src="cid:photo1">
--rel
Content-Type: image/png
Content-ID: <photo1>
Content-Transfer-Encoding: base64

{png}
--rel--
--alt--
--mixed
Content-Type: application/pdf; name="invoice.pdf"
Content-Disposition: attachment; filename="=?utf-8?q?Rechnung_M=C3=A4rz.pdf?="
Content-Transfer-Encoding: base64

JVBERi0xLjQK
--mixed
Content-Type: message/rfc822
Content-Disposition: attachment

From: shop@example.org
Subject: your order

The original confirmation.
--mixed
Content-Type: text/plain; name="../../etc/notes.txt"
Content-Disposition: attachment; filename="../../etc/notes.txt"

not body text
--mixed--
""",
    )


def test_nested_multiparts_give_the_plain_body_and_every_file() -> None:
    read = read_email(nested_mail())

    assert read.full_text == "See the photo, the lid is cracked."
    files = {attachment.file_name: attachment for attachment in read.attachments}
    assert set(files) == {"image.png", "Rechnung März.pdf", "message.eml", "notes.txt"}
    assert files["image.png"].inline and files["image.png"].data == b"\x89PNG\r\n\x1a\nfake"
    assert files["Rechnung März.pdf"].data == b"%PDF-1.4\n"
    assert not files["Rechnung März.pdf"].inline
    assert files["message.eml"].content_type == "message/rfc822"
    assert b"The original confirmation." in files["message.eml"].data
    assert files["notes.txt"].data.strip() == b"not body text"


def test_a_forwarded_mail_with_no_words_of_its_own_gives_its_words() -> None:
    raw = mail(
        'From: bob@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: message/rfc822\n\nFrom: x@example.org\n\nplease see this\n--b--\n",
    )

    assert read_email(raw).full_text == "please see this"


def test_an_attachment_over_the_limit_is_recorded_without_its_bytes() -> None:
    big = base64.encodebytes(b"\0" * 300_000).decode()
    raw = mail(
        'From: bob@example.com\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nsee attached\n"
        "--b\nContent-Type: video/mp4\nContent-Disposition: attachment; filename=clip.mp4\n"
        f"Content-Transfer-Encoding: base64\n\n{big}\n"
        "--b\nContent-Type: image/jpeg\nContent-Disposition: attachment; filename=a.jpg\n"
        "Content-Transfer-Encoding: base64\n\n/9j/4AAQ\n--b--\n",
    )

    read = read_email(raw, max_attachment_bytes=100_000)

    clip, photo = read.attachments
    assert (clip.file_name, clip.too_large, clip.data, clip.size) == (
        "clip.mp4",
        True,
        b"",
        300_000,
    )
    assert (photo.too_large, photo.size, photo.inline) == (False, 6, False)
    assert read.full_text == "see attached"


# --- mail written by machines --------------------------------------------------------------

OUT_OF_OFFICE = "Thank you for your message. I am out of the office until Monday."


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied", "auto_submitted"),
        ("Auto-Submitted: auto-generated; owner-email=x@example.com", "auto_submitted"),
        ("Auto-Submitted: auto-notified", "auto_submitted"),
        ("Precedence: bulk", "precedence"),
        ("Precedence: JUNK", "precedence"),
        ("Precedence: list", "precedence"),
        ("Precedence: auto_reply", "precedence"),
        ("X-Autoreply: yes", "auto_reply_header"),
        ("X-Autorespond: Out of office", "auto_reply_header"),
        ("X-Auto-Response-Suppress: All", "auto_reply_header"),
        ("X-Auto-Response-Suppress: DR, OOF", "auto_reply_header"),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent", "auto_reply_header"),
        ("Return-Path: <>", "mailer_daemon"),
    ],
)
def test_mail_written_by_a_machine_says_why(headers: str, reason: str) -> None:
    raw = mail(f"From: anna@example.com\n{headers}", OUT_OF_OFFICE)

    assert read_email(raw).automatic == reason


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: no",
        "Auto-Submitted: No (a person wrote this)",
        "Precedence: first-class",
        "X-Auto-Response-Suppress: DR, RN",
        "Return-Path: <anna@example.com>",
        "X-Mailer: Microsoft Outlook 16.0",
    ],
)
def test_mail_a_person_wrote_is_not_automatic(headers: str) -> None:
    raw = mail(f"From: anna@example.com\n{headers}", "Where is my parcel?")

    assert read_email(raw).automatic == ""


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.com"])
def test_mail_from_the_mail_system_is_a_bounce(sender: str) -> None:
    raw = mail(f"From: Mail Delivery System <{sender}>", "Your message could not be delivered.")

    assert read_email(raw).automatic == "mailer_daemon"


def test_a_delivery_status_report_is_recognised_and_still_read() -> None:
    raw = mail(
        "From: bob@example.com\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"',
        "--r\nContent-Type: text/plain\n\nDelivery to help@shop.example failed.\n"
        "--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n"
        "--r--\n",
    )

    read = read_email(raw)

    assert read.automatic == "delivery_status"
    assert read.full_text == "Delivery to help@shop.example failed."
    assert read.attachments == ()


GMAIL_HTML = (
    '<div dir="ltr">Hi,<div>the <b>zip</b> on the bag broke after 2 days.</div></div><br>'
    '<div class="gmail_quote"><div class="gmail_attr">On Mon, Dec 7, 2026 at 10:15 AM Shop '
    'Support &lt;<a href="mailto:help@shop.example">help@shop.example</a>&gt; wrote:<br></div>'
    '<blockquote class="gmail_quote">Hello Bob,<br>how can we help?</blockquote></div>'
)
OUTLOOK_HTML = (
    "<html><body><p>Bitte erstatten Sie mir den Betrag.</p>"
    '<div style="border-top:solid #E1E1E1 1.0pt"><p><b>Von:</b> Shop Support '
    "&lt;help@shop.example&gt;<br><b>Gesendet:</b> Montag, 7. Dezember 2026 10:15<br>"
    "<b>An:</b> Anna<br><b>Betreff:</b> AW: Bestellung</p></div><p>Hallo Anna</p></body></html>"
)


@pytest.mark.parametrize(
    ("html", "new_words", "quoted"),
    [
        (GMAIL_HTML, "Hi,\nthe zip on the bag broke after 2 days.", "how can we help?"),
        (OUTLOOK_HTML, "Bitte erstatten Sie mir den Betrag.", "Hallo Anna"),
    ],
    ids=["gmail", "outlook-de"],
)
def test_html_replies_lose_their_quoted_history_in_text_only(
    html: str, new_words: str, quoted: str
) -> None:
    raw = mail("From: bob@example.com\nContent-Type: text/html; charset=utf-8", html)

    read = read_email(raw)

    assert read.text == new_words
    assert read.full_text.startswith(new_words) and read.full_text.endswith(quoted)


def test_parts_written_for_mail_software_are_not_files() -> None:
    raw = mail(
        'From: bob@example.com\nContent-Type: multipart/signed; boundary="s"',
        "--s\nContent-Type: text/plain\n\nsigned words\n"
        "--s\nContent-Type: application/pgp-signature\n\n-----BEGIN PGP SIGNATURE-----\n"
        "--s\nContent-Type: text/rfc822-headers\n\nFrom: x@example.org\n--s--\n",
    )

    read = read_email(raw)

    assert (read.full_text, read.attachments) == ("signed words", ())
