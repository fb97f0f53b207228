"""Outbound delivery shared by every adapter: dedupe → guard → render → send → report.

Consumes ``SendMessage`` events for one channel. A send the platform fails temporarily
(5xx, 429, timeout) is retried with exponential back-off; after the last try, or when
the platform refuses for good, the delivery is reported FAILED with the platform's error
and the event goes to the dead-letter topic (the consumer's job: this raises). A guard
can veto a send (an SMS opt-out): the veto is reported and nothing is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message
from rapport.events.v1 import messages_pb2
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shared.channels.adapter import (
    ChannelAdapter,
    OutboundMessage,
    QuickReply,
    SendError,
    TemporarySendError,
)
from shared.channels.rendering import render
from shared.errors import ContractError
from shared.kafka.codec import caused_by
from shared.kafka.producer import Publisher
from shared.kafka.topics import DELIVERY
from shared.observability.metrics import CHANNEL_SENDS
from shared.seen import SeenIds

log = logging.getLogger(__name__)

SendGuard = Callable[[OutboundMessage], Awaitable[str | None]]
"""Returns why a message must not be sent, or None to let it go."""


class DeliveryFailedError(SendError):
    """The platform did not take the message; carries its error to the dead-letter topic."""


class OutboundDelivery:
    def __init__(
        self,
        adapter: ChannelAdapter,
        publisher: Publisher,
        *,
        guard: SendGuard | None = None,
        attempts: int = 4,
        first_wait_seconds: float = 0.5,
        seen: SeenIds | None = None,
    ) -> None:
        self._adapter = adapter
        self._publisher = publisher
        self._guard = guard
        self._attempts = attempts
        self._first_wait = first_wait_seconds
        self._seen = seen or SeenIds()

    async def __call__(self, event: Message) -> None:
        if not isinstance(event, messages_pb2.SendMessage):
            raise ContractError(f"unexpected event {event.DESCRIPTOR.full_name}")
        channel = self._adapter.name
        event_id = event.envelope.event_id
        if event_id in self._seen:
            CHANNEL_SENDS.labels(channel, "duplicate").inc()
            return
        text, buttons = render(
            event.text,
            tuple(QuickReply(q.title, q.payload) for q in event.quick_replies),
            self._adapter.capabilities,
        )
        message = OutboundMessage(
            channel=channel,
            address=event.envelope.customer.address,
            text=text,
            quick_replies=buttons,
            event_id=event_id,
        )
        refusal = await self._guard(message) if self._guard else None
        if refusal is not None:
            log.info("not sending %s on %s: %s", event_id, channel, refusal)
            CHANNEL_SENDS.labels(channel, "refused").inc()
            await self._report(event, "", messages_pb2.DELIVERY_STATE_FAILED, "refused", refusal)
            self._seen.add(event_id)
            return
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(TemporarySendError),
                stop=stop_after_attempt(self._attempts),
                wait=wait_exponential(multiplier=self._first_wait, max=30),
                reraise=True,
            ):
                with attempt:
                    receipt = await self._adapter.send(message)
        except SendError as exc:
            CHANNEL_SENDS.labels(channel, "failed").inc()
            await self._report(event, "", messages_pb2.DELIVERY_STATE_FAILED, exc.code, str(exc))
            self._seen.add(event_id)
            raise DeliveryFailedError(
                f"{channel} did not take {event_id}: {exc}", code=exc.code
            ) from exc
        CHANNEL_SENDS.labels(channel, "sent").inc()
        await self._report(event, receipt.provider_message_id, messages_pb2.DELIVERY_STATE_SENT)
        self._seen.add(event_id)

    async def _report(
        self,
        event: messages_pb2.SendMessage,
        provider_message_id: str,
        state: messages_pb2.DeliveryState,
        error_code: str = "",
        error_message: str = "",
    ) -> None:
        envelope = event.envelope
        await self._publisher.publish(
            DELIVERY,
            messages_pb2.MessageDeliveryUpdated(
                envelope=caused_by(envelope, f"delivery:{state}"),
                send_event_id=envelope.event_id,
                provider_message_id=provider_message_id,
                state=state,
                error_code=error_code,
                error_message=error_message[:500],
            ),
        )
