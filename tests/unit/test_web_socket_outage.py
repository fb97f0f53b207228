"""While Kafka is away the chat socket says "pending", keeps the socket, and loses nothing."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.message import Message
from rapport.events.v1 import messages_pb2

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.http_app import create_app
from services.web_adapter.protocol import PENDING_TEXT
from services.web_adapter.sockets import VisitorSockets
from shared.errors import DependencyUnavailableError
from tests.fakes.ports import FakePublisher


class BrokerAway(FakePublisher):
    """A publisher whose broker is down until the test brings it back."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False

    async def publish(self, topic: str, event: Message) -> None:
        if not self.up:
            raise DependencyUnavailableError("Kafka did not accept a record: timed out")
        await super().publish(topic, event)


async def test_a_message_sent_while_kafka_is_away_is_pending_then_taken_once_back() -> None:
    publisher = BrokerAway()
    app = create_app(WebAdapterSettings(), publisher, VisitorSockets())
    async with TestClient(TestServer(app)) as client:
        socket = await client.ws_connect("/ws?visitor=visitor-outage-0123456789")
        assert (await socket.receive_json())["type"] == "welcome"
        frame = {"type": "message", "text": "Is my order on its way?", "client_message_id": "m-1"}

        await socket.send_json(frame)
        pending = await socket.receive_json()
        assert pending["type"] == "pending"
        assert pending["client_message_id"] == "m-1"
        assert pending["message"] == PENDING_TEXT
        assert "not received" not in pending["message"]
        assert pending["retry_after_ms"] > 0

        publisher.up = True
        await socket.send_json(frame)  # the page sends it again, as it said it would
        ack = await socket.receive_json()
        await socket.close()

    assert ack["type"] == "ack" and ack["client_message_id"] == "m-1"
    [(_, event)] = publisher.published
    assert isinstance(event, messages_pb2.MessageReceived)
    assert event.text == "Is my order on its way?"


async def test_the_health_check_answers_503_until_replies_can_arrive() -> None:
    in_group = False
    app = create_app(WebAdapterSettings(), FakePublisher(), VisitorSockets(), lambda: in_group)
    async with TestClient(TestServer(app)) as client:
        joining = await client.get("/healthz")
        assert joining.status == 503 and (await joining.json())["status"] == "starting"
        in_group = True
        ready = await client.get("/healthz")
        assert ready.status == 200 and (await ready.json())["status"] == "ok"
