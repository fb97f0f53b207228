"""Metrics of the orchestrator."""

from __future__ import annotations

from prometheus_client import Counter

REPLIES = Counter(
    "rapport_orchestrator_replies_total",
    "Replies published, new or republished after a redelivery.",
    ["kind"],
)
IGNORED = Counter(
    "rapport_orchestrator_ignored_total",
    "Inbound messages deliberately not answered, by reason.",
    ["reason"],
)
DECISIONS = Counter(
    "rapport_orchestrator_decisions_total",
    "Policy decisions, by action (auto_reply, reply_and_escalate, escalate, stay_quiet).",
    ["action"],
)
HANDOFFS = Counter(
    "rapport_orchestrator_handoffs_total",
    "Conversations handed to a person, by the first reason code.",
    ["reason"],
)
AGENT_ACTIONS = Counter(
    "rapport_orchestrator_agent_actions_total",
    "Agent actions applied, by kind (claimed, replied, returned_to_bot, resolved).",
    ["kind"],
)
RATINGS = Counter(
    "rapport_orchestrator_ratings_total",
    "Satisfaction ratings (CSAT) customers gave after an agent resolved, by score.",
    ["score"],
)
