"""Decision records: the JSON stored and the record read back are the record sent."""

from __future__ import annotations

import json

from rapport.context.v1 import context_service_pb2 as pb

from services.context.decisions import DecisionRecords


def _record(number: int) -> pb.DecisionRecord:
    return pb.DecisionRecord(
        action="reply_and_escalate",
        reasons=[pb.DecisionReasonRecord(code="strong_emotion", explanation=f"anger {number}")],
        priority=0.75,
        model_versions={"emotion": "goemotions-3", "intent": "banking77-2"},
        facts_json=json.dumps({"intensity": 0.9, "turn": number}),
        template="answer/order_status",
        language="es",
    )


def test_a_record_reads_back_as_it_was_stored_remembered_or_not() -> None:
    records = DecisionRecords(size=2)
    stored = [records.to_json(_record(number)) for number in range(3)]  # the first is forgotten

    for number, text in enumerate(stored):
        read = pb.DecisionRecord()
        records.read_into(text, read)
        assert read == _record(number)
    assert json.loads(stored[0])["reasons"][0]["explanation"] == "anger 0"  # readable JSON


def test_json_written_elsewhere_is_read_too_and_a_record_is_filled_not_replaced() -> None:
    text = '{"action": "escalate", "reasons": [{"code": "sensitive_topic"}], "language": "de"}'
    records = DecisionRecords(size=1)

    for _ in range(2):  # parsed, then remembered
        read = pb.DecisionRecord(template="holding/caring")
        records.read_into(text, read)
        assert read == pb.DecisionRecord(
            action="escalate",
            reasons=[pb.DecisionReasonRecord(code="sensitive_topic")],
            language="de",
            template="holding/caring",
        )
