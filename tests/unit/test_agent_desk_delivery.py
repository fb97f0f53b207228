"""What the desk makes of delivery reports: statuses only move forward, failures and
refusals are final, and every problem has a stable code and words for the agent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rapport.events.v1 import messages_pb2

from services.agent_desk.delivery import (
    FINAL,
    PROBLEM_TEXT,
    PROGRESS,
    DeliveryStatus,
    Problem,
    advances,
    explanation,
    report_of,
)
from shared.channels.outbound import RefusalCode

S = DeliveryStatus


def update(
    state: messages_pb2.DeliveryState, code: str = "", message: str = ""
) -> messages_pb2.MessageDeliveryUpdated:
    return messages_pb2.MessageDeliveryUpdated(
        send_event_id="m-1",
        provider_message_id="SM1",
        state=state,
        error_code=code,
        error_message=message,
    )


def test_a_guards_refusal_is_refused_with_its_own_code_and_words() -> None:
    for code, problem in [
        ("opted_out", Problem.OPTED_OUT),
        ("window_closed", Problem.WINDOW_CLOSED),
        ("customer_erased", Problem.CUSTOMER_ERASED),
    ]:
        report = report_of(update(messages_pb2.DELIVERY_STATE_FAILED, code, "why"), "sms")
        assert report is not None
        assert (report.status, report.problem) == (S.REFUSED, problem)
        assert explanation(report.problem, report.error_code, report.error_message) == "why"


def test_every_refusal_code_the_adapters_report_is_a_problem_the_desk_names() -> None:
    for code in RefusalCode:
        report = report_of(update(messages_pb2.DELIVERY_STATE_FAILED, code.value, "why"), "web")
        assert report is not None and report.status is S.REFUSED
        assert report.problem is not None and PROBLEM_TEXT[report.problem]


def test_a_platform_failure_is_failed_with_the_platforms_code_and_words() -> None:
    report = report_of(
        update(messages_pb2.DELIVERY_STATE_UNDELIVERED, "30003", "Unreachable handset"), "sms"
    )
    assert report is not None
    assert (report.status, report.problem) == (S.FAILED, Problem.PLATFORM_ERROR)
    assert explanation(report.problem, report.error_code, report.error_message) == (
        "30003: Unreachable handset"
    )


def test_platform_codes_that_mean_an_opt_out_or_a_closed_window_are_named_so() -> None:
    stop = report_of(update(messages_pb2.DELIVERY_STATE_FAILED, "21610", "Unsubscribed"), "sms")
    window = report_of(
        update(messages_pb2.DELIVERY_STATE_FAILED, "131047", "Re-engage"), "whatsapp"
    )
    elsewhere = report_of(update(messages_pb2.DELIVERY_STATE_FAILED, "21610", "?"), "whatsapp")
    assert stop is not None and (stop.status, stop.problem) == (S.FAILED, Problem.OPTED_OUT)
    assert window is not None and window.problem is Problem.WINDOW_CLOSED
    assert elsewhere is not None and elsewhere.problem is Problem.PLATFORM_ERROR
    assert explanation(stop.problem, stop.error_code, stop.error_message) == "21610: Unsubscribed"
    assert explanation(None, "", "") == ""
    said = "Twilio answered HTTP 400, error 21211: invalid number"
    assert explanation(Problem.PLATFORM_ERROR, "21211", said) == said  # the code once


def test_progress_carries_no_problem_and_an_unnamed_state_is_no_report() -> None:
    for state, status in [
        (messages_pb2.DELIVERY_STATE_SENT, S.SENT),
        (messages_pb2.DELIVERY_STATE_DELIVERED, S.DELIVERED),
        (messages_pb2.DELIVERY_STATE_READ, S.READ),
    ]:
        report = report_of(update(state), "whatsapp")
        assert report is not None and (report.status, report.problem) == (status, None)
        assert report.provider_message_id == "SM1"
    assert report_of(update(messages_pb2.DELIVERY_STATE_UNSPECIFIED), "sms") is None


def test_statuses_move_forward_and_failures_only_before_delivery() -> None:
    assert advances(S.PENDING, S.SENT) and advances(S.SENT, S.READ)
    assert advances(S.PENDING, S.DELIVERED)  # a receipt may be the first news
    assert not advances(S.DELIVERED, S.SENT) and not advances(S.READ, S.READ)
    assert advances(S.PENDING, S.REFUSED) and advances(S.SENT, S.FAILED)
    assert not advances(S.DELIVERED, S.FAILED)  # contradicts a receipt: out of date
    assert not any(advances(final, s) for final in FINAL for s in DeliveryStatus)


ORDER = {status: rank for rank, status in enumerate(PROGRESS)}


@given(st.lists(st.sampled_from([s for s in DeliveryStatus if s is not S.PENDING])))
def test_no_order_of_reports_takes_a_message_backwards(reports: list[DeliveryStatus]) -> None:
    current, seen = S.PENDING, [S.PENDING]
    for reported in reports:
        if advances(current, reported):
            current = reported
            seen.append(current)
    finals = [s for s in seen if s in FINAL]
    progress = [ORDER[s] for s in seen if s not in FINAL]
    assert progress == sorted(set(progress))  # strictly forward, never twice
    assert len(finals) <= 1 and (not finals or seen[-1] == finals[0])  # final stays final
