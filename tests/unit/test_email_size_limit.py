"""A mail over the mailbox's size limit: its headers published with a note, never dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from rapport.events.v1 import messages_pb2

from services.email_adapter.config import EmailSettings
from services.email_adapter.intake import EmailIntake, Outcome, attachment_store, oversized_note
from services.email_adapter.store import EmailStore
from shared.kafka.topics import INBOUND
from tests.unit.test_email_reading import PLACE, FakeKafka

MB = 1024 * 1024
HEADER = (
    b"From: Ana Lima <ana@Customer.example>\r\n"
    b"To: support@shop.example\r\n"
    b"Subject: The video of the broken drone\r\n"
    b"Message-ID: <big-1@customer.example>\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
)


@pytest.fixture
def kafka() -> FakeKafka:
    return FakeKafka()


@pytest.fixture
async def intake(tmp_path: Path, kafka: FakeKafka) -> AsyncIterator[EmailIntake]:
    store = await EmailStore.open(f"sqlite:///{tmp_path / 'email.db'}")
    uploads = attachment_store(EmailSettings(media_dir=tmp_path / "media"))
    yield EmailIntake(store, kafka, uploads, group="test")
    await store.close()


def test_the_note_says_how_large_the_mail_was_and_where_to_open_it() -> None:
    assert oversized_note(73 * MB + MB // 2, 50 * MB) == (
        "[The email was 73.5 MB, over the 50 MB this mailbox takes; open it in the mailbox]"
    )


def test_the_mail_limit_is_50_mb_and_must_hold_an_attachment() -> None:
    assert EmailSettings().max_mail_bytes == 50 * MB
    with pytest.raises(ValidationError, match="max_mail_bytes"):
        EmailSettings(max_mail_bytes=10 * MB, max_attachment_bytes=10 * MB)


async def test_an_oversized_mail_is_published_from_its_headers_once(
    intake: EmailIntake, kafka: FakeKafka
) -> None:
    taken = await intake.take_oversized(HEADER, PLACE, size_bytes=80 * MB, limit_bytes=50 * MB)
    again = await intake.take_oversized(HEADER, PLACE, size_bytes=80 * MB, limit_bytes=50 * MB)

    assert (taken, again) == (Outcome.PUBLISHED, Outcome.DUPLICATE)
    [(topic, event)] = kafka.events
    assert isinstance(event, messages_pb2.MessageReceived)
    note = oversized_note(80 * MB, 50 * MB)
    assert topic == INBOUND
    assert (event.text, event.full_text) == ("", note)  # the bot reads no words from it
    (unread,) = event.attachments  # the mail itself, for a person to open in the mailbox
    assert (unread.reference, unread.content_type) == ("", "message/rfc822")
    assert (unread.file_name, unread.size_bytes) == ("The video of the broken drone.eml", 80 * MB)
    assert event.subject == "The video of the broken drone"
    assert event.envelope.customer.address == "ana@customer.example"
    assert event.provider_message_id == "big-1@customer.example"
    assert not kafka.raw  # never a dead letter


async def test_an_oversized_auto_reply_is_still_left_unanswered(
    intake: EmailIntake, kafka: FakeKafka
) -> None:
    header = HEADER.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    taken = await intake.take_oversized(header, PLACE, size_bytes=60 * MB, limit_bytes=50 * MB)
    assert taken is Outcome.AUTOMATIC
    assert not kafka.events
