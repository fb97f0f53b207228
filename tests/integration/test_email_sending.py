"""Replies by email end to end: real Kafka, the real store (SQLite), a real SMTP server.

``SendMessage`` events on a private outbound topic are consumed by the shared
``OutboundDelivery`` around :class:`EmailAdapter`, exactly as the service runs it; the
mail lands in :class:`~tests.smtp_sink.SmtpSink`, which reads it as the customer's mail
client would, and delivery reports and dead letters are read back from Kafka.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pydantic import SecretStr, ValidationError
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.email_adapter.adapter import EmailAdapter
from services.email_adapter.config import EmailSettings, Mailbox, Security
from services.email_adapter.store import EmailStore
from shared.channels.adapter import OutboundMessage, SendError, TemporarySendError
from shared.channels.outbound import OUTBOUND_EVENTS, OutboundDelivery
from shared.errors import ContractError
from shared.kafka.codec import decode, new_envelope
from shared.kafka.consumer import EventConsumer
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import DEAD_LETTER, DELIVERY
from tests.conftest import unique
from tests.kafka_helpers import create_private_topic, read_until
from tests.media_helpers import PDF, LinkedUploads
from tests.smtp_sink import Certificate, SmtpSink, make_certificate

pytestmark = pytest.mark.integration

MEDIA_KEY = "it-email-media-signing-key-0123456789"
SUPPORT, SALES = "support@shop.example", "sales@shop.example"
CUSTOMER_MAIL_ID = "first-question@mail.customer.example"
EARLIER_MAIL_ID = "earlier@mail.customer.example"
# A fresh broker takes a while to give a new consumer group its partitions.
ARRIVAL_SECONDS = 60.0


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmailStore]:
    opened = await EmailStore.open(f"sqlite:///{tmp_path / 'email.db'}")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def uploads(tmp_path: Path) -> AsyncIterator[LinkedUploads]:
    async with LinkedUploads(tmp_path / "desk", MEDIA_KEY) as served:
        yield served


@pytest.fixture
def plain_sink() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


def mailbox(sink: SmtpSink, address: str = SUPPORT, name: str = "Shop Support") -> Mailbox:
    return Mailbox(
        address=address,
        display_name=name,
        imap_host="127.0.0.1",
        imap_security=Security.NONE,
        imap_user=address,
        imap_password="unused",
        **sink.mailbox_fields(),
    )


def settings(*mailboxes: Mailbox, **more: Any) -> EmailSettings:
    fields: dict[str, Any] = {
        "http_port": 0,
        "metrics_port": 0,
        "mailboxes": mailboxes,
        "send_attempts": 3,
        "send_retry_wait_seconds": 0.05,
        "timeout_seconds": 5,
        "media_signing_key": MEDIA_KEY,
    }
    return EmailSettings(**(fields | more))


@dataclass(frozen=True, slots=True)
class Outbox:
    """Where replies for the adapter under test are published."""

    bootstrap: str
    topic: str
    publisher: EventPublisher

    async def send(self, event: messages_pb2.SendMessage) -> None:
        await self.publisher.publish(self.topic, event)


@asynccontextmanager
async def delivering(
    bootstrap: str, config: EmailSettings, store: EmailStore
) -> AsyncIterator[Outbox]:
    """The adapter consuming a private outbound topic, as the service's consumer does."""
    topic = await create_private_topic(bootstrap, partitions=1)
    adapter = EmailAdapter(config, store)
    stop = asyncio.Event()
    async with EventPublisher(bootstrap, client_id="email-sending-tests") as publisher:
        # Published before the consumer joins, so the new topic is in the broker's metadata
        # by then (a group joined without it waits minutes for a refresh); email has no
        # typing indicator, so it sends nothing for it.
        typing = messages_pb2.PreparingReply(
            envelope=new_envelope(conversation_id="warm-up", channel=envelope_pb2.CHANNEL_EMAIL)
        )
        await publisher.publish(topic, typing)
        consumer = EventConsumer(
            bootstrap=bootstrap,
            group_id=unique("email"),
            topics={topic: OUTBOUND_EVENTS},
            dead_letters=publisher,
            client_id="email-sending-tests",
        )
        delivery = OutboundDelivery(
            adapter,
            publisher,
            attempts=config.send_attempts,
            first_wait_seconds=config.send_retry_wait_seconds,
        )
        running = asyncio.create_task(consumer.run(delivery, stop))
        try:
            yield Outbox(bootstrap, topic, publisher)
        finally:
            stop.set()
            await running
            await adapter.close()


