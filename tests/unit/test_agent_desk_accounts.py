"""What an admin may write into a desk account, and how the audit trail reads."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from services.agent_desk.accounts import (
    Profile,
    audit_lines,
    describe,
    email_from_form,
    profile_from_form,
)
from services.agent_desk.http_app import FILTERS, template_options
from services.agent_desk.models import Role
from shared.errors import InvalidInputError

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
VALID = {"name": " Ann ", "role": "agent", "team": "", "languages": "EN, fr; en", "skills": ""}


def test_a_valid_form_becomes_a_normalised_profile() -> None:
    profile = profile_from_form(
        {**VALID, "skills": "topic:Bereavement, intent:refund"}, default_team="support"
    )
    assert profile == Profile(
        name="Ann",
        role=Role.AGENT,
        team="support",  # left empty: the desk's default team
        languages=("en", "fr"),
        skills=("intent:refund", "topic:bereavement"),
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "  ", "a name needs 1 to 100 characters"),
        ("name", "x" * 101, "a name needs 1 to 100 characters"),
        ("role", "owner", "pick a role: agent, supervisor or admin"),
        ("team", "<b>sales</b>", "a team is 1 to 64 letters"),
        ("languages", "", "list at least one language code"),
        ("languages", "english", "'english' is not a language code (for example en or fr)"),
        ("skills", "bereavement", "'bereavement' is not a skill (topic:, intent:, language:)"),
        ("skills", "topic:", "'topic:' is not a skill"),
        ("skills", ",".join(f"topic:t{i}" for i in range(21)), "at most 20 skill"),
        ("capacity", "0", "a capacity is a whole number from 1 to 50"),
        ("capacity", "51", "a capacity is a whole number from 1 to 50"),
        ("capacity", "two", "a capacity is a whole number from 1 to 50"),
    ],
)
def test_a_bad_field_is_refused_with_what_to_fix(field: str, value: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        profile_from_form({**VALID, field: value}, default_team="support")


def test_a_capacity_is_read_when_given_and_left_as_it_is_when_not() -> None:
    assert profile_from_form({**VALID, "capacity": " 5 "}, "support").capacity == 5
    assert profile_from_form({**VALID, "capacity": ""}, "support").capacity is None
    assert profile_from_form(VALID, "support").capacity is None


def test_emails_are_lowercased_and_must_look_like_one() -> None:
    assert email_from_form({"email": " Ann@Example.ORG "}) == "ann@example.org"
    for bad in ("", "ann", "ann@example", "a b@example.org", "x" * 250 + "@ex.org"):
        with pytest.raises(InvalidInputError, match="valid email address"):
            email_from_form({"email": bad})


def test_the_audit_trail_names_who_did_what_and_escapes_it() -> None:
    admin = SimpleNamespace(id="a1", name="<b>Boss</b>", email="boss@example.org")
    ann = SimpleNamespace(id="a2", name="Ann", email="ann@example.org")
    entries: list[Any] = [
        SimpleNamespace(
            at=NOW,
            actor_id="a1",
            agent_id="a2",
            action="edited",
            changes={"role": ["agent", "supervisor"], "skills": [[], ["topic:loss"]]},
        ),
        SimpleNamespace(at=NOW, actor_id=None, agent_id="a2", action="password reset", changes={}),
    ]
    edited, reset = audit_lines(entries, [admin, ann])  # type: ignore[list-item]
    assert (edited.actor, edited.account) == (
        "<b>Boss</b> <boss@example.org>",
        "Ann <ann@example.org>",
    )
    assert edited.changes == ["role: agent → supervisor", "skills: none → topic:loss"]
    assert (reset.actor, reset.changes) == ("command line", [])
    assert describe({"active": [True, False], "team": [None, "sales"]}) == [
        "active: yes → no",
        "team: – → sales",
    ]

    environment = jinja2.Environment(**template_options())
    environment.filters.update(FILTERS)
    html = environment.get_template("_audit.html").render(audit=[edited, reset])
    assert "<b>Boss" not in html and "&lt;b&gt;Boss&lt;/b&gt; &lt;boss@example.org&gt;" in html
    assert "2026-11-28 09:30 UTC" in html and "command line" in html
