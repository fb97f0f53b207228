"""The agent desk's security pieces and queue rules, without sockets or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from types import SimpleNamespace

import jinja2
import pytest
from pydantic import ValidationError
from rapport.common.v1 import envelope_pb2

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.history import customer_entry, emotion_chart
from services.agent_desk.http_app import FILTERS, csrf_refusal, template_options
from services.agent_desk.load import RecentLoad
from services.agent_desk.models import Role, TicketStatus
from services.agent_desk.queue_rows import WaitingRow, Who, WorkRow
from services.agent_desk.routing import QueueEntry, Viewer, can_see, can_take, queue_for
from services.agent_desk.security import (
    LoginThrottle,
    ThrottleRules,
    check_password,
    client_address,
    hash_password,
    same_token,
    token_digest,
)
from shared.errors import InvalidInputError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_passwords_are_argon2id_hashes_that_verify_only_the_right_password() -> None:
    stored = hash_password("correct horse battery", min_length=12)
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert check_password(stored, "correct horse battery")
    assert not check_password(stored, "correct horse batterY")
    assert not check_password(None, "correct horse battery")  # no account: still refused
    assert not check_password("not a hash", "correct horse battery")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        hash_password("short", min_length=12)


def test_tokens_compare_in_constant_time_and_empty_never_matches() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("", "")
    assert not same_token("abc", None)
    assert token_digest("abc") != "abc" and len(token_digest("abc")) == 64


def test_state_changing_requests_need_the_token_and_the_same_origin() -> None:
    assert csrf_refusal(None, "desk:8083", "tok", "tok") is None
    assert csrf_refusal("http://desk:8083", "desk:8083", "tok", "tok") is None
    assert csrf_refusal(None, "desk:8083", "tok", None) == "csrf"
    assert csrf_refusal(None, "desk:8083", "tok", "other") == "csrf"
    assert csrf_refusal(None, "desk:8083", "", "") == "csrf"  # no session, no token
    assert csrf_refusal("https://evil.example", "desk:8083", "tok", "tok") == "origin"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: FakeClock, per_pair: int = 3, per_address: int = 10) -> LoginThrottle:
    rules = ThrottleRules(
        free_per_account_address=per_pair, free_per_address=per_address, window=600, max_delay=8
    )
    return LoginThrottle(rules, clock)


def fail(limiter: LoginThrottle, account: str, address: str, times: int) -> None:
    for _ in range(times):
        limiter.failed(account, address)


def test_failed_logins_earn_a_delay_that_doubles_up_to_the_cap() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    fail(limiter, "Ann@x.org", "10.0.0.1", 2)
    assert limiter.wait("ann@x.org", "10.0.0.1") == 0  # within the free failures
    delays = []
    for _ in range(6):
        limiter.failed("ann@x.org", "10.0.0.1")
        delays.append(limiter.wait("ann@x.org", "10.0.0.1"))
        clock.now += delays[-1]  # waits its turn, then fails again
    assert delays == [1, 2, 4, 8, 8, 8]
    clock.now -= 3
    assert limiter.wait("ANN@x.org", "10.0.0.1") == 3  # counted from the latest failure


def test_failures_older_than_the_window_are_forgotten() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    fail(limiter, "ann@x.org", "10.0.0.1", 4)
    assert limiter.wait("ann@x.org", "10.0.0.1") == 2
    clock.now += 300
    limiter.failed("ann@x.org", "10.0.0.1")  # 5 in the window
    clock.now += 301  # the first 4 are older than 600 s, the 5th is not
    assert limiter.wait("ann@x.org", "10.0.0.1") == 0
    fail(limiter, "ann@x.org", "10.0.0.1", 2)
    assert limiter.wait("ann@x.org", "10.0.0.1") == 1


def test_a_success_clears_its_account_and_address() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    fail(limiter, "ann@x.org", "10.0.0.1", 3)
    clock.now += 1
    limiter.succeeded("ann@x.org", "10.0.0.1")
    limiter.failed("ann@x.org", "10.0.0.1")
    assert limiter.wait("ann@x.org", "10.0.0.1") == 0  # 1 failure again, not 4


def test_failures_elsewhere_never_delay_another_address() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    fail(limiter, "ann@x.org", "10.0.0.1", 50)
    assert limiter.wait("ann@x.org", "10.0.0.1") == 8
    assert limiter.wait("ann@x.org", "10.0.0.2") == 0  # Ann from her own desk
    assert limiter.wait("bob@x.org", "10.0.0.2") == 0


def test_one_address_guessing_many_accounts_is_delayed_on_all_of_them() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for n in range(10):
        limiter.failed(f"user{n}@x.org", "10.0.0.1")  # 1 each: free per account
    assert limiter.wait("new@x.org", "10.0.0.1") == 1
    assert limiter.wait("new@x.org", "10.0.0.2") == 0


def test_an_unlock_clears_the_account_at_every_address_and_nothing_else() -> None:
    clock = FakeClock()
    limiter = throttle(clock, per_address=100)
    for address in ("10.0.0.1", "10.0.0.2"):
        fail(limiter, "ann@x.org", address, 5)
    fail(limiter, "bob@x.org", "10.0.0.1", 5)
    limiter.unlock("Ann@x.org")
    assert limiter.wait("ann@x.org", "10.0.0.1") == 0
    assert limiter.wait("ann@x.org", "10.0.0.2") == 0
    assert limiter.wait("bob@x.org", "10.0.0.1") == 4


def test_counters_of_quiet_addresses_are_dropped_once_a_window() -> None:
    clock = FakeClock()
    limiter = throttle(clock)
    for n in range(100):
        limiter.failed("ann@x.org", f"10.0.1.{n}")
    clock.now += 601
    limiter.failed("bob@x.org", "10.0.0.1")
    assert len(limiter._counters) == 2  # memory holds the last windows' failures only


PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not a proxy: the header is ignored
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("127.0.0.1", None, "127.0.0.1"),  # a trusted proxy's own request
        ("::ffff:127.0.0.1", "198.51.100.1", "198.51.100.1"),  # IPv4-mapped peer
        # The client wrote the first entry; the proxy appended whom it heard from.
        ("127.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        # A chain of trusted proxies: the rightmost entry that is not one of them.
        ("127.0.0.1", "1.2.3.4, 198.51.100.1, 10.1.2.3, 10.9.9.9", "198.51.100.1"),
        ("fd00::1", "2001:db8::7, fd00::2", "2001:db8::7"),
        ("127.0.0.1", "198.51.100.1, not-an-ip, , 10.0.0.9", "198.51.100.1"),  # invalid skipped
        ("127.0.0.1", "garbage, 10.0.0.9", "127.0.0.1"),  # nobody but proxies: the peer
        ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_the_client_address_is_believed_from_trusted_proxies_only(
    remote: str | None, forwarded: str | None, expected: str
) -> None:
    assert client_address(remote, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_never_counts() -> None:
    assert client_address("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"


def test_trusted_proxies_are_networks_checked_at_start() -> None:
    settings = AgentDeskSettings(trusted_proxies=("10.0.0.0/8", "127.0.0.1"))
    assert settings.trusted_networks == (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))
    assert AgentDeskSettings().trusted_networks == ()
    with pytest.raises(ValidationError, match="RAPPORT_AGENT_DESK_TRUSTED_PROXIES: 'proxy'"):
        AgentDeskSettings(trusted_proxies=("10.0.0.0/8", "proxy"))


def test_roles_include_the_ones_below() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR) and Role.ADMIN.at_least(Role.AGENT)
    assert Role.SUPERVISOR.at_least(Role.AGENT) and not Role.SUPERVISOR.at_least(Role.ADMIN)
    assert not Role.AGENT.at_least(Role.SUPERVISOR)


def viewer(role: Role = Role.AGENT, team: str = "support", **kw: frozenset[str]) -> Viewer:
    return Viewer(
        agent_id="a1",
        role=role,
        team=team,
        languages=kw.get("languages", frozenset({"en"})),
        skills=kw.get("skills", frozenset()),
    )


def entry(ticket_id: str = "t1", **overrides: object) -> QueueEntry:
    values: dict[str, object] = {
        "ticket_id": ticket_id,
        "team": "support",
        "status": TicketStatus.WAITING,
        "assignee_id": None,
        "priority": 0.5,
        "language": "en",
        "required_skills": ("language:en",),
        "repeat_contacts": 0,
        "handed_off_at": NOW,
    }
    values.update(overrides)
    return QueueEntry(**values)  # type: ignore[arg-type]


def test_agents_see_only_their_team_and_what_their_languages_and_skills_fit() -> None:
    agent = viewer()
    assert can_see(agent, entry())
    assert not can_see(agent, entry(team="billing"))  # another team
    assert not can_see(agent, entry(language="it", required_skills=("language:it",)))
    assert not can_see(agent, entry(required_skills=("language:en", "topic:bereavement")))
    assert can_see(
        viewer(skills=frozenset({"topic:bereavement"})),
        entry(required_skills=("language:en", "topic:bereavement")),
    )
    assert can_see(agent, entry(required_skills=("language:en", "intent:refund")))
    held = entry(status=TicketStatus.CLAIMED, assignee_id="someone-else")
    assert not can_see(agent, held)
    assert can_see(viewer(Role.SUPERVISOR), held)
    assert not can_see(viewer(Role.SUPERVISOR), entry(team="billing"))
    assert can_see(viewer(Role.ADMIN), entry(team="billing"))
    assert can_take(viewer(Role.SUPERVISOR), entry(language="it"))


def test_a_ticket_in_an_undetermined_language_is_never_hidden_from_agents() -> None:
    """An emoji-only follow-up reads as "und": nobody has that language, so requiring it
    would show the ticket to supervisors only."""
    emoji_only = entry(language="und", required_skills=("language:und",))
    assert can_see(viewer(), emoji_only)
    assert can_see(viewer(languages=frozenset({"de"})), emoji_only)
    still_needs_the_topic = entry(language="und", required_skills=("topic:bereavement",))
    assert not can_see(viewer(), still_needs_the_topic)


def test_the_queue_puts_priority_wait_and_repeat_contacts_first() -> None:
    entries = [
        entry("routine", priority=0.2),
        entry("urgent", priority=0.9),
        entry("waited", priority=0.2, handed_off_at=NOW - timedelta(minutes=30)),
        entry("again", priority=0.2, repeat_contacts=2),
        entry("closed", priority=1.0, status=TicketStatus.RESOLVED),
        entry("italian", priority=1.0, language="it"),
    ]
    order = [e.ticket_id for e in queue_for(viewer(), entries, NOW)]
    assert order == ["urgent", "waited", "again", "routine"]


def test_customer_text_is_escaped_in_pages() -> None:
    environment = jinja2.Environment(**template_options())
    environment.filters.update(FILTERS)
    evil = "<script>alert(1)</script>"
    ticket = SimpleNamespace(
        id="t1",
        customer_name=evil,
        team="support",
        language="en",
        priority=0.5,
        repeat_contacts=0,
        handed_off_at=NOW,
        claimed_at=None,
        overdue_at=None,
        tags=[evil],
    )
    row = WaitingRow(
        ticket=ticket,  # type: ignore[arg-type]
        who=Who(evil, "sms"),
        last_message=evil,
        waiting="waiting 4 min",
        top_reason='<img src=x onerror="x()">',
        chart=emotion_chart([(-0.5, evil)], ""),
        sent_media=True,
    )
    html = environment.get_template("_queue.html").render(
        waiting=[row],
        held=[],
        is_supervisor=False,
        csrf="token",
        mine=WorkRow("a1", "Ann", "support", "online", None, 0, 3),
        workloads=[],
        availabilities=["online", "away", "offline"],
        carried={"a1": RecentLoad(conversations=2, hard=1, weight=0.5, run=False)},
    )
    assert "<script>" not in html and "<img" not in html
    assert (
        html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4
    )  # name, last message, chart, tag
    assert "&lt;img src=x onerror=&#34;x()&#34;&gt;" in html
    assert "<title>&lt;script&gt;" in html  # the chart's label too

    attachments = [
        envelope_pb2.Attachment(reference="r", content_type="application/pdf", file_name=evil),
        envelope_pb2.Attachment(kind=envelope_pb2.ATTACHMENT_KIND_LOCATION, place=evil),
    ]
    live = environment.get_template("_turn.html").render(
        entry=customer_entry("t1", "e1", evil, "web", NOW, attachments), ticket_id="t1"
    )
    assert "<script>" not in live
    assert live.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3  # text, file name, place


def test_the_emotion_chart_maps_sentiment_into_the_box() -> None:
    chart = emotion_chart([(1.0, "joy"), (-1.0, "anger"), (0.0, "neutral")], "improving")
    assert chart is not None
    assert [(p.x, p.y) for p in chart.points] == [(4, 4), (120, 56), (236, 30)]
    assert chart.polyline == "4.0,4.0 120.0,56.0 236.0,30.0"
    assert emotion_chart([], "") is None


def test_cookies_are_secure_unless_the_desk_listens_on_loopback_only() -> None:
    assert not AgentDeskSettings(bind_host="127.0.0.1").secure_cookies
    assert AgentDeskSettings(bind_host="0.0.0.0").secure_cookies
    assert AgentDeskSettings(bind_host="127.0.0.1", cookie_secure=True).secure_cookies


def test_a_success_takes_back_the_attempt_counted_before_the_check() -> None:
    """The desk counts each attempt as failed before checking the password (so guesses
    sent at once are each counted); an agent who signs in often from a shared address
    does not use up that address's allowance."""
    clock = FakeClock()
    limiter = throttle(clock, per_address=2)
    for _ in range(5):
        limiter.failed("ann@x.org", "10.0.0.1")
        limiter.succeeded("ann@x.org", "10.0.0.1")
        clock.now += 1
    assert limiter.wait("bob@x.org", "10.0.0.1") == 0
    fail(limiter, "eve@x.org", "10.0.0.1", 3)  # Eve's guesses still count for the address
    assert limiter.wait("bob@x.org", "10.0.0.1") == 2
