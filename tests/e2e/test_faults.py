"""Nothing lost under faults: 30 web visitors, 600 messages, and every dependency failing.

Every service runs as its own process on a broker of this module's own (it is stopped
for half a minute, which the other end-to-end tests must not see). While the visitors
write, the context service and the emotion service are each SIGKILLed and restarted 10 s
later, the orchestrator is SIGKILLed and restarted at once, and the broker is stopped
for 30 s. The visitors behave as the chat page does: one message at a time, each sent
again after a reconnect or a "pending" answer, with the same client message id.

Every message must get exactly one reply, in order for each visitor, and nothing may
reach the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from infra.kafka.embedded import EmbeddedKafka, create_topics
from shared.kafka.snapshot import read_to_end
from shared.kafka.topics import DEAD_LETTER
from tests.e2e.stack import Stack
from tests.e2e.visitor import Visitor, converse

pytestmark = pytest.mark.e2e

log = logging.getLogger(__name__)

VISITORS = 30
MESSAGES_EACH = 20
SECONDS_BETWEEN_MESSAGES = 4.0  # 30 visitors: 7.5 messages a second, for 80 s and more
SENDING_TIMEOUT = 240.0
REPLIES_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    with EmbeddedKafka(tmp_path_factory.mktemp("kafka-faults")) as kafka:
        kafka.wait_ready(120)
        asyncio.run(create_topics(kafka.bootstrap))
        yield kafka


@pytest.fixture(scope="module")
def faulty_stack(
    broker: EmbeddedKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(broker.bootstrap, tmp_path_factory.mktemp("faults"))
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()


@dataclass
class Timeline:
    """When each fault began and ended, for the report."""

    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def note(self, what: str) -> None:
        self.events.append((time.monotonic(), what))

    def at(self, what: str) -> float:
        return next(when for when, said in self.events if said == what)

    def __str__(self) -> str:
        return "; ".join(f"{when - self.started:.1f}s {what}" for when, what in self.events)


def _waits(visitors: list[Visitor], since: float, until: float) -> list[float]:
    """Seconds from ack to reply of the messages acknowledged between ``since`` and ``until``."""
    return sorted(
        v.replied_at[event_id] - acked
        for v in visitors
        for event_id, acked in v.acked_at.items()
        if since <= acked <= until and event_id in v.replied_at
    )


async def _faults(stack: Stack, broker: EmbeddedKafka, timeline: Timeline) -> None:
    """The outages, one after another, while the visitors write."""
    note = timeline.note

    for service in ("context", "emotion"):
        await asyncio.sleep(3)
        stack.kill(service)
        note(f"{service} killed")
        await asyncio.sleep(10)
        stack.start(service)
        await asyncio.to_thread(stack.wait_ready, service)
        note(f"{service} back")
    await asyncio.sleep(3)
    stack.kill("orchestrator")
    stack.start("orchestrator")
    note("orchestrator killed and restarted")
    await asyncio.sleep(5)
    await asyncio.to_thread(broker.stop)
    note("broker stopped")
    await asyncio.sleep(30)
    await asyncio.to_thread(broker.start)
    await asyncio.to_thread(broker.wait_ready, 120)
    note("broker back")


def _last_lines(stack: Stack) -> str:
    """What the services said last, for a failure's report (CI keeps nothing else)."""
    return "\n".join(
        f"--- {service}\n{stack.log_tail(service, 12)}"
        for service in ("web_adapter", "orchestrator", "context")
    )


async def _dead_letters(bootstrap: str) -> list[str]:
    return [
        dict(record.headers).get("dead-letter-error", b"").decode()
        async for record in read_to_end(bootstrap, DEAD_LETTER, "tests")
    ]


@pytest.mark.timeout(600)  # up to 240 s of sending through the faults, 180 s for replies
async def test_every_message_gets_one_reply_in_order_through_every_outage(
    faulty_stack: Stack, broker: EmbeddedKafka
) -> None:
    visitors = [
        Visitor(f"v{n:02d}", faulty_stack.web_url, MESSAGES_EACH, SECONDS_BETWEEN_MESSAGES)
        for n in range(VISITORS)
    ]
    timeline = Timeline()
    await converse(
        visitors, _faults(faulty_stack, broker, timeline), SENDING_TIMEOUT, REPLIES_TIMEOUT
    )

    sent = sum(len(v.sent) for v in visitors)
    replied = sum(len(v.replies) for v in visitors)
    context_waits = _waits(visitors, timeline.at("context killed"), timeline.at("context back"))
    all_waits = _waits(visitors, 0, time.monotonic())
    log.info(
        "faults: %s. %d messages, %d replies; during the context outage %d messages waited "
        "up to %.1f s for their reply (median %.1f s); over the whole run the longest wait "
        "was %.1f s",
        timeline,
        sent,
        replied,
        len(context_waits),
        context_waits[-1] if context_waits else 0.0,
        context_waits[len(context_waits) // 2] if context_waits else 0.0,
        all_waits[-1] if all_waits else 0.0,
    )
    sent_each = {v.name: len(v.sent) for v in visitors}
    assert sent == VISITORS * MESSAGES_EACH, f"{sent_each}\n{_last_lines(faulty_stack)}"
    unanswered = {
        v.name: [
            sent_id
            for sent_id, event_id in zip(v.sent, v.expected(), strict=True)
            if event_id not in {r["in_reply_to"] for r in v.replies.values()}
        ]
        for v in visitors
    }
    assert replied == sent, (
        f"{replied} replies to {sent} messages; faults: {timeline}; unanswered: "
        f"{ {name: ids for name, ids in unanswered.items() if ids} }\n{_last_lines(faulty_stack)}"
    )
    for visitor in visitors:
        assert visitor.replies_in_order() == visitor.expected(), visitor.name
    assert await _dead_letters(broker.bootstrap) == []
