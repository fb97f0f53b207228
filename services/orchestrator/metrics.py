"""Metrics of the orchestrator."""

from __future__ import annotations

from prometheus_client import Counter, Gauge
from rapport.events.v1 import agent_pb2

from services.orchestrator.feedback import FollowUp

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
    "Satisfaction ratings (CSAT, or NPS if chosen) customers gave after an agent resolved.",
    ["score"],
)
FOLLOW_UPS = Counter(
    "rapport_orchestrator_feedback_answers_total",
    "Messages after 'anything we could do better?': feedback, declined or new_request.",
    ["answer"],
)
KNOWLEDGE_ARTICLES = Gauge(
    "rapport_orchestrator_knowledge_articles",
    "Articles in the business's knowledge the bot answers from now.",
)
KNOWLEDGE_RELOADS = Counter(
    "rapport_orchestrator_knowledge_reloads_total",
    "Changes to the knowledge folder: read (now in use) or invalid (the last good one kept).",
    ["outcome"],
)
KNOWLEDGE_LOOKUPS = Counter(
    "rapport_orchestrator_knowledge_lookups_total",
    "Messages looked up in the knowledge: answered from an article, or not.",
    ["outcome"],
)
SHOP_LOOKUPS = Counter(
    "rapport_orchestrator_shop_lookups_total",
    "Orders looked up in the shop, by what it answered: found, not_found, unavailable.",
    ["outcome"],
)
# Every known label exported from the start, so ratios and rates have data before the
# first event (a missing series reads as "no data", not as zero).
for _outcome in ("read", "invalid"):
    KNOWLEDGE_RELOADS.labels(_outcome)
for _outcome in ("answered", "not_answered"):
    KNOWLEDGE_LOOKUPS.labels(_outcome)
for _outcome in ("found", "not_found", "unavailable"):
    SHOP_LOOKUPS.labels(_outcome)
for _score in range(1, 6):
    RATINGS.labels(str(_score))
for _answer in FollowUp:
    FOLLOW_UPS.labels(_answer.value)
for _kind in agent_pb2.AgentActionKind.keys():
    if _kind != "AGENT_ACTION_KIND_UNSPECIFIED":
        AGENT_ACTIONS.labels(_kind.removeprefix("AGENT_ACTION_KIND_").lower())
