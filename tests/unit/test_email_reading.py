"""Reading a mailbox without servers: fetch batches, IDLE's news, bounded texts, and the
intake's order of work (Kafka first, then the store) with a fake broker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from services.email_adapter import intake as intake_module
from services.email_adapter.config import EmailSettings
from services.email_adapter.imap import ends_idle, fetch_batches
from services.email_adapter.intake import (
    EmailIntake,
    MailPlace,
    Outcome,
    attachment_store,
    bounded,
    not_kept_note,
)
from services.email_adapter.parts import EmailAttachment
from services.email_adapter.store import EmailStore
from shared.errors import DependencyUnavailableError
from shared.kafka.codec import Headers
from shared.kafka.topics import DEAD_LETTER, INBOUND


@given(
    st.dictionaries(st.integers(1, 10_000), st.integers(0, 3_000), max_size=60),
    st.integers(1, 5_000),
    st.integers(1, 8),
)
def test_batches_keep_uid_order_and_stay_within_limits_unless_one_mail_is_larger(
    sizes: dict[int, int], max_bytes: int, max_mails: int
) -> None:
    batches = fetch_batches(sizes, max_bytes=max_bytes, max_mails=max_mails)
    assert [uid for batch in batches for uid in batch] == sorted(sizes)
    for batch in batches:
        assert 1 <= len(batch) <= max_mails
        assert len(batch) == 1 or sum(sizes[uid] for uid in batch) <= max_bytes


def test_a_huge_mail_comes_alone_between_small_ones() -> None:
    sizes = {1: 10, 2: 20, 3: 50_000_000, 4: 10}
    assert fetch_batches(sizes, max_bytes=1000) == [[1, 2], [3], [4]]


def test_idle_ends_for_new_mail_or_a_goodbye_not_for_keepalives() -> None:
    assert ends_idle([(3, b"EXISTS")])
    assert ends_idle([(b"OK", b"Still here"), (4, b"RECENT"), (4, b"EXISTS")])
    assert ends_idle([(b"BYE", b"Server shutting down.")])
    assert not ends_idle([(b"OK", b"Still here")])
    assert not ends_idle([(2, b"EXPUNGE"), (1, b"FETCH", (b"FLAGS", ()))])
    assert not ends_idle([])


def test_a_long_text_is_cut_and_says_where_the_rest_is() -> None:
    assert bounded("short", 100) == "short"
    cut = bounded("x" * 1000, 200)
    assert len(cut) <= 200
    assert cut.startswith("x" * 100)
    assert cut.endswith("[… 900 more characters are in the mail in the mailbox]")


def test_a_file_not_kept_is_named_with_its_type_size_and_reason() -> None:
    attachment = EmailAttachment("plan.docx", "application/msword", b"", False, True, 30_000_000)
    assert not_kept_note(attachment, "too large") == (
        "[Attachment not kept: plan.docx (application/msword, 30000000 bytes): too large]"
    )
    nameless = EmailAttachment("", "application/zip", b"PK", False)
    assert not_kept_note(nameless, "refused").startswith("[Attachment not kept: unnamed file")


@dataclass
class FakeKafka:
    """Takes events, or refuses them all while ``down``."""

    down: bool = False
    events: list[tuple[str, Message]] = field(default_factory=list)
    raw: list[tuple[str, bytes | None, bytes | None, Headers]] = field(default_factory=list)

    async def publish(self, topic: str, event: Message) -> None:
        if self.down:
            raise DependencyUnavailableError("the broker is down")
        self.events.append((topic, event))

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        self.raw.append((topic, key, value, headers))


PLACE = MailPlace("support@shop.example", "INBOX", 7, 42)
RAW = b"From: Ana <ana@customer.example>\r\nMessage-ID: <m1@customer.example>\r\n\r\nHello\r\n"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmailStore]:
    opened = await EmailStore.open(f"sqlite:///{tmp_path / 'email.db'}")
    yield opened
    await opened.close()


def intake_of(store: EmailStore, kafka: FakeKafka, tmp_path: Path) -> EmailIntake:
    settings = EmailSettings(media_dir=tmp_path / "media")
    return EmailIntake(store, kafka, attachment_store(settings), group="email-test")


async def test_a_mail_is_remembered_only_once_kafka_has_it(
    store: EmailStore, tmp_path: Path
) -> None:
    kafka = FakeKafka(down=True)
    intake = intake_of(store, kafka, tmp_path)
    with pytest.raises(DependencyUnavailableError):
        await intake.take(RAW, PLACE)
    assert await store.conversation_of(["m1@customer.example"]) is None  # read again later

    kafka.down = False
    assert await intake.take(RAW, PLACE) is Outcome.PUBLISHED
    assert await intake.take(RAW, PLACE) is Outcome.DUPLICATE
    [(topic, event)] = kafka.events
    assert topic == INBOUND and event.text == "Hello"


async def test_a_mail_the_parser_trips_on_is_dead_lettered_and_the_mailbox_moves_on(
    store: EmailStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(raw: bytes, *, max_attachment_bytes: int) -> None:
        raise ValueError("a case nobody foresaw")

    monkeypatch.setattr(intake_module, "read_email", broken)
    kafka = FakeKafka()
    assert await intake_of(store, kafka, tmp_path).take(RAW, PLACE) is Outcome.UNREADABLE
    [(topic, key, value, headers)] = kafka.raw
    assert (topic, key, value) == (DEAD_LETTER, b"support@shop.example", RAW)
    error = dict(headers)["dead-letter-error"].decode()
    assert error.startswith("parse_failed: ValueError: a case nobody foresaw")
    assert "imap:support@shop.example/INBOX[7]@42" in error
    assert kafka.events == []
