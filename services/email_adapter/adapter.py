"""Sending replies by email: one mail per reply, in the customer's thread, over SMTP.

Mail arrives over IMAP (``intake``), not webhooks, so the email channel is a
:class:`~shared.channels.adapter.ChannelSender` only. A reply goes out from the mailbox
the customer wrote to, threaded under the customer's last mail (``EmailStore.thread``);
a conversation that did not start by email is answered from the first mailbox, as a
new thread. Its Message-ID derives from the reply's event id, so a retried send carries
the same id and the customer's client shows it once; the id is recorded before the send,
so the customer's answer to it joins the conversation even if the process stops right
after sending. The bot's (and the system's) mails say they are automatic (RFC 3834):
only an agent's reply is a person's mail.

SMTP answers become the shared send errors: 4xx replies, refused connections and
timeouts are :class:`TemporarySendError` (retried by ``OutboundDelivery``); 5xx replies
are :class:`SendError` with the SMTP code as ``code``, as are TLS failures (an untrusted
certificate stays untrusted however often it is tried).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy.exc import SQLAlchemyError

from services.email_adapter.compose import ThreadHeaders, compose_email, outbound_message_id
from services.email_adapter.config import EmailSettings, Mailbox, Security
from services.email_adapter.parts import EmailAttachment
from services.email_adapter.store import EmailStore, OutboundThread
from shared.channels.adapter import (
    Capabilities,
    ChannelSender,
    DeliveryReceipt,
    Formatting,
    OutboundMessage,
    SendError,
    TemporarySendError,
)
from shared.channels.media import OutgoingMedia, file_name_for, media_fetcher
from shared.channels.registry import ChannelSpec

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    max_text_chars=20_000,
    # Kept as written: composing the mail turns the voice's Markdown subset into the
    # plain and HTML alternatives.
    formatting=Formatting.MARKDOWN,
    max_quick_replies=0,  # no buttons in a mail: quick replies become numbered options
    media=True,  # an agent's file, attached (one per reply)
    max_caption_chars=20_000,  # the text with a file is the mail's body, not a caption
)
PERSON_SENDERS = frozenset({"agent"})
"""``OutboundMessage.sender`` values whose mails a person wrote; any other sender (the
bot, the system, or one unsaid) is marked automatic, so auto-responders never answer it."""

CHANNEL = ChannelSpec(
    name="email",
    service="email_adapter",
    label="Email",
    routes=(),  # mail is read over IMAP: no webhooks
    settings=EmailSettings,
    capabilities=lambda: CAPABILITIES,
)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a reply goes: from which mailbox, to whom, in which thread (None: a new one)."""

    mailbox: Mailbox
    recipient: str
    thread: ThreadHeaders | None


def route_reply(
    message: OutboundMessage, thread: OutboundThread | None, mailboxes: tuple[Mailbox, ...]
) -> Route:
    """How to send ``message``; :class:`SendError` (never worth a retry) when it cannot go."""
    if not mailboxes:
        raise SendError(
            "no mailbox is configured to send email from (set RAPPORT_EMAIL_MAILBOXES)",
            code="no_mailbox",
        )
    recipient = message.address or (thread.customer if thread else "")
    try:
        Address(addr_spec=recipient)
    except (ValueError, IndexError) as exc:
        raise SendError(f"{recipient!r} is not an email address", code="bad_address") from exc
    if thread is None:
        return Route(mailboxes[0], recipient, None)
    for mailbox in mailboxes:
        if mailbox.address == thread.mailbox:
            return Route(mailbox, recipient, thread.headers)
    raise SendError(
        f"the conversation's mailbox {thread.mailbox} is no longer configured",
        code="no_mailbox",
    )


