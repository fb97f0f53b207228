"""Metrics of the orchestrator."""

from __future__ import annotations

from prometheus_client import Counter
from rapport.events.v1 import agent_pb2

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
# Every known label exported from the start, so ratios and rates have data before the
# first event (a missing series reads as "no data", not as zero).
for _score in range(1, 6):
    RATINGS.labels(str(_score))
for _kind in agent_pb2.AgentActionKind.keys():
    if _kind != "AGENT_ACTION_KIND_UNSPECIFIED":
        AGENT_ACTIONS.labels(_kind.removeprefix("AGENT_ACTION_KIND_").lower())
