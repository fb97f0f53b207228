from __future__ import annotations

from typing import Any

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.web_adapter.handlers import ReplyDelivery
from services.web_adapter.sockets import VisitorSockets
from shared.kafka.codec import new_envelope
from shared.kafka.topics import DELIVERY
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


async def test_a_reply_reaches_every_socket_of_its_visitor_once() -> None:
    sockets, publisher = VisitorSockets(held_per_visitor=5), FakePublisher()
    tab1, tab2, stranger = RecordingSocket(), RecordingSocket(), RecordingSocket()
    await sockets.attach("visitor-a", tab1)
    await sockets.attach("visitor-a", tab2)
    await sockets.attach("visitor-b", stranger)
    deliver = ReplyDelivery(sockets, publisher)
    reply = _reply("visitor-a", "hello")

    await deliver(reply)
    await deliver(reply)  # redelivered by Kafka

    assert [f["text"] for f in tab1.frames] == ["hello"]
    assert [f["text"] for f in tab2.frames] == ["hello"]
    assert tab1.frames[0]["sender"] == "bot"
    assert stranger.frames == []
    assert [topic for topic, _ in publisher.published] == [DELIVERY]


async def test_replies_for_an_absent_visitor_are_held_until_they_come_back() -> None:
    sockets, publisher = VisitorSockets(held_per_visitor=5), FakePublisher()
    deliver = ReplyDelivery(sockets, publisher)
    await deliver(_reply("visitor-a", "first"))
    await deliver(_reply("visitor-a", "second"))
    assert publisher.published == []

    socket = RecordingSocket()
    await sockets.attach("visitor-a", socket)
    assert [f["text"] for f in socket.frames] == ["first", "second"]
