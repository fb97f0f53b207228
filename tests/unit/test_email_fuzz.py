"""Mail of any shape: ``read_email`` reads it or says it has no sender, and nothing else.

Broken headers, charsets and transfer encodings, nested multiparts with missing
boundaries, long lines, random bytes and real-looking mails mutated byte by byte. A mail
with a usable From is always read, into clean text and well-formed ids; a composed reply
reads back as it was written.
"""

from __future__ import annotations

import random
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.email_adapter.compose import ThreadHeaders, compose_email, plain_text
from services.email_adapter.mime import ReadEmail, UnreadableEmailError, read_email
from tests.edge_strategies import WORD, assert_clean
from tests.unit.test_email_mime import GMAIL_DE, GMAIL_PT, OUTLOOK_FR, mail, nested_mail

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIMIT = 2_000
SENDER = "From: Bob <bob@example.com>"
REFUSALS = {"empty", "not_an_email", "no_sender"}

HEADER_NAMES = st.sampled_from(
    [
        "Subject", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References",
        "Content-Type", "Content-Transfer-Encoding", "Content-Disposition",
        "Content-Language", "Auto-Submitted", "Precedence", "Return-Path", "Sender",
        "MIME-Version", "X-Auto-Response-Suppress",
    ]
)  # fmt: skip
HEADER_PIECES = st.sampled_from(
    [
        "=?utf-8?B?w4A=?=", "=?utf-8?q?broken", "=?x-unknown?q?abc?=", "=?utf-8?B?!!!?=",
        "<a@b>", "<", ">", "<>", '"', "(", ")", ";", ",", ":", "@", "\\", "=?", "?=",
        "text/plain; charset=", "multipart/mixed; boundary=", 'filename*=utf-8\'\'%E2%82',
        "\r\n ", "\r\n\t", "\n", "\r", "\x00", "\x80", "é", "Mon, 07 Dec 2026", "+9999",
        "base64", "quoted-printable", "name*0*=", "*1=", "''", "%", "%FF", "*=", "=\"",
    ]
)  # fmt: skip
HEADER_VALUES = st.lists(st.one_of(HEADER_PIECES, st.text(max_size=12)), max_size=8).map("".join)
CHARSETS = st.sampled_from(
    ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-16", "x-unknown", "zlib", "", "utf-7"]
)
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-junk"])
LEAF_TYPES = st.sampled_from(
    ["text/plain", "text/html", "image/png", "application/pdf", "message/rfc822", "text/x-odd"]
)
MULTIPART_TYPES = st.sampled_from(
    ["multipart/mixed", "multipart/alternative", "multipart/related", "multipart/report"]
)


def header_line(name: str, value: str) -> bytes:
    return f"{name}: {value}".encode("utf-8", "surrogatepass")


def leaf(content_type: str, charset: str, encoding: str, body: bytes, named: bool) -> bytes:
    disposition = "Content-Disposition: attachment; filename=f.bin\r\n" if named else ""
    return (
        f"Content-Type: {content_type}; charset={charset}\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n{disposition}\r\n"
    ).encode() + body


LEAVES = st.builds(leaf, LEAF_TYPES, CHARSETS, ENCODINGS, st.binary(max_size=200), st.booleans())


def multipart(content_type: str, boundary: str, children: list[bytes], closed: bool) -> bytes:
    head = f'Content-Type: {content_type}; boundary="{boundary}"\r\n\r\n'.encode()
    delimiter = f"\r\n--{boundary}\r\n".encode()
    end = f"\r\n--{boundary}--\r\n".encode() if closed else b""
    return head + b"".join(delimiter + child for child in children) + end


BOUNDARIES = st.text("abcXYZ019'()+_,-./:=? ", min_size=1, max_size=12)
TREES = st.recursive(
    LEAVES,
    lambda inner: st.builds(
        multipart, MULTIPART_TYPES, BOUNDARIES, st.lists(inner, max_size=4), st.booleans()
    ),
    max_leaves=8,
)


def assert_well_formed(read: ReadEmail) -> None:
    """What every reader of ``ReadEmail`` relies on, whatever the mail was."""
    for text in (read.text, read.full_text, read.subject, read.sender_name):
        assert_clean(text)
    assert "\n" not in read.subject and "\n" not in read.sender_name
    for message_id in (read.message_id, *read.in_reply_to, *read.references):
        assert message_id and message_id.isprintable()
        assert not set(message_id) & set("<> \t")
    local, _, domain = read.sender.rpartition("@")
    assert local and domain == domain.lower() and "@" not in local
    assert read.sent_at is None or read.sent_at.tzinfo is UTC
    assert all(len(attachment.data) <= LIMIT for attachment in read.attachments)
    assert all(attachment.too_large == (attachment.size > LIMIT) for attachment in read.attachments)