async def customer_wrote(store: EmailStore, customer: str, mailbox_address: str = SUPPORT) -> str:
    """A conversation started by ``customer``'s mail (answering an earlier one); its id."""
    conversation_id = str(uuid.uuid4())
    assert await store.remember_inbound(
        message_id=CUSTOMER_MAIL_ID,
        conversation_id=conversation_id,
        mailbox=mailbox_address,
        customer=customer,
        subject="Re: Where is my order #5?",
        references=(EARLIER_MAIL_ID,),
    )
    return conversation_id


def reply(
    customer: str,
    conversation_id: str,
    text: str = "**Hello** Ana, your order _ships_ today.",
    sender: messages_pb2.Sender = messages_pb2.SENDER_BOT,
) -> messages_pb2.SendMessage:
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id=conversation_id,
            channel=envelope_pb2.CHANNEL_EMAIL,
            customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_EMAIL, address=customer),
        ),
        text=text,
        sender=sender,
    )


def customer_address() -> str:
    return f"{unique('ana')}@customer.example"


def about(send: messages_pb2.SendMessage) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    """Delivery reports of ``send``."""

    def wanted(record: ConsumerRecord[bytes, bytes]) -> bool:
        try:
            report = decode(record.value, list(record.headers), messages_pb2.MessageDeliveryUpdated)
        except ContractError:  # another event on the shared topic
            return False
        return report.send_event_id == send.envelope.event_id

    return wanted


async def report_of(outbox: Outbox, send: messages_pb2.SendMessage) -> Any:
    [record] = await read_until(outbox.bootstrap, DELIVERY, about(send), timeout=ARRIVAL_SECONDS)
    return decode(record.value, list(record.headers), messages_pb2.MessageDeliveryUpdated)


def bodies(mail: EmailMessage) -> tuple[str, str]:
    """The plain and the HTML alternative of a mail, with the wire's CRLF line ends as LF."""
    plain, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


async def test_the_bots_reply_arrives_threaded_under_the_customers_mail(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink
) -> None:
    customer = customer_address()
    conversation_id = await customer_wrote(store, customer)
    send = reply(customer, conversation_id)
    send.quick_replies.append(messages_pb2.QuickReply(title="Track my order", payload="track"))
    config = settings(mailbox(plain_sink, SALES, "Sales"), mailbox(plain_sink, SUPPORT))
    async with delivering(kafka_bootstrap, config, store) as outbox:
        await outbox.send(send)
        [received] = await plain_sink.wait_for(1, ARRIVAL_SECONDS)
        report = await report_of(outbox, send)
    assert (received.mail_from, received.recipients) == (SUPPORT, (customer,))
    mail = received.message()
    assert mail["From"] == f"Shop Support <{SUPPORT}>" and mail["To"] == customer
    assert mail["Subject"] == "Re: Where is my order #5?"
    assert mail["In-Reply-To"] == f"<{CUSTOMER_MAIL_ID}>"
    assert mail["References"].split() == [f"<{EARLIER_MAIL_ID}>", f"<{CUSTOMER_MAIL_ID}>"]
    assert mail["Auto-Submitted"] == "auto-replied"
    plain, html = bodies(mail)
    assert plain.startswith("Hello Ana, your order ships today.\nReply 1 for Track my order.")
    assert "<strong>Hello</strong> Ana, your order <em>ships</em> today." in html
    assert report.state == messages_pb2.DELIVERY_STATE_SENT
    assert mail["Message-ID"] == f"<{report.provider_message_id}>"
    assert report.provider_message_id.endswith("@shop.example")
    # The customer's answer to the reply joins the same conversation.
    assert await store.conversation_of([report.provider_message_id]) == conversation_id


async def test_an_agents_reply_is_a_persons_mail_and_carries_the_file_attached(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink, uploads: LinkedUploads
) -> None:
    customer = customer_address()
    send = reply(customer, await customer_wrote(store, customer), "Your invoice is attached.")
    send.sender = messages_pb2.SENDER_AGENT
    send.attachments.append(
        envelope_pb2.Attachment(
            reference=await uploads.link(PDF),
            kind=envelope_pb2.ATTACHMENT_KIND_FILE,
            content_type="application/pdf",
            file_name="invoice.pdf",
        )
    )
    config = settings(mailbox(plain_sink), outbound_media_origins=[uploads.origin])
    async with delivering(kafka_bootstrap, config, store) as outbox:
        await outbox.send(send)
        [received] = await plain_sink.wait_for(1, ARRIVAL_SECONDS)
        assert (await report_of(outbox, send)).state == messages_pb2.DELIVERY_STATE_SENT
    mail = received.message()
    assert "Auto-Submitted" not in mail
    assert bodies(mail)[0].strip() == "Your invoice is attached."
    [attached] = list(mail.iter_attachments())
    assert isinstance(attached, EmailMessage)
    assert attached.get_filename() == "invoice.pdf"
    assert (attached.get_content_type(), attached.get_content()) == ("application/pdf", PDF)


