"""The agent desk's security pieces and queue rules, without sockets or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jinja2
import pytest
from rapport.common.v1 import envelope_pb2

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.history import customer_entry, emotion_chart
from services.agent_desk.http_app import FILTERS, csrf_refusal, template_options
from services.agent_desk.models import Role, TicketStatus
from services.agent_desk.routing import QueueEntry, Viewer, can_see, can_take, queue_for
from services.agent_desk.security import (
    LoginLimits,
    LoginRateLimiter,
    check_password,
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


async def test_login_attempts_are_limited_per_account_and_per_address() -> None:
    limiter = LoginRateLimiter(LoginLimits(per_account="3/minute", per_address="5/minute"))
    assert [await limiter.allow("Ann@x.org", "10.0.0.1") for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert await limiter.allow("ann@x.org", "10.0.0.2") is False  # the account, any address
    assert await limiter.allow("bob@x.org", "10.0.0.1") is True  # 5th from this address
    assert await limiter.allow("cy@x.org", "10.0.0.1") is False  # the address, any account
    assert await limiter.allow("bob@x.org", "10.0.0.3") is True


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
        language="en",
        priority=0.5,
        repeat_contacts=0,
        handed_off_at=NOW,
        claimed_at=None,
        overdue_at=None,
    )
    packet = SimpleNamespace(reasons=[SimpleNamespace(explanation='<img src=x onerror="x()">')])
    chart = emotion_chart([(-0.5, evil)], "")
    html = environment.get_template("_queue.html").render(
        waiting=[(ticket, packet, chart, True)], held=[], is_supervisor=False
    )
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
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
