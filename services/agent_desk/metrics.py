"""Metrics of the agent desk (labels from small fixed sets, never an account or customer)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.agent_desk.delivery import REPORTED, Problem
from services.agent_desk.teams import AssignmentMode
from shared.channel_names import CHANNEL_NAMES

HANDOFFS = Counter(
    "rapport_desk_handoffs_total",
    "Handoff events consumed, by outcome (queued, refreshed, duplicate).",
    ["outcome"],
)
ACTIONS = Counter(
    "rapport_desk_actions_total",
    "Agent actions published, by kind (claimed, replied, returned_to_bot, resolved).",
    ["kind"],
)
LOGINS = Counter(
    "rapport_desk_logins_total",
    "Login attempts, by outcome (success, refused, rate_limited).",
    ["outcome"],
)
REFUSED_REQUESTS = Counter(
    "rapport_desk_refused_requests_total",
    "Requests refused by a security check, by reason (csrf, origin, role, team).",
    ["reason"],
)
LIVE_CLIENTS = Gauge("rapport_desk_live_clients", "Open Server-Sent Events streams.")
OUTBOX_PUBLISHED = Counter(
    "rapport_desk_outbox_published_total",
    "Events the outbox relay published after their transaction committed, by topic.",
    ["topic"],
)
OUTBOX_PENDING = Gauge(
    "rapport_desk_outbox_pending",
    "Events written to the outbox and not yet published (after the relay's last pass).",
)

# The empathy KPIs, as the dashboard defines them (README, "Dashboard"). Labels: the
# channel (a fixed set), the handoff reason code (the policy's fixed set), the score 1-5.
QUEUE_LENGTH = Gauge(
    "rapport_desk_queue_length", "Tickets waiting for a person, by channel.", ["channel"]
)
CONVERSATIONS = Counter(
    "rapport_desk_conversations_total",
    "Conversations the desk saw a customer start (the escalation rate's denominator).",
    ["channel"],
)
ESCALATIONS = Counter(
    "rapport_desk_escalations_total",
    "Tickets opened by a handoff (a conversation escalated to a person).",
    ["channel"],
)
ESCALATION_REASONS = Counter(
    "rapport_desk_escalation_reasons_total",
    "Reason codes of the handoffs that opened tickets (a ticket may have several).",
    ["channel", "reason"],
)
REPEAT_CONTACTS = Counter(
    "rapport_desk_repeat_contacts_total",
    "Tickets opened for a customer who had another ticket in the previous 30 days.",
    ["channel"],
)
WAIT_SECONDS = Histogram(
    "rapport_desk_wait_seconds",
    "From handoff to the first claim of a ticket.",
    ["channel"],
    buckets=(15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400),
)
HANDLE_SECONDS = Histogram(
    "rapport_desk_handle_seconds",
    "From the first claim to the resolution of a ticket.",
    ["channel"],
    buckets=(60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800),
)
RESOLUTIONS = Counter(
    "rapport_desk_resolutions_total", "Tickets resolved by an agent.", ["channel"]
)
FIRST_CONTACT_RESOLUTIONS = Counter(
    "rapport_desk_first_contact_resolutions_total",
    "Resolved tickets that were the customer's first in 30 days (no repeat contact).",
    ["channel"],
)
SENTIMENT_CHANGE = Histogram(
    "rapport_desk_sentiment_change",
    "Customer sentiment at the last reading minus the first (-2 to 2), per resolved ticket.",
    ["channel"],
    buckets=(-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0),
)
CSAT_RATINGS = Counter(
    "rapport_desk_csat_ratings_total",
    "Customer satisfaction ratings recorded, by channel and score (1-5).",
    ["channel", "score"],
)
HOLDING_MESSAGES = Counter(
    "rapport_desk_holding_messages_total",
    "Notices sent to customers waiting for a person (place in line, expected wait or "
    "when the team is back): on handoff, in answer to their messages, on a long wait.",
    ["channel"],
)
OVERDUE_TICKETS = Counter(
    "rapport_desk_overdue_tickets_total",
    "Tickets that waited longer than the desk's limit (the customer got an apology, the "
    "queue shows them overdue).",
    ["channel"],
)

# Routing: the labels are the assignment modes (a fixed set) and the channel.
ASSIGNMENTS = Counter(
    "rapport_desk_assignments_total",
    "Waiting tickets the desk gave to an online agent by itself, by mode (round_robin, balanced).",
    ["mode"],
)
OVERFLOWS = Counter(
    "rapport_desk_overflows_total",
    "Waiting tickets moved to their team's fallback team because nobody in the team "
    "could be given them within the team's wait.",
    ["channel"],
)

# Delivery of the messages the desk sent (agents' replies, holding messages). Labels: the
# channel, the status reached (sent, delivered, read, failed, refused) and the problem's
# stable code; every combination exists from the start, at 0.
DELIVERY_OUTCOMES = Counter(
    "rapport_desk_message_deliveries_total",
    "Messages the desk sent that reached a delivery status, by channel and outcome.",
    ["channel", "outcome"],
)
DELIVERY_PROBLEMS = Counter(
    "rapport_desk_message_problems_total",
    "Messages the desk sent that failed or were refused, by channel and problem "
    "(opted_out, window_closed, customer_erased, media_unsupported, platform_error).",
    ["channel", "problem"],
)
RESENDS = Counter(
    "rapport_desk_resends_total",
    "Messages an agent sent again after they did not get through, by how "
    "(same_channel, other_channel).",
    ["how"],
)
for _channel in CHANNEL_NAMES:
    for _status in REPORTED:
        DELIVERY_OUTCOMES.labels(_channel, _status.value)
    for _problem in Problem:
        DELIVERY_PROBLEMS.labels(_channel, _problem.value)
for _how in ("same_channel", "other_channel"):
    RESENDS.labels(_how)
for _mode in AssignmentMode:
    if _mode is not AssignmentMode.MANUAL:
        ASSIGNMENTS.labels(_mode.value)
