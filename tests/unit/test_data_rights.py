"""The pure parts of customers' data rights: who an audit names, the desk's export
archive, which consent changes a form asks for, the erasure's confirmation, what the
desk's retention strips, how each topic is bounded in time, and which addresses a search
means."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ValidationError
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.events.v1 import agent_pb2, handoff_pb2

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.customer_data import Customer, DeskRows
from services.agent_desk.models import Agent, OutboxEvent, Rating, Ticket
from services.agent_desk.retention import RetentionPolicy, without_emotion
from services.agent_desk.rights import (
    ERASURE_REASONS,
    archive,
    consent_changes,
    customer_reference,
    erasure_reason,
)
from services.agent_desk.rights_http import consent_form
from services.context.lookup import addresses_meant
from shared.config import TopicSettings
from shared.errors import InvalidInputError
from shared.grpc.auth import UNAUTHENTICATED_ACTOR, attributed_actor
from shared.kafka.topics import (
    DEAD_LETTER,
    INBOUND,
    WEB_HELD_REPLIES,
    TopicRetention,
    outbound_topic,
    topic_specs,
)

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)
CUSTOMER_ID = "5b0d2a34-0a3e-4a53-9c67-63f0f5d1c2aa"


def test_the_audit_actor_is_the_authenticated_caller_then_whom_it_acts_for() -> None:
    assert attributed_actor("agent_desk", "acct-7") == "agent_desk:acct-7"
    assert attributed_actor("sms_adapter", "") == "sms_adapter"
    # Nobody vouched for the call: whatever it claims is not recorded.
    assert attributed_actor(None, "agent_desk:acct-7") == UNAUTHENTICATED_ACTOR
    assert attributed_actor(None, "") == UNAUTHENTICATED_ACTOR


def test_the_desk_names_a_customer_in_its_audit_by_a_digest_of_their_id() -> None:
    reference = customer_reference(CUSTOMER_ID)
    assert reference == customer_reference(CUSTOMER_ID)
    assert reference.startswith("sha256:") and CUSTOMER_ID not in reference
    assert reference != customer_reference(CUSTOMER_ID.replace("a", "b"))


def test_an_erasure_needs_the_typed_confirmation_and_a_listed_reason() -> None:
    assert erasure_reason("customer_request", " ERASE ") == "customer_request"
    with pytest.raises(InvalidInputError, match="type 'erase'"):
        erasure_reason("customer_request", "yes")
    with pytest.raises(InvalidInputError, match="pick why"):
        erasure_reason("because Jane Doe asked", "erase")
    assert all(text and code.isidentifier() for code, text in ERASURE_REASONS.items())


def test_only_the_consent_that_differs_is_changed_and_sms_only_opted_out() -> None:
    current = context_pb.Consent(emotion_analysis_allowed=True, marketing_allowed=False)
    wanted = consent_form({"marketing_allowed": "on"})
    assert wanted == {"emotion_analysis_allowed": False, "marketing_allowed": True}
    assert consent_changes(current, wanted) == {
        "emotion_analysis_allowed": False,
        "marketing_allowed": True,
    }
    same = consent_form({"emotion_analysis_allowed": "on"})
    assert consent_changes(current, same) == {}
    opted_out = consent_form({"emotion_analysis_allowed": "on", "sms_opted_out": "on"})
    assert consent_changes(current, opted_out) == {"sms_opted_out": True}
    # One number out already: opting out still reaches the customer's other numbers.
    one_out = context_pb.Consent(emotion_analysis_allowed=True, sms_opted_out=True)
    assert consent_changes(one_out, opted_out) == {"sms_opted_out": True}
    with pytest.raises(InvalidInputError, match="START"):
        consent_changes(context_pb.Consent(sms_opted_out=True), {"sms_opted_out": False})


def packet() -> handoff_pb2.HandoffRequested:
    moment = Timestamp()
    moment.FromDatetime(NOW)
    return handoff_pb2.HandoffRequested(
        envelope=envelope_pb2.Envelope(
            event_id="handoff-1",
            conversation_id="conv-1",
            customer=envelope_pb2.CustomerRef(customer_id=CUSTOMER_ID, display_name="Ana"),
        ),
        reasons=[
            handoff_pb2.DecisionReason(
                code="negative_emotion", explanation="Anger at 0.9", confidence=0.9
            )
        ],
        summary="Ana has been a customer since 2026. Latest mood: anger, worsening.",
        priority=0.8,
        language="en",
        trajectory=[
            handoff_pb2.EmotionReading(
                occurred_at=moment, dominant_emotion="anger", sentiment_score=-0.8
            )
        ],
        trend="worsening",
        bot_replies=["I am sorry to hear that."],
        intent="complaint",
    )


def test_retention_strips_the_handoffs_emotion_data_and_keeps_the_rest() -> None:
    stripped = without_emotion(packet())
    assert stripped is not None
    assert not stripped.trajectory and not stripped.trend and not stripped.reasons
    assert not stripped.summary  # it names the mood
    assert stripped.bot_replies == ["I am sorry to hear that."]
    assert stripped.envelope.customer.display_name == "Ana" and stripped.priority == pytest.approx(
        0.8
    )
    assert without_emotion(stripped) is None  # nothing left to strip


def test_emotion_data_must_expire_before_messages() -> None:
    with pytest.raises(ValueError, match="less time"):
        RetentionPolicy(emotion=timedelta(days=30), messages=timedelta(days=30))
    with pytest.raises(ValidationError):
        AgentDeskSettings(metrics_port=0, emotion_retention_days=400)


def test_the_desk_follows_the_context_services_periods_unless_given_its_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.chdir(str(tmp_path))  # no stray .env
    monkeypatch.setenv("RAPPORT_CONTEXT_EMOTION_RETENTION_DAYS", "10")
    monkeypatch.setenv("RAPPORT_CONTEXT_MESSAGE_RETENTION_DAYS", "90")
    settings = AgentDeskSettings(metrics_port=0)
    assert (settings.emotion_retention_days, settings.message_retention_days) == (10, 90)
    monkeypatch.setenv("RAPPORT_AGENT_DESK_EMOTION_RETENTION_DAYS", "5")
    assert AgentDeskSettings(metrics_port=0).emotion_retention_days == 5


def test_every_topic_is_bounded_in_time_and_the_worst_case_is_stated() -> None:
    retention = TopicRetention(
        events=timedelta(hours=2),
        dead_letters=timedelta(hours=5),
        held_replies=timedelta(hours=3),
        segment=timedelta(minutes=10),
    )
    specs = {spec.name: dict(spec.config) for spec in topic_specs(retention)}
    assert all(
        {"retention.ms", "segment.ms"} <= config.keys() and config["segment.ms"] == "600000"
        for config in specs.values()
    )
    assert specs[INBOUND]["retention.ms"] == str(2 * 3600 * 1000)
    assert specs[outbound_topic("sms")]["retention.ms"] == str(2 * 3600 * 1000)
    assert specs[DEAD_LETTER]["retention.ms"] == str(5 * 3600 * 1000)
    assert specs[WEB_HELD_REPLIES] == {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(3 * 3600 * 1000),
        "segment.ms": "600000",
    }
    assert retention.worst_case() == timedelta(hours=5, minutes=15)
    assert retention.worst_case(timedelta(seconds=1)) == timedelta(hours=5, minutes=10, seconds=1)


def test_topic_settings_are_read_in_hours_and_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAPPORT_KAFKA_EVENT_RETENTION_HOURS", "0.01")
    monkeypatch.setenv("RAPPORT_KAFKA_SEGMENT_MINUTES", "0.05")
    retention = TopicSettings().retention
    assert retention.events == timedelta(seconds=36)
    assert retention.segment == timedelta(seconds=3)
    assert retention.dead_letters == timedelta(days=7)


def test_a_search_means_the_text_as_typed_and_as_a_phone_number() -> None:
    assert addresses_meant("07911 123456", "GB") == {"07911 123456", "+447911123456"}
    assert addresses_meant("visitor-123", "GB") == {"visitor-123"}


def test_the_export_is_a_zip_of_json_files_listed_in_its_manifest() -> None:
    ticket = Ticket(
        id="handoff-1",
        conversation_id="conv-1",
        customer_id=CUSTOMER_ID,
        customer_name="Ana",
        channel=envelope_pb2.CHANNEL_WEB,
        team="support",
        priority=0.8,
        language="en",
        required_skills=[],
        repeat_contacts=0,
        packet=packet().SerializeToString(),
        status="resolved",
        handed_off_at=NOW,
        updated_at=NOW,
        reason_codes=["negative_emotion"],
    )
    rating = Rating(
        event_id="rating-1",
        ticket_id="handoff-1",
        conversation_id="conv-1",
        agent_id="agent-1",
        channel=envelope_pb2.CHANNEL_WEB,
        score=5,
        comment="Thanks Maria",
        rated_at=NOW,
    )
    action = agent_pb2.AgentActionTaken(
        envelope=envelope_pb2.Envelope(event_id="action-1", conversation_id="conv-1"),
        text="Hello Ana",
    )
    outbox = OutboxEvent(
        id=1,
        event_id="action-1",
        topic="rapport.agent-actions.v1",
        event_type=action.DESCRIPTOR.full_name,
        payload=action.SerializeToString(),
        created_at=NOW,
    )
    rows = DeskRows(
        tickets=[ticket],
        ticket_history=[],
        handoff_events=[],
        outgoing_messages=[],
        ratings=[rating],
        conversations_seen=[],
        customer_tiers=[],
        outbox=[outbox],
        corrections=[],
        feedback=[],
        emails=[],
    )
    decision = {"action": "escalate", "reasons": [{"code": "asked_for_person"}]}
    context_document = {
        "customer_id": CUSTOMER_ID,
        "customers": [{"id": CUSTOMER_ID}],
        "turns": [
            {
                "event_id": "turn-1",
                "conversation_id": "conv-1",
                "occurred_at": NOW.isoformat(),
                "decision": json.dumps(decision),
            },
            {"event_id": "turn-0", "conversation_id": "conv-1", "decision": None},
        ],
    }
    record = context_pb.CustomerRecord(
        customer_ids=[CUSTOMER_ID, "older-id"], conversation_ids=["conv-1"]
    )
    supervisor = Agent(id="sup-1", name="Sue", email="sue@example.org")
    done = archive(
        record=record,
        context_json=json.dumps(context_document),
        desk=rows,
        exported_by=supervisor,
        exported_at=NOW,
    )

    assert done.file_name == f"customer-{CUSTOMER_ID}.zip"
    files = zipfile.ZipFile(io.BytesIO(done.data))
    read = {name: json.loads(files.read(name)) for name in files.namelist()}
    manifest = read.pop("manifest.json")
    assert manifest["customer_id"] == CUSTOMER_ID
    assert manifest["customer_ids"] == [CUSTOMER_ID, "older-id"]
    assert manifest["exported_by"] == {"id": "sup-1", "name": "Sue"}
    listed = {entry["name"]: entry["records"] for entry in manifest["files"]}
    assert listed.keys() == read.keys()
    assert listed["context.json"] == 3  # one customer, two turns
    assert listed["desk/tickets.json"] == 1 and listed["desk/outgoing_messages.json"] == 0
    assert read["context.json"] == context_document
    [desk_ticket] = read["desk/tickets.json"]
    assert desk_ticket["packet"]["trajectory"][0]["dominant_emotion"] == "anger"
    assert desk_ticket["handed_off_at"] == NOW.isoformat()
    assert read["desk/ratings.json"][0]["comment"] == "Thanks Maria"
    assert read["desk/outbox.json"][0]["payload"]["text"] == "Hello Ana"
    bot, handoff = read["decisions.json"]
    assert bot["decision"] == decision and bot["turn_event_id"] == "turn-1"
    assert handoff["ticket_id"] == "handoff-1"
    assert handoff["reasons"][0]["explanation"] == "Anger at 0.9"


def test_an_outbox_event_is_about_the_customer_by_their_id_or_conversation() -> None:
    customer = Customer(frozenset({CUSTOMER_ID}), frozenset({"conv-1"}))

    def event(customer_id: str, conversation_id: str) -> OutboxEvent:
        action = agent_pb2.AgentActionTaken(
            envelope=envelope_pb2.Envelope(
                event_id="e",
                conversation_id=conversation_id,
                customer=envelope_pb2.CustomerRef(customer_id=customer_id),
            )
        )
        return OutboxEvent(
            event_type=action.DESCRIPTOR.full_name, payload=action.SerializeToString()
        )

    assert customer.named_in(event(CUSTOMER_ID, "conv-9"))
    assert customer.named_in(event("someone", "conv-1"))
    assert not customer.named_in(event("someone", "conv-9"))
