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
