"""The desk's queue rows and conversation-side words, without sockets or a database:
who is waiting, what they last wrote, for how long, their mood's trend, SMS consent, in
which team, and the agents' availability and load."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jinja2
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk.history import ConsentView, IdentityView, feeling, sms_line, trend_of
from services.agent_desk.http_app import FILTERS, template_options
from services.agent_desk.load import RecentLoad
from services.agent_desk.models import Ticket
from services.agent_desk.queue_rows import (
    WorkRow,
    handle_of,
    held_row,
    last_customer_message,
    truncated,
    waiting_for,
    waiting_row,
    who_of,
    work_row,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EVIL = "<script>alert(1)</script>"
PHONE = "+447700900123"


def ref(channel: envelope_pb2.Channel, address: str, name: str = "") -> envelope_pb2.CustomerRef:
    return envelope_pb2.CustomerRef(
        customer_id="c1", channel=channel, address=address, display_name=name
    )


def packet(
    customer: envelope_pb2.CustomerRef,
    identities: tuple[envelope_pb2.CustomerRef, ...] = (),
    **fields: object,
) -> handoff_pb2.HandoffRequested:
    return handoff_pb2.HandoffRequested(
        envelope=envelope_pb2.Envelope(
            event_id="t1", conversation_id="conv", customer=customer, channel=customer.channel
        ),
        identities=identities,
        **fields,  # type: ignore[arg-type]
    )


def customer_turn(text: str, seconds: int, conversation_id: str = "conv") -> context_pb.Turn:
    turn = context_pb.Turn(
        conversation_id=conversation_id, role=context_pb.ROLE_CUSTOMER, text=text
    )
    turn.occurred_at.FromDatetime(NOW + timedelta(seconds=seconds))
    return turn


def test_the_handle_is_a_phone_number_never_an_opaque_id() -> None:
    assert handle_of(packet(ref(envelope_pb2.CHANNEL_SMS, PHONE))) == PHONE
    web = ref(envelope_pb2.CHANNEL_WEB, "visitor-3f2a")
    assert handle_of(packet(web)) == ""  # a visitor token tells an agent nothing
    also_on_whatsapp = (ref(envelope_pb2.CHANNEL_WHATSAPP, PHONE),)
    assert handle_of(packet(web, also_on_whatsapp)) == PHONE
    assert handle_of(packet(ref(envelope_pb2.CHANNEL_TELEGRAM, "123456789"))) == ""


def test_a_row_names_the_customer_else_their_handle_on_the_tickets_channel() -> None:
    on_sms = packet(ref(envelope_pb2.CHANNEL_SMS, PHONE))
    assert (who_of("Ana", on_sms).label, who_of("Ana", on_sms).channel) == ("Ana", "sms")
    assert who_of("", on_sms).label == PHONE
    assert who_of("", packet(ref(envelope_pb2.CHANNEL_WEB, "visitor-3f2a"))).label == ""


def test_a_long_message_is_cut_at_a_word_with_an_ellipsis() -> None:
    assert truncated("  short\n message ") == "short message"
    exactly = "x" * 120
    assert truncated(exactly) == exactly
    long = "word " * 40
    cut = truncated(long)
    assert len(cut) <= 120 and cut.endswith("word…")
    assert truncated("y" * 200) == "y" * 119 + "…"  # no space to cut at


def test_the_waiting_time_is_in_whole_minutes_and_hours() -> None:
    assert waiting_for(NOW - timedelta(seconds=30), NOW) == "waiting under a minute"
    assert waiting_for(NOW - timedelta(minutes=4, seconds=59), NOW) == "waiting 4 min"
    assert waiting_for(NOW - timedelta(hours=2, minutes=5), NOW) == "waiting 2 h 5 min"
    assert waiting_for(NOW + timedelta(minutes=1), NOW) == "waiting under a minute"  # skew


def test_the_last_message_is_the_customers_latest_in_this_conversation() -> None:
    context = context_pb.GetContextResponse(
        recent_turns=[
            customer_turn("later, elsewhere", 30, "other-conversation"),
            customer_turn("the latest here", 20),
            customer_turn("first", 10),
            context_pb.Turn(conversation_id="conv", role=context_pb.ROLE_BOT, text="bot"),
        ]
    )
    assert last_customer_message(context, "conv") == "the latest here"
    assert last_customer_message(context_pb.GetContextResponse(), "conv") == ""


def test_the_trend_is_the_contexts_while_it_has_readings_else_the_handoffs() -> None:
    handed = packet(ref(envelope_pb2.CHANNEL_WEB, "v"), trend="worsening")
    fresh = context_pb.GetContextResponse(
        trajectory=context_pb.EmotionTrajectory(
            points=[context_pb.TrajectoryPoint(sentiment_score=-0.2)],
            trend=context_pb.TREND_STABLE,
        )
    )
    assert trend_of(fresh, handed) == "stable"
    assert trend_of(context_pb.GetContextResponse(), handed) == "worsening"
    assert trend_of(context_pb.GetContextResponse(), packet(ref(0, "v"))) == ""


def test_a_neutral_reading_is_just_neutral() -> None:
    assert feeling("neutral", 0.0) == "neutral"
    assert feeling("", 0.4) == "neutral"
    assert feeling("anger", 0.8) == "anger 80%"


def test_sms_consent_is_said_only_of_a_customer_with_a_phone_number() -> None:
    opted_out = ConsentView(True, False, sms_opted_out=True)
    web_only = [IdentityView("web", "visitor-3f2a", True)]
    assert sms_line(web_only, opted_out) == ""
    assert sms_line([], ConsentView(True, False, False)) == ""
    with_phone = [*web_only, IdentityView("whatsapp", PHONE, True)]
    assert sms_line(with_phone, opted_out) == "opted out — never text"
    assert sms_line(with_phone, ConsentView(True, False, False)) == "may be texted"


def ticket(handoff: handoff_pb2.HandoffRequested, name: str = "") -> Ticket:
    return SimpleNamespace(  # type: ignore[return-value]
        id="t1",
        conversation_id="conv",
        customer_name=name,
        team="care",
        language="en",
        priority=0.7,
        repeat_contacts=0,
        handed_off_at=NOW - timedelta(minutes=4),
        claimed_at=NOW,
        overdue_at=None,
        packet=handoff.SerializeToString(),
        tags=["refund"],
    )


def agent(name: str, availability: str, capacity: int = 2) -> SimpleNamespace:
    return SimpleNamespace(
        id=f"id-{name}",
        name=name,
        team="care",
        availability=availability,
        availability_since=NOW,
        capacity=capacity,
    )


MINE = work_row(agent("Maria", "online"), 1)  # type: ignore[arg-type]


def render(mine: WorkRow = MINE, workloads: Sequence[WorkRow] = (), **values: object) -> str:
    environment = jinja2.Environment(**template_options())
    environment.filters.update(FILTERS)
    carried = RecentLoad(conversations=0, hard=0, weight=0.0, run=False)
    return environment.get_template("_queue.html").render(
        is_supervisor=False,
        csrf="token",
        mine=mine,
        workloads=workloads,
        carried={row.agent_id: carried for row in (mine, *workloads)},
        availabilities=["online", "away", "offline"],
        **values,
    )


def test_a_waiting_row_shows_who_where_what_how_long_and_why() -> None:
    reasons = [
        handoff_pb2.DecisionReason(code="human_requested", explanation="Asked for a person."),
        handoff_pb2.DecisionReason(code="negative_event", explanation="Second reason."),
    ]
    handoff = packet(ref(envelope_pb2.CHANNEL_SMS, PHONE), reasons=reasons)
    context = context_pb.GetContextResponse(
        recent_turns=[customer_turn(f"{EVIL} {'so long ' * 30}", 10)]
    )
    row = waiting_row(ticket(handoff), context, NOW)
    assert (row.who.label, row.who.channel, row.waiting) == (PHONE, "sms", "waiting 4 min")
    assert row.top_reason == "Asked for a person."
    html = render(waiting=[row], held=[])
    assert PHONE in html and 'aria-label="SMS"' in html and "Customer" not in html
    assert "waiting 4 min" in html and "Asked for a person." in html and "team care" in html
    assert "data-tag>#refund<" in html  # the tags a macro put on it
    assert "Second reason." not in html  # the top reason only
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; so long" in html and "…</q>" in html


def test_a_held_row_names_the_customer_and_their_channel() -> None:
    handoff = packet(ref(envelope_pb2.CHANNEL_WHATSAPP, PHONE, "Ana"))
    html = render(waiting=[], held=[held_row(ticket(handoff, "Ana"), "Maria")])
    assert "Ana" in html and 'aria-label="WhatsApp"' in html and "with Maria" in html
    assert "team care" in html


def test_the_queue_shows_the_agents_own_availability_and_load_and_offers_the_others() -> None:
    html = render(waiting=[], held=[])
    assert 'id="my-availability">online<' in html and "1 of 2 conversations" in html
    assert "data-full" not in html
    assert '<button type="submit" name="availability" value="online" id="set-online" ' in html
    assert 'value="online" id="set-online" aria-pressed="true"' in html
    assert 'value="away" id="set-away" aria-pressed="false" class="secondary"' in html
    assert 'id="workloads"' not in html  # an agent sees only their own

    away = work_row(agent("Maria", "away"), 2)  # type: ignore[arg-type]
    full = render(mine=away, waiting=[], held=[])
    assert 'id="my-availability">away<' in full and "2 of 2 conversations" in full
    assert "data-full" in full and 'value="away" id="set-away" aria-pressed="true"' in full


def test_a_supervisor_sees_each_agents_availability_and_load_escaped() -> None:
    rows = [
        work_row(agent(EVIL, "offline", capacity=3), 0),  # type: ignore[arg-type]
        work_row(agent("Bob", "online", capacity=1), 1),  # type: ignore[arg-type]
    ]
    html = render(waiting=[], held=[], workloads=rows)
    table = html[html.index('id="workloads"') :]
    assert "<script>" not in table and "&lt;script&gt;" in table
    assert "0 / 3" in table and "1 / 1" in table
    assert table.count("full") == 1  # Bob, at his capacity
