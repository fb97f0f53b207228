"""What the desk keeps of a customer's message beyond the words the context service
stores: an email's subject on one line and its whole text when it says more."""

from __future__ import annotations

from datetime import UTC, datetime

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.agent_desk.whole_emails import whole_email_row, whole_text
from shared.kafka.codec import new_envelope

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def received(text: str, full_text: str = "", subject: str = "") -> messages_pb2.MessageReceived:
    return messages_pb2.MessageReceived(
        envelope=new_envelope(
            conversation_id="email:conv-1",
            channel=envelope_pb2.CHANNEL_EMAIL,
            customer=envelope_pb2.CustomerRef(customer_id="customer-1"),
        ),
        text=text,
        full_text=full_text,
        subject=subject,
    )


def test_an_email_with_quotes_keeps_its_whole_text_and_its_subject_on_one_line() -> None:
    event = received(
        "Still nothing.", "Still nothing.\n\n> On Monday you wrote:\n> soon", "Re:\n  parcel"
    )
    event.envelope.occurred_at.FromDatetime(NOW)
    row = whole_email_row(event, datetime(2030, 1, 1, tzinfo=UTC))
    assert row is not None
    assert (row.event_id, row.conversation_id, row.customer_id) == (
        event.envelope.event_id,
        "email:conv-1",
        "customer-1",
    )
    assert row.subject == "Re: parcel"
    assert row.full_text == "Still nothing.\n\n> On Monday you wrote:\n> soon"
    assert row.received_at == NOW  # when the customer wrote, not when it was read


def test_a_message_that_is_all_its_new_words_keeps_nothing() -> None:
    for event in (received("Hello"), received("Hello", "Hello\n"), received("Hi", " ")):
        assert whole_text(event) == ""
        assert whole_email_row(event, NOW) is None


def test_a_subject_alone_is_kept_and_a_missing_time_is_taken_as_now() -> None:
    event = received("Hello", "Hello", "Order 7731")
    event.envelope.ClearField("occurred_at")
    row = whole_email_row(event, NOW)
    assert row is not None
    assert (row.subject, row.full_text, row.received_at) == ("Order 7731", "", NOW)
