from __future__ import annotations

import asyncio
import uuid
from typing import Any

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.web_adapter.handlers import HeldHandover, ReplyDelivery
from services.web_adapter.held import HeldReplies
from services.web_adapter.sockets import VisitorSockets
from shared.kafka.codec import Headers, new_envelope
from shared.kafka.topics import DELIVERY, WEB_HELD_REPLIES
from tests.fakes.ports import FakePublisher


class RecordingSocket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.closed = False

    async def send_json(self, data: Any) -> None:
        self.frames.append(data)


def _reply(visitor: str, text: str) -> messages_pb2.SendMessage:
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id="c",
            channel=envelope_pb2.CHANNEL_WEB,
            customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_WEB, address=visitor),
        ),
        text=text,
        sender=messages_pb2.SENDER_BOT,
    )


async def _settled(publisher: FakePublisher, reports: int) -> None:
    for _ in range(100):
        if len(publisher.published) >= reports:
            return
        await asyncio.sleep(0.01)


def _web_adapter(
    held_per_visitor: int = 5,
) -> tuple[VisitorSockets, ReplyDelivery, FakePublisher]:
    publisher = FakePublisher()
    held = HeldReplies(publisher, held_per_visitor)
    sockets = VisitorSockets(on_arrival=HeldHandover(held, publisher))
    return sockets, ReplyDelivery(sockets, publisher, held), publisher


async def test_a_reply_reaches_every_socket_of_its_visitor_once() -> None:
    sockets, deliver, publisher = _web_adapter()
    tab1, tab2, stranger = RecordingSocket(), RecordingSocket(), RecordingSocket()
    await sockets.attach("visitor-a", tab1)
    await sockets.attach("visitor-a", tab2)
    await sockets.attach("visitor-b", stranger)
    reply = _reply("visitor-a", "hello")

    await deliver(reply)
    await deliver(reply)  # redelivered by Kafka

    assert [f["text"] for f in tab1.frames] == ["hello"]
    assert [f["text"] for f in tab2.frames] == ["hello"]
    assert tab1.frames[0]["sender"] == "bot"
    assert stranger.frames == []
    assert [topic for topic, _ in publisher.published] == [DELIVERY]
    assert publisher.raw == []  # nothing held


async def test_replies_for_an_absent_visitor_are_held_durably_until_they_come_back() -> None:
    sockets, deliver, publisher = _web_adapter()
    first, second = _reply("visitor-a", "first"), _reply("visitor-a", "second")
    await deliver(first)
    await deliver(second)
    assert publisher.published == []
    assert [(topic, value is not None) for topic, _, value in publisher.raw] == [
        (WEB_HELD_REPLIES, True),
        (WEB_HELD_REPLIES, True),
    ]

    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)
    assert [f["text"] for f in socket.frames] == ["first", "second"]
    await _settled(publisher, reports=2)  # reports and releases go on beside the socket
    held_keys = [key for _, key, value in publisher.raw if value is not None]
    released_keys = [key for _, key, value in publisher.raw if value is None]
    assert released_keys == held_keys  # a tombstone for each
    assert [event.send_event_id for _, event in publisher.published] == [  # type: ignore[attr-defined]
        first.envelope.event_id,
        second.envelope.event_id,
    ]

    again = RecordingSocket()
    await sockets.attach("visitor-a", again)
    assert again.frames == []  # handed over once


async def test_a_visitor_over_the_bound_loses_the_oldest_and_its_record_is_released() -> None:
    sockets, deliver, publisher = _web_adapter(held_per_visitor=2)
    for text in ("one", "two", "three"):
        await deliver(_reply("visitor-a", text))
    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)

    assert [f["text"] for f in socket.frames] == ["two", "three"]
    tombstones = [key for _, key, value in publisher.raw if value is None]
    assert tombstones[:1] == [publisher.raw[0][1]]  # "one" released when dropped


class SlowBroker(FakePublisher):
    """A broker that takes its time acknowledging the held-replies topic."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    async def publish_raw(
        self, topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> None:
        if topic == WEB_HELD_REPLIES and value is not None:
            self.writing.set()
            await self.release.wait()
        await super().publish_raw(topic, key, value, headers)


async def test_a_visitor_back_while_their_reply_is_being_held_gets_it_at_once() -> None:
    publisher = SlowBroker()
    held = HeldReplies(publisher, 5)
    sockets = VisitorSockets(on_arrival=HeldHandover(held, publisher))
    deliver = ReplyDelivery(sockets, publisher, held)

    holding = asyncio.create_task(deliver(_reply("visitor-a", "how would you rate us?")))
    await publisher.writing.wait()  # no socket: the reply is being written to Kafka
    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)  # the visitor comes back meanwhile
    publisher.release.set()
    await holding

    assert [f["text"] for f in socket.frames] == ["how would you rate us?"]


async def test_a_file_for_a_web_visitor_is_reported_refused_not_dropped_silently() -> None:
    sockets, deliver, publisher = _web_adapter()
    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)
    with_file = _reply("visitor-a", "Here is your invoice")
    with_file.attachments.add(
        reference="http://127.0.0.1:8083/media?ref=desk:upload/abc",
        content_type="application/pdf",
        kind=envelope_pb2.ATTACHMENT_KIND_FILE,
    )

    await deliver(with_file)

    assert socket.frames == []
    [(topic, report)] = publisher.published
    assert topic == DELIVERY
    assert isinstance(report, messages_pb2.MessageDeliveryUpdated)
    assert report.send_event_id == with_file.envelope.event_id
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert report.error_code == "media_unsupported"


def _preparing(reply: messages_pb2.SendMessage) -> messages_pb2.PreparingReply:
    """The bot's word that ``reply`` is being prepared, as the orchestrator sends it."""
    envelope = envelope_pb2.Envelope()
    envelope.CopyFrom(reply.envelope)
    envelope.event_id = str(uuid.uuid4())
    return messages_pb2.PreparingReply(
        envelope=envelope, in_reply_to=reply.in_reply_to, sender_name=reply.sender_name
    )


async def test_a_reply_being_prepared_shows_on_open_sockets_once_and_is_not_held() -> None:
    sockets, deliver, publisher = _web_adapter()
    reply = _reply("visitor-a", "It is on its way")
    reply.in_reply_to, reply.sender_name = str(uuid.uuid4()), "Robin"
    coming = _preparing(reply)
    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)

    await deliver(coming)
    await deliver(coming)  # redelivered by Kafka
    await deliver(reply)

    assert [frame["type"] for frame in socket.frames] == ["typing", "reply"]
    assert socket.frames[0] == {
        "type": "typing",
        "event_id": coming.envelope.event_id,
        "in_reply_to": reply.in_reply_to,
        "sender_name": "Robin",
    }
    assert socket.frames[1]["in_reply_to"] == reply.in_reply_to
    assert [topic for topic, _ in publisher.published] == [DELIVERY]  # the reply's report

    await deliver(_preparing(_reply("visitor-b", "for someone away")))
    assert publisher.raw == [] and publisher.published[1:] == []  # neither held nor reported