async def test_a_conversation_not_started_by_email_is_a_new_thread_from_the_first_mailbox(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink
) -> None:
    customer = customer_address()
    send = reply(customer, str(uuid.uuid4()), "We tried to call you about your order.")
    config = settings(mailbox(plain_sink, SALES, "Sales"), mailbox(plain_sink, SUPPORT))
    async with delivering(kafka_bootstrap, config, store) as outbox:
        await outbox.send(send)
        [received] = await plain_sink.wait_for(1, ARRIVAL_SECONDS)
    mail = received.message()
    assert mail["From"] == f"Sales <{SALES}>" and mail["Subject"] == "Your message"
    assert "In-Reply-To" not in mail and "References" not in mail


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
async def test_a_tls_server_that_wants_a_login_gets_one_and_the_reply(
    kafka_bootstrap: str, store: EmailStore, certificate: Certificate, security: Security
) -> None:
    customer = customer_address()
    send = reply(customer, await customer_wrote(store, customer))
    with SmtpSink(security, certificate=certificate, user="support", password="s3cret") as sink:
        config = settings(mailbox(sink), ca_file=certificate.cert_file)
        async with delivering(kafka_bootstrap, config, store) as outbox:
            await outbox.send(send)
            [received] = await sink.wait_for(1, ARRIVAL_SECONDS)
            assert (await report_of(outbox, send)).state == messages_pb2.DELIVERY_STATE_SENT
    assert received.login == "support" and received.recipients == (customer,)


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.TLS])
async def test_a_wrong_password_or_an_untrusted_certificate_is_refused_for_good(
    store: EmailStore, certificate: Certificate, security: Security
) -> None:
    customer = customer_address()
    message = OutboundMessage(
        channel="email",
        address=customer,
        text="Hello",
        event_id=str(uuid.uuid4()),
        conversation_id=await customer_wrote(store, customer),
        sender="bot",
    )
    with SmtpSink(security, certificate=certificate, user="support", password="s3cret") as sink:
        wrong_password = mailbox(sink).model_copy(update={"smtp_password": SecretStr("guess")})
        adapter = EmailAdapter(settings(wrong_password, ca_file=certificate.cert_file), store)
        with pytest.raises(SendError) as refused:
            await adapter.send(message)
        assert refused.value.code == "535" and not refused.value.retriable
        untrusting = EmailAdapter(settings(mailbox(sink)), store)  # no ca_file
        with pytest.raises(SendError) as untrusted:
            await untrusting.send(message)
        assert untrusted.value.code == "tls_failed" and not untrusted.value.retriable
        assert sink.received == []


def test_a_plain_server_off_loopback_is_refused_by_the_configuration() -> None:
    with pytest.raises(ValidationError, match="smtp_security 'none' is allowed for loopback"):
        Mailbox(
            address=SUPPORT,
            imap_host="imap.shop.example",
            imap_user=SUPPORT,
            imap_password="x",
            smtp_host="smtp.shop.example",
            smtp_port=25,
            smtp_security=Security.NONE,
        )


async def test_a_server_that_is_down_fails_for_now_not_for_good(store: EmailStore) -> None:
    with SmtpSink() as sink:
        config = settings(mailbox(sink))
    adapter = EmailAdapter(config, store)  # the sink has stopped: nothing listens there
    message = OutboundMessage(
        channel="email", address=customer_address(), text="Hello", event_id=str(uuid.uuid4())
    )
    with pytest.raises(TemporarySendError):
        await adapter.send(message)


async def test_a_451_is_retried_until_the_server_takes_the_mail(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink
) -> None:
    customer = customer_address()
    plain_sink.refuse(customer, 451, times=2)
    send = reply(customer, await customer_wrote(store, customer))
    async with delivering(kafka_bootstrap, settings(mailbox(plain_sink)), store) as outbox:
        await outbox.send(send)
        [received] = await plain_sink.wait_for(1, ARRIVAL_SECONDS)
        assert (await report_of(outbox, send)).state == messages_pb2.DELIVERY_STATE_SENT
    assert plain_sink.refused == [(customer, 451), (customer, 451)]
    assert received.recipients == (customer,)


