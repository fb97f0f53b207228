"""Metrics of the agent desk (labels from small fixed sets, never an account or customer)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HANDOFFS = Counter(
    "rapport_agent_desk_handoffs_total",
    "Handoff events consumed, by outcome (queued, refreshed, duplicate).",
    ["outcome"],
)
ACTIONS = Counter(
    "rapport_agent_desk_actions_total",
    "Agent actions published, by kind (claimed, replied, returned_to_bot, resolved).",
    ["kind"],
)
LOGINS = Counter(
    "rapport_agent_desk_logins_total",
    "Login attempts, by outcome (success, refused, rate_limited).",
    ["outcome"],
)
REFUSED_REQUESTS = Counter(
    "rapport_agent_desk_refused_requests_total",
    "Requests refused by a security check, by reason (csrf, origin, role, team).",
    ["reason"],
)
LIVE_CLIENTS = Gauge("rapport_agent_desk_live_clients", "Open Server-Sent Events streams.")
