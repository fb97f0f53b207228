"""Settings of the email adapter (``RAPPORT_EMAIL_*``), one entry per mailbox.

Each mailbox is read over IMAP and answered over SMTP with its own servers and
credentials, given as a JSON list in ``RAPPORT_EMAIL_MAILBOXES``. With none configured the
adapter starts idle (``make run`` on a laptop has no mail server); a reply that then
reaches the email channel ends on the dead-letter topic with the reason said.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from shared.config import MediaSettings, is_loopback

_ADDRESS_SHAPE = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$|^[^@\s<>]+@localhost$"


class Security(StrEnum):
    """How a connection to a mail server is protected."""

    TLS = "tls"  # implicit TLS from the first byte (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain connection upgraded before logging in (IMAP 143, SMTP 587)
    NONE = "none"  # loopback servers only: credentials would otherwise cross in clear


class Mailbox(BaseModel):
    """One support address: where its mail is read and how its replies are sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    address: str = Field(pattern=_ADDRESS_SHAPE, max_length=254)
    display_name: str = Field("", max_length=100)

    imap_host: str = Field(min_length=1)
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: Security = Security.TLS
    imap_user: str = Field(min_length=1)
    imap_password: SecretStr
    imap_folder: str = "INBOX"

    smtp_host: str = Field(min_length=1)
    smtp_port: int = Field(465, ge=1, le=65535)
    smtp_security: Security = Security.TLS
    smtp_user: str = ""  # empty: the server takes mail without logging in
    smtp_password: SecretStr = SecretStr("")

    @field_validator("address")
    @classmethod
    def _lower_domain(cls, value: str) -> str:
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    @model_validator(mode="after")
    def _no_clear_text_off_loopback(self) -> Mailbox:
        for kind, host, security in (
            ("imap", self.imap_host, self.imap_security),
            ("smtp", self.smtp_host, self.smtp_security),
        ):
            if security is Security.NONE and not is_loopback(host):
                raise ValueError(
                    f"mailbox {self.address}: {kind}_security 'none' is allowed for loopback "
                    f"servers only ({host} is not); use 'tls' or 'starttls'"
                )
        return self

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]


class EmailSettings(MediaSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_EMAIL_")
    service_name: ClassVar[str] = "email_adapter"

    http_port: int = Field(8084, ge=0, le=65535)
    metrics_port: int = Field(9108, ge=0, le=65535)
    consumer_group: str = "rapport-email-adapter"

    mailboxes: tuple[Mailbox, ...] = ()
    # A CA bundle to trust besides the system's (a company CA, a test server's own).
    ca_file: Path | None = None

    # The adapter's own memory: each mailbox's last UID read, Message-IDs seen, threads.
    database_url: str = "sqlite:///var/email.db"
    # Attachments customers send, kept named by their SHA-256 for agents to open.
    media_dir: Path = Path("var/email_media")
    max_attachment_bytes: int = Field(25 * 1024 * 1024, gt=0)
    # A larger mail is not downloaded: its headers are, and the agent is told to open it
    # in the mailbox. Larger than one attachment, so a mail with one kept file fits.
    max_mail_bytes: int = Field(50 * 1024 * 1024, gt=0)
    # Threads, Message-IDs and attachments are forgotten once unused this long: the
    # context service's period for the turns they belong to, unless set here.
    retention_days: float = Field(
        365,
        gt=0,
        validation_alias=AliasChoices(
            "RAPPORT_EMAIL_RETENTION_DAYS",
            "RAPPORT_CONTEXT_MESSAGE_RETENTION_DAYS",
            "retention_days",
        ),
    )
    retention_interval_minutes: float = Field(60, gt=0)

    # A folder read for the first time (or renumbered by its server) is read from the mail
    # the server received this many days before today, and today; older mail is left for
    # people. IMAP searches by date, not time: 0 is today's mail only.
    first_read_days: int = Field(1, ge=0)
    # IMAP IDLE is renewed this often (RFC 2177 asks for less than 29 minutes); a server
    # without IDLE is polled every ``poll_seconds``.
    idle_seconds: float = Field(300.0, gt=0, le=1740)
    poll_seconds: float = Field(30.0, gt=0)
    # A mailbox that is down is tried again after this, doubling up to the maximum.
    reconnect_seconds: float = Field(1.0, gt=0)
    max_reconnect_seconds: float = Field(60.0, gt=0)
    timeout_seconds: float = Field(30.0, gt=0)
    send_attempts: int = Field(4, gt=0)
    send_retry_wait_seconds: float = Field(0.5, ge=0)

    @field_validator("mailboxes")
    @classmethod
    def _distinct_addresses(cls, value: tuple[Mailbox, ...]) -> tuple[Mailbox, ...]:
        addresses = [mailbox.address for mailbox in value]
        repeated = sorted({address for address in addresses if addresses.count(address) > 1})
        if repeated:
            raise ValueError(f"each mailbox once: {', '.join(repeated)} is listed twice")
        return value

    @model_validator(mode="after")
    def _mail_holds_an_attachment(self) -> EmailSettings:
        if self.max_mail_bytes <= self.max_attachment_bytes:
            raise ValueError(
                f"max_mail_bytes ({self.max_mail_bytes}) must be larger than "
                f"max_attachment_bytes ({self.max_attachment_bytes})"
            )
        return self

    def tls_context(self) -> ssl.SSLContext:
        """What IMAP and SMTP connections trust: the system's CAs, and ``ca_file``'s too."""
        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def mailbox(self, address: str) -> Mailbox:
        """The configured mailbox of ``address``; LookupError names the known ones."""
        for mailbox in self.mailboxes:
            if mailbox.address == address:
                return mailbox
        known = ", ".join(m.address for m in self.mailboxes) or "none"
        raise LookupError(f"no mailbox {address} is configured (known: {known})")
