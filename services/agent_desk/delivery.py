"""What the desk makes of the channel adapters' delivery reports (``MessageDeliveryUpdated``
on ``rapport.delivery.v1``): pure decisions, no I/O.

A message moves forward only: pending (written, not yet reported) < sent < delivered <
read. Failed and refused are final for that message; sending it again makes a new
message with its own status. A failure reported after the message was delivered or read
contradicts what the platform already said, and is ignored, as is any repeat: reports
arrive at least once and not always in order.

Refused means an adapter's guard held the message back (the adapter reports it FAILED
with a :class:`~shared.channels.outbound.RefusalCode`); failed means the platform did
not take or deliver it (its own error code). Two platform codes say the same as a guard
would, and are named for it: Twilio's 21610 (the number replied STOP to Twilio) and
WhatsApp's 131047 (outside the 24-hour window).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rapport.events.v1 import messages_pb2

from shared.channels.outbound import RefusalCode


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    REFUSED = "refused"


class Problem(StrEnum):
    """Why a message did not reach the customer: a stable code the desk shows and counts."""

    OPTED_OUT = RefusalCode.OPTED_OUT.value
    WINDOW_CLOSED = RefusalCode.WINDOW_CLOSED.value
    CUSTOMER_ERASED = RefusalCode.CUSTOMER_ERASED.value
    MEDIA_UNSUPPORTED = RefusalCode.MEDIA_UNSUPPORTED.value
    PLATFORM_ERROR = "platform_error"


FINAL = frozenset({DeliveryStatus.FAILED, DeliveryStatus.REFUSED})
PROGRESS = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
)
REPORTED = tuple(s for s in DeliveryStatus if s is not DeliveryStatus.PENDING)
"""The statuses a report can bring (the metrics' outcomes)."""

_STATES = {
    messages_pb2.DELIVERY_STATE_SENT: DeliveryStatus.SENT,
    messages_pb2.DELIVERY_STATE_DELIVERED: DeliveryStatus.DELIVERED,
    messages_pb2.DELIVERY_STATE_READ: DeliveryStatus.READ,
    messages_pb2.DELIVERY_STATE_FAILED: DeliveryStatus.FAILED,
    messages_pb2.DELIVERY_STATE_UNDELIVERED: DeliveryStatus.FAILED,
}
_REFUSALS = {code.value for code in RefusalCode}
_PLATFORM_PROBLEMS = {
    ("sms", "21610"): Problem.OPTED_OUT,
    ("whatsapp", "131047"): Problem.WINDOW_CLOSED,
}

PROBLEM_TEXT = {
    Problem.OPTED_OUT: "the customer opted out of this channel",
    Problem.WINDOW_CLOSED: "the platform's reply window is closed",
    Problem.CUSTOMER_ERASED: "the customer's data was erased",
    Problem.MEDIA_UNSUPPORTED: "the channel cannot carry this attachment",
    Problem.PLATFORM_ERROR: "the platform did not take it",
}
STATUS_TEXT = {
    DeliveryStatus.PENDING: "Sending",
    DeliveryStatus.SENT: "Sent",
    DeliveryStatus.DELIVERED: "Delivered",
    DeliveryStatus.READ: "Read",
    DeliveryStatus.FAILED: "Not delivered",
    DeliveryStatus.REFUSED: "Not sent",
}


@dataclass(frozen=True, slots=True)
class Report:
    """One delivery report, in the desk's terms."""

    status: DeliveryStatus
    problem: Problem | None = None
    error_code: str = ""
    error_message: str = ""
    provider_message_id: str = ""


def report_of(event: messages_pb2.MessageDeliveryUpdated, channel: str) -> Report | None:
    """The report an event brings about a message sent on ``channel``; None when it
    names no state."""
    status = _STATES.get(event.state)
    if status is None:
        return None
    problem = None
    if status is DeliveryStatus.FAILED:
        if event.error_code in _REFUSALS:
            status, problem = DeliveryStatus.REFUSED, Problem(event.error_code)
        else:
            problem = _PLATFORM_PROBLEMS.get((channel, event.error_code), Problem.PLATFORM_ERROR)
    return Report(
        status=status,
        problem=problem,
        error_code=event.error_code,
        error_message=event.error_message,
        provider_message_id=event.provider_message_id,
    )


def advances(current: DeliveryStatus, reported: DeliveryStatus) -> bool:
    """Whether a message at ``current`` takes the ``reported`` status."""
    if current in FINAL:
        return False
    if reported in FINAL:
        return current in (DeliveryStatus.PENDING, DeliveryStatus.SENT)
    return PROGRESS.index(reported) > PROGRESS.index(current)


def explanation(problem: Problem | None, error_code: str, error_message: str) -> str:
    """What the agent reads under the problem's name: a guard's own sentence, or the
    platform's code and words."""
    if problem is None:
        return ""
    if error_code in _REFUSALS or error_code in error_message:
        return error_message
    return ": ".join(part for part in (error_code, error_message) if part)