def read_or_refuse(raw: bytes) -> ReadEmail | None:
    """The mail read and checked, or None when it was refused for a reason it can have."""
    try:
        read = read_email(raw, max_attachment_bytes=LIMIT)
    except UnreadableEmailError as refused:
        assert refused.reason in REFUSALS
        return None
    assert_well_formed(read)
    return read


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_read_or_refused(raw: bytes) -> None:
    read_or_refuse(raw)


@FUZZ
@given(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=8), st.binary(max_size=200))
def test_malformed_headers_never_lose_a_usable_sender(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    raw = b"\r\n".join([SENDER.encode(), *(header_line(n, v) for n, v in headers)])

    read = read_or_refuse(raw + b"\r\n\r\n" + body)

    assert read is not None and read.sender == "bob@example.com"


@FUZZ
@given(TREES, WORD)
def test_nested_multiparts_and_broken_encodings_are_read(tree: bytes, word: str) -> None:
    raw = f"{SENDER}\r\nSubject: {word}\r\nMIME-Version: 1.0\r\n".encode() + tree

    read = read_or_refuse(raw)

    assert read is not None and read.subject == word


@FUZZ
@given(st.integers(1, 60_000), st.sampled_from(["x", "é", "> ", "-", "On wrote: ", "\t"]))
def test_huge_lines_are_read(length: int, piece: str) -> None:
    read = read_or_refuse(mail(SENDER, piece * (length // len(piece))))

    assert read is not None and read.full_text == read.full_text.strip()


SEEDS = [nested_mail(), mail(SENDER, GMAIL_DE), mail(SENDER, GMAIL_PT), mail(SENDER, OUTLOOK_FR)]


@FUZZ
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False), st.integers(1, 12))
def test_mutated_real_mails_are_read_or_refused(
    seed: bytes, rng: random.Random, mutations: int
) -> None:
    raw = bytearray(seed)
    for _ in range(mutations):
        at = rng.randrange(len(raw) + 1)
        action = rng.choice(["flip", "delete", "insert", "duplicate"])
        if action == "flip" and at < len(raw):
            raw[at] = rng.randrange(256)
        elif action == "delete":
            del raw[at : at + rng.randrange(1, 40)]
        elif action == "insert":
            raw[at:at] = rng.choice([b"\r\n", b"--", b"=", b"\x00", b"\xff", b"<", b"\r\n\r\n"])
        else:
            raw[at:at] = raw[at : at + rng.randrange(1, 200)]

    read_or_refuse(bytes(raw))


VOICE_WORDS = st.one_of(WORD, WORD.map(lambda w: f"**{w}**"), WORD.map(lambda w: f"_{w}_"))
VOICE_LINES = st.lists(VOICE_WORDS, min_size=1, max_size=6).map(" ".join)
VOICE_TEXT = st.lists(
    st.lists(VOICE_LINES, min_size=1, max_size=3).map("\n".join), min_size=1, max_size=3
).map("\n\n".join)
IDS = st.builds("{}.{}@example.com".format, WORD, st.integers(0, 10**6))


@FUZZ
@given(VOICE_TEXT, st.text(max_size=40), IDS, st.lists(IDS, max_size=30), IDS, st.text(max_size=20))
def test_a_composed_reply_reads_back_with_its_text_ids_and_subject(
    text: str,
    subject: str,
    in_reply_to: str,
    references: list[str],
    message_id: str,
    sender_name: str,
) -> None:
    thread = ThreadHeaders(subject, in_reply_to, tuple(references))
    composed = compose_email(
        sender="help@shop.example",
        sender_name=sender_name,
        recipient="bob@example.com",
        text=text,
        thread=thread,
        message_id=message_id,
        automatic=False,
    )

    read = read_email(composed.as_bytes())

    assert read.full_text == read.text == plain_text(text).strip()
    assert read.message_id == message_id
    assert read.in_reply_to == (in_reply_to,)
    assert read.references[-1] == in_reply_to and len(read.references) <= 20
    assert read.subject == str(composed["Subject"])
    assert read.sender == "help@shop.example"
    assert read.automatic == ""
