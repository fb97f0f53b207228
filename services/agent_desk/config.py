"""Settings of the agent desk (environment prefix ``RAPPORT_AGENT_DESK_``)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict
from yarl import URL

from shared.channels.origins import AllowedOrigins
from shared.config import MediaSettings, is_loopback, shared_name


def _period(kind: str) -> AliasChoices:
    """A retention period: the desk's own setting, else the context service's."""
    name = f"{kind.lower()}_retention_days"
    return AliasChoices(
        f"RAPPORT_AGENT_DESK_{name.upper()}", f"RAPPORT_CONTEXT_{name.upper()}", name
    )


class AgentDeskSettings(MediaSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_AGENT_DESK_")
    service_name: ClassVar[str] = "agent_desk"

    http_port: int = Field(8083, ge=0, le=65535)
    metrics_port: int = Field(9107, ge=0, le=65535)
    context_address: str = Field("127.0.0.1:50052", validation_alias=shared_name("CONTEXT_ADDRESS"))
    # The desk's own database, never the context store's: only under this prefix.
    database_url: str = "sqlite:///var/agent_desk.sqlite3"
    consumer_group: str = "rapport-agent-desk"
    instance_id: str | None = None
    # Where a handoff goes when no routing rule matches (unless the routing file names
    # its own default team), and a new account's team when none is given.
    default_team: str = Field("support", min_length=1, max_length=64)
    # Routing rules, teams' assignment modes and overflows (teams.py): None reads the
    # repository's routing.yaml if there is one, else every handoff goes to default_team
    # and agents claim. A mistake in the file stops the desk at start-up.
    routing_file: Path | None = None
    # None: Secure unless the desk listens on loopback only (local development over plain
    # HTTP). Set true behind a TLS-terminating proxy on the same host.
    cookie_secure: bool | None = None
    session_hours: float = Field(12, gt=0)
    # Failed sign-ins allowed free within the window, per account from one client address
    # and per client address; beyond them each attempt waits 1 s, 2 s, 4 s … up to the
    # maximum (security.py says why delays rather than a lockout).
    login_free_failures_per_account_address: int = Field(5, ge=1)
    login_free_failures_per_address: int = Field(20, ge=1)
    login_failure_window_seconds: float = Field(15 * 60, gt=0)
    login_max_delay_seconds: float = Field(15 * 60, gt=0)
    # Proxies (networks, JSON list: ["10.0.0.0/8", "127.0.0.1/32"]) whose X-Forwarded-For
    # names the client; nobody else's is believed.
    trusted_proxies: tuple[str, ...] = ()
    min_password_length: int = Field(12, ge=8)
    history_turns: int = Field(200, gt=0, le=500)
    max_reply_chars: int = Field(4000, gt=0)
    # Waiting for a person (waiting.py): the business hours file (None: the repository's
    # business_hours.yaml if there is one, else always open); at most one notice per
    # gap, a later message answered once the gap has passed; a message older than
    # stale_message_seconds when read is a replay and earns nothing; a wait over the
    # limit earns an apology and marks the ticket overdue; the expected wait is the
    # median of the team's waits claimed in the window, with at least that many samples;
    # the sweep (held-back answers, overdue tickets, overflow and automatic assignment)
    # runs this often.
    hours_file: Path | None = None
    notice_gap_seconds: float = Field(20, ge=0)
    stale_message_seconds: float = Field(120, gt=0)
    wait_limit_seconds: float = Field(15 * 60, gt=0)
    wait_estimate_window_minutes: float = Field(120, gt=0)
    wait_estimate_samples: int = Field(3, ge=1)
    sweep_seconds: float = Field(5, gt=0)
    # The outbox relay looks for unsent events this often (a commit wakes it at once),
    # and forgets published ones after this many days (a retried action older than that
    # is no longer recognised by the desk; consumers still dedupe on its event id).
    outbox_poll_seconds: float = Field(2.0, gt=0)
    outbox_retention_days: float = Field(7, gt=0)
    # What the owner's dashboard offers to look back over.
    dashboard_days: tuple[int, ...] = (14, 30, 90, 365)
    # Customers' data in the desk's own tables expires as the context service promises
    # (retention.py): emotion data after the first period, the rest after the second.
    # Read under the context service's names unless the desk is given its own, so one
    # setting keeps both stores' promise. The task applies them this often.
    emotion_retention_days: float = Field(30, gt=0, validation_alias=_period("EMOTION"))
    message_retention_days: float = Field(365, gt=0, validation_alias=_period("MESSAGE"))
    retention_interval_minutes: float = Field(60, gt=0)
    # Where the desk opens customers' media for agents: each channel adapter's /media,
    # reached by the desk alone (agents never talk to the adapters). Stack-wide addresses.
    web_adapter_url: str = Field(
        "http://127.0.0.1:8080", validation_alias=shared_name("WEB_ADAPTER_URL")
    )
    sms_adapter_url: str = Field(
        "http://127.0.0.1:8081", validation_alias=shared_name("SMS_ADAPTER_URL")
    )
    social_adapter_url: str = Field(
        "http://127.0.0.1:8082", validation_alias=shared_name("SOCIAL_ADAPTER_URL")
    )
    email_adapter_url: str = Field(
        "http://127.0.0.1:8084", validation_alias=shared_name("EMAIL_ADAPTER_URL")
    )
    # The desk as the adapters reach it: an agent's image or PDF goes out as a signed link
    # to its /media here, so this must be one of the adapters' OUTBOUND_MEDIA_ORIGINS.
    agent_desk_url: str = Field(
        "http://127.0.0.1:8083", validation_alias=shared_name("AGENT_DESK_URL")
    )
    # Agents' uploads (named by their SHA-256), and the largest one taken (WhatsApp's
    # limit for images).
    media_dir: Path = Path("var/desk_media")
    upload_max_bytes: int = Field(5 * 1024 * 1024, gt=0)

    @field_validator(
        "web_adapter_url",
        "sms_adapter_url",
        "social_adapter_url",
        "email_adapter_url",
        "agent_desk_url",
    )
    @classmethod
    def _service_url(cls, value: str) -> str:
        """An absolute http(s) URL (a path prefix is allowed, for a proxy)."""
        try:
            AllowedOrigins.of([str(URL(value).origin())])
        except ValueError:
            raise ValueError(f"{value!r} is not an http(s) URL like http://host:port") from None
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"RAPPORT_AGENT_DESK_TRUSTED_PROXIES: {network!r} is not a network "
                    "like 10.0.0.0/8 or 127.0.0.1/32"
                ) from None
        return value

    @model_validator(mode="after")
    def _emotion_data_expires_first(self) -> AgentDeskSettings:
        if self.emotion_retention_days >= self.message_retention_days:
            raise ValueError("emotion_retention_days must be shorter than message_retention_days")
        return self

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(network, strict=False) for network in self.trusted_proxies
        )

    @property
    def adapter_urls(self) -> dict[str, str]:
        """Each channel adapter's base URL, by service name: every ``media_service`` of the
        channel registry (``services/channels.py``) needs one here."""
        return {
            "web_adapter": self.web_adapter_url,
            "sms_adapter": self.sms_adapter_url,
            "social_adapter": self.social_adapter_url,
            "email_adapter": self.email_adapter_url,
        }

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return not is_loopback(self.bind_host)
