"""Kafka topic names and their layout: the one place that says which topics exist.

Every record is keyed by ``conversation_id`` so one conversation stays ordered inside one
partition while different conversations spread over partitions (and consumers).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.channel_names import CHANNEL_NAMES


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic Rapport needs, with the partition count it is created with."""

    name: str
    partitions: int = 6
    replication_factor: int = 1
    config: tuple[tuple[str, str], ...] = ()
    """Topic-level settings it is created with (``cleanup.policy`` ...)."""


INBOUND = "rapport.inbound.v1"
"""Messages customers sent, normalised by a channel adapter (``MessageReceived``)."""

DELIVERY = "rapport.delivery.v1"
"""Delivery status reports from channel adapters (``MessageDeliveryUpdated``)."""

HANDOFF = "rapport.handoff.v1"
"""Requests for a human agent (``HandoffRequested``)."""

AGENT_ACTIONS = "rapport.agent-actions.v1"
"""What human agents did with a conversation (``AgentActionTaken``)."""

FEEDBACK = "rapport.feedback.v1"
"""What customers said of the service they got: ratings (``SatisfactionRated``)."""

WEB_HELD_REPLIES = "rapport.web.held-replies.v1"
"""Replies waiting for a web visitor to come back (``SendMessage``), compacted: keyed by
visitor and reply, a tombstone once handed over, and dropped after a week regardless."""

HELD_REPLY_DAYS = 7

DEAD_LETTER = "rapport.dead-letter.v1"
"""Records a consumer could not handle after its retries, with the error in headers."""


def outbound_topic(channel: str) -> str:
    """The topic carrying replies (``SendMessage``) for one channel's adapter."""
    return f"rapport.outbound.{channel}.v1"


ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(INBOUND),
    TopicSpec(DELIVERY),
    TopicSpec(HANDOFF),
    TopicSpec(AGENT_ACTIONS),
    TopicSpec(FEEDBACK),
    TopicSpec(DEAD_LETTER, partitions=1),
    TopicSpec(
        WEB_HELD_REPLIES,
        config=(
            ("cleanup.policy", "compact,delete"),
            ("retention.ms", str(HELD_REPLY_DAYS * 24 * 3600 * 1000)),
        ),
    ),
    *(TopicSpec(outbound_topic(name)) for name in CHANNEL_NAMES),
)
