"""The desk's queue rows and conversation-side words, without sockets or a database:
who is waiting, what they last wrote, for how long, their mood's trend, SMS consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import jinja2
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import handoff_pb2

from services.agent_desk.history import ConsentView, IdentityView, feeling, sms_line, trend_of
from services.agent_desk.http_app import FILTERS, template_options
from services.agent_desk.models import Ticket
from services.agent_desk.queue_rows import (
    handle_of,
    held_row,
    last_customer_message,
    truncated,
    waiting_for,
    waiting_row,
    who_of,
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
        language="en",
        priority=0.7,
        repeat_contacts=0,
        handed_off_at=NOW - timedelta(minutes=4),
        claimed_at=NOW,
        overdue_at=None,
        packet=handoff.SerializeToString(),
    )


def render(**values: object) -> str:
    environment = jinja2.Environment(**template_options())
    environment.filters.update(FILTERS)
    return environment.get_template("_queue.html").render(is_supervisor=False, **values)


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
    assert "waiting 4 min" in html and "Asked for a person." in html
    assert "Second reason." not in html  # the top reason only
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; so long" in html and "…</q>" in html


def test_a_held_row_names_the_customer_and_their_channel() -> None:
    handoff = packet(ref(envelope_pb2.CHANNEL_WHATSAPP, PHONE, "Ana"))
    html = render(waiting=[], held=[held_row(ticket(handoff, "Ana"), "Maria")])
    assert "Ana" in html and 'aria-label="WhatsApp"' in html and "with Maria" in html