async def test_a_550_is_reported_failed_with_its_code_and_dead_lettered(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink
) -> None:
    customer = customer_address()
    plain_sink.refuse(customer, 550)
    send = reply(customer, await customer_wrote(store, customer))
    async with delivering(kafka_bootstrap, settings(mailbox(plain_sink)), store) as outbox:
        await outbox.send(send)
        report = await report_of(outbox, send)
        event_id = send.envelope.event_id.encode()
        [dead] = await read_until(
            kafka_bootstrap,
            DEAD_LETTER,
            lambda r: dict(r.headers).get("event-id") == event_id,
            timeout=ARRIVAL_SECONDS,
        )
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED and report.error_code == "550"
    assert "No such user" in report.error_message
    assert dict(dead.headers)["dead-letter-topic"] == outbox.topic.encode()
    assert plain_sink.refused == [(customer, 550)] and plain_sink.received == []


async def test_with_no_mailbox_configured_a_reply_is_dead_lettered_saying_so(
    kafka_bootstrap: str, store: EmailStore
) -> None:
    send = reply(customer_address(), str(uuid.uuid4()))
    async with delivering(kafka_bootstrap, settings(), store) as outbox:
        await outbox.send(send)
        report = await report_of(outbox, send)
        event_id = send.envelope.event_id.encode()
        [dead] = await read_until(
            kafka_bootstrap,
            DEAD_LETTER,
            lambda r: dict(r.headers).get("event-id") == event_id,
            timeout=ARRIVAL_SECONDS,
        )
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert report.error_code == "no_mailbox" and "RAPPORT_EMAIL_MAILBOXES" in report.error_message
    assert b"RAPPORT_EMAIL_MAILBOXES" in dict(dead.headers)["dead-letter-error"]


async def test_a_redelivered_reply_is_mailed_once_and_a_resent_one_keeps_its_message_id(
    kafka_bootstrap: str, store: EmailStore, plain_sink: SmtpSink
) -> None:
    customer = customer_address()
    conversation_id = await customer_wrote(store, customer)
    send = reply(customer, conversation_id, "Once only.")
    after = reply(customer, conversation_id, "And then this.")
    config = settings(mailbox(plain_sink))
    async with delivering(kafka_bootstrap, config, store) as outbox:
        for event in (send, send, after):  # one conversation: handled in this order
            await outbox.send(event)
        await plain_sink.wait_for(2, ARRIVAL_SECONDS)
        await asyncio.sleep(0.5)  # time enough for a third mail, were there one
    mails = [mail.message() for mail in plain_sink.received]
    assert [bodies(mail)[0].strip() for mail in mails] == ["Once only.", "And then this."]
    # After a restart the same event may be sent again: the customer's client sees the
    # same Message-ID and shows the mail once.
    message = OutboundMessage(
        channel="email",
        address=customer,
        text="Once only.",
        event_id=send.envelope.event_id,
        conversation_id=conversation_id,
        sender="bot",
    )
    restarted = EmailAdapter(config, store)
    receipt = await restarted.send(message)
    [*_, resent] = await plain_sink.wait_for(3, ARRIVAL_SECONDS)
    assert resent.message()["Message-ID"] == mails[0]["Message-ID"]
    assert f"<{receipt.provider_message_id}>" == mails[0]["Message-ID"]


@pytest.mark.parametrize("address", ["", "ana", "ana@customer.example\r\nBcc: all@x.example"])
async def test_a_reply_to_what_is_not_an_address_is_refused_for_good(
    store: EmailStore, plain_sink: SmtpSink, address: str
) -> None:
    adapter = EmailAdapter(settings(mailbox(plain_sink)), store)
    message = OutboundMessage(
        channel="email", address=address, text="Hello", event_id=str(uuid.uuid4())
    )
    with pytest.raises(SendError) as refused:
        await adapter.send(message)
    assert refused.value.code == "bad_address" and not refused.value.retriable
    assert plain_sink.received == []


async def test_a_server_without_the_starttls_the_mailbox_requires_is_refused_for_good(
    store: EmailStore, plain_sink: SmtpSink
) -> None:
    expecting_tls = mailbox(plain_sink).model_copy(update={"smtp_security": Security.STARTTLS})
    adapter = EmailAdapter(settings(expecting_tls), store)
    message = OutboundMessage(
        channel="email", address=customer_address(), text="Hello", event_id=str(uuid.uuid4())
    )
    with pytest.raises(SendError) as refused:
        await adapter.send(message)  # never in clear when the mailbox says STARTTLS
    assert refused.value.code == "smtp_unsupported" and not refused.value.retriable
    assert plain_sink.received == []
