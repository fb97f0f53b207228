"""Kafka topic names and their layout: the one place that says which topics exist.

Every record is keyed by ``conversation_id`` so one conversation stays ordered inside one
partition while different conversations spread over partitions (and consumers).

**Every topic is time-bounded** (``TopicRetention``), because every one carries what
customers wrote or were told, with their addresses: an erased customer's records must
not outlive the promise. A broker deletes a whole segment once its newest record is older
than ``retention.ms``, so a record can stay until its segment has rolled (``segment.ms``,
set here so that a quiet topic's segment rolls too) and then aged out, plus up to one
``log.retention.check.interval.ms`` of the broker (5 minutes by default) before the check
runs: the worst case is ``retention + segment + check interval`` (``worst_case``).

Compaction with tombstones would erase sooner only where a key names what is erased and
nothing else: the held web replies (keyed by visitor and reply) are compacted, and the
web adapter writes a tombstone for each reply it hands over. The event topics are keyed
by conversation and must deliver every record to their consumers; compaction would keep
only a conversation's latest event, so they are bounded by time alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

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
"""What customers said of the service they got: ratings (``SatisfactionRated``) and, after
one, what could be done better (``FeedbackGiven``)."""

WEB_HELD_REPLIES = "rapport.web.held-replies.v1"
"""Replies waiting for a web visitor to come back (``SendMessage``), compacted: keyed by
visitor and reply, a tombstone once handed over, and dropped after a week regardless."""

HELD_REPLY_DAYS = 7

DEAD_LETTER = "rapport.dead-letter.v1"
"""Records a consumer could not handle after its retries, with the error in headers."""


def outbound_topic(channel: str) -> str:
    """The topic carrying replies (``SendMessage``) for one channel's adapter, and the
    signal that the bot is preparing one (``PreparingReply``)."""
    return f"rapport.outbound.{channel}.v1"


BROKER_RETENTION_CHECK = timedelta(minutes=5)
"""How often a broker looks for segments past their retention, by default
(``log.retention.check.interval.ms``)."""


@dataclass(frozen=True, slots=True)
class TopicRetention:
    """How long the topics keep what they carry (``RAPPORT_KAFKA_*``, see
    ``shared.config.TopicSettings``).

    Events live long enough for a consumer to be down over a weekend and catch up; dead
    letters and held web replies a week, for an operator to replay them and a visitor to
    come back.
    """

    events: timedelta = timedelta(days=3)
    dead_letters: timedelta = timedelta(days=7)
    held_replies: timedelta = timedelta(days=HELD_REPLY_DAYS)
    segment: timedelta = timedelta(hours=1)

    def worst_case(self, check_interval: timedelta = BROKER_RETENTION_CHECK) -> timedelta:
        """The longest any record can stay on any topic (see the module's docstring)."""
        longest = max(self.events, self.dead_letters, self.held_replies)
        return longest + self.segment + check_interval


def _milliseconds(period: timedelta) -> str:
    return str(max(1, round(period.total_seconds() * 1000)))


def topic_specs(retention: TopicRetention = TopicRetention()) -> tuple[TopicSpec, ...]:
    """Every topic Rapport needs, each bounded in time as ``retention`` says."""

    def kept(period: timedelta) -> tuple[tuple[str, str], ...]:
        return (
            ("retention.ms", _milliseconds(period)),
            ("segment.ms", _milliseconds(retention.segment)),
        )

    events = kept(retention.events)
    return (
        TopicSpec(INBOUND, config=events),
        TopicSpec(DELIVERY, config=events),
        TopicSpec(HANDOFF, config=events),
        TopicSpec(AGENT_ACTIONS, config=events),
        TopicSpec(FEEDBACK, config=events),
        TopicSpec(DEAD_LETTER, partitions=1, config=kept(retention.dead_letters)),
        TopicSpec(
            WEB_HELD_REPLIES,
            config=(("cleanup.policy", "compact,delete"), *kept(retention.held_replies)),
        ),
        *(TopicSpec(outbound_topic(name), config=events) for name in CHANNEL_NAMES),
    )


ALL_TOPICS = topic_specs()
"""The topics with the default retention (their names and partitions are the same for
any retention)."""
