"""Metrics of the email adapter's reading side; send outcomes are counted in shared."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MAILS_READ = Counter(
    "rapport_email_mails_read_total",
    "Mails fetched from a support mailbox, by mailbox address.",
    ["mailbox"],
)
MAILS_TAKEN = Counter(
    "rapport_email_mails_taken_total",
    "Mails read, by mailbox and outcome: published, duplicate (its Message-ID was seen "
    "already), automatic (auto-replies and bounces, never answered), unreadable "
    "(dead-lettered).",
    ["mailbox", "outcome"],
)
AUTOMATIC_MAILS = Counter(
    "rapport_email_automatic_mails_total",
    "Automatic mails left unanswered, by mailbox and why they count as automatic "
    "(auto_submitted, precedence, delivery_status, mailer_daemon, auto_reply_header).",
    ["mailbox", "reason"],
)
ATTACHMENTS_NOT_KEPT = Counter(
    "rapport_email_attachments_not_kept_total",
    "Attachments of customers' mails not kept (named in the text for the agent instead), "
    "by why: too_large, unsupported_type, empty.",
    ["reason"],
)
MAILBOX_CONNECTED = Gauge(
    "rapport_email_mailbox_connected",
    "1 while the reader of a mailbox is logged in to its IMAP server, else 0.",
    ["mailbox"],
)