def send_failure(error: Exception) -> SendError:
    """The send error an SMTP client's failure amounts to (4xx and network: temporary)."""
    answer: aiosmtplib.SMTPResponseException | None = None
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        answer = error.recipients[0]  # one recipient per mail
    elif isinstance(error, aiosmtplib.SMTPResponseException):
        answer = error
    if answer is not None and 400 <= answer.code < 600:
        failure = TemporarySendError if answer.code < 500 else SendError
        said = f"the mail server answered {answer.code} {answer.message}"
        return failure(said, code=str(answer.code))
    if isinstance(error.__cause__, ssl.SSLError) or isinstance(error, ssl.SSLError):
        return SendError(f"TLS with the mail server failed: {error}", code="tls_failed")
    if isinstance(error, aiosmtplib.SMTPNotSupported) or type(error) is aiosmtplib.SMTPException:
        # The server lacks what the mailbox is configured for (STARTTLS, AUTH).
        return SendError(f"the mail server cannot do this: {error}", code="smtp_unsupported")
    return TemporarySendError(f"the mail server did not take the mail: {error}", code="smtp")


class EmailAdapter(ChannelSender):
    """Replies by email through each mailbox's SMTP server. :meth:`close` when done."""

    name = CHANNEL.name
    capabilities = CAPABILITIES

    def __init__(self, settings: EmailSettings, store: EmailStore) -> None:
        self._settings = settings
        self._store = store
        self._fetcher = media_fetcher(settings)
        self._outgoing = OutgoingMedia(
            self._fetcher, settings.media_signing_key, settings.outbound_media_origins
        )
        self._tls = settings.tls_context()

    async def close(self) -> None:
        """Close the connections kept for fetching agents' attachments."""
        await self._fetcher.close()

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not message.event_id:
            raise SendError("a reply without an event id cannot be given a stable Message-ID")
        thread = await self._thread_of(message.conversation_id)
        route = route_reply(message, thread, self._settings.mailboxes)
        message_id = outbound_message_id(message.event_id, route.mailbox.domain)
        mail = compose_email(
            sender=route.mailbox.address,
            sender_name=route.mailbox.display_name,
            recipient=route.recipient,
            text=message.text,
            thread=route.thread,
            message_id=message_id,
            automatic=message.sender not in PERSON_SENDERS,
            attachment=await self._attachment(message),
        )
        if message.conversation_id:
            await self._remember(message_id, message.conversation_id)
        await self._submit(mail, route)
        log.info("mailed %s from %s as <%s>", message.event_id, route.mailbox.address, message_id)
        return DeliveryReceipt(message_id)

    async def _thread_of(self, conversation_id: str) -> OutboundThread | None:
        if not conversation_id:
            return None
        try:
            return await self._store.thread(conversation_id)
        except SQLAlchemyError as exc:
            raise TemporarySendError(f"the email store did not answer: {exc}") from exc

    async def _remember(self, message_id: str, conversation_id: str) -> None:
        try:
            await self._store.remember_sent(message_id=message_id, conversation_id=conversation_id)
        except SQLAlchemyError as exc:
            raise TemporarySendError(f"the email store did not answer: {exc}") from exc

    async def _attachment(self, message: OutboundMessage) -> EmailAttachment | None:
        """The agent's file (``OutboundDelivery`` lets one through at most)."""
        if not message.attachments:
            return None
        attachment = message.attachments[0]
        fetched = await self._outgoing.read(attachment)
        return EmailAttachment(
            file_name=file_name_for(attachment, fetched.content_type),
            content_type=fetched.content_type,
            data=fetched.body,
            inline=False,
        )

    async def _submit(self, mail: EmailMessage, route: Route) -> None:
        mailbox = route.mailbox
        try:
            await aiosmtplib.send(
                mail,
                sender=mailbox.address,
                recipients=[route.recipient],
                hostname=mailbox.smtp_host,
                port=mailbox.smtp_port,
                username=mailbox.smtp_user or None,
                password=mailbox.smtp_password.get_secret_value() if mailbox.smtp_user else None,
                use_tls=mailbox.smtp_security is Security.TLS,
                start_tls=mailbox.smtp_security is Security.STARTTLS,
                tls_context=self._tls,
                timeout=self._settings.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise send_failure(exc) from exc
