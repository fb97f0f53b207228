"""The plumbing every channel shares: webhook intake and outbound delivery, on a fake platform."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf.message import Message
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.channels.adapter import ParsedWebhook, SendError, TemporarySendError, WebhookResponse
from shared.channels.outbound import DeliveryFailedError, OutboundDelivery, Refusal, RefusalCode
from shared.channels.webhooks import PublicUrls, WebhookIntake, inbound_event_id
from shared.errors import DependencyUnavailableError
from shared.kafka.codec import new_envelope
from shared.kafka.topics import DELIVERY, INBOUND
from tests.fakes.channel import FakeChannelAdapter, sign
from tests.fakes.ports import FakePublisher


class FlakyPublisher(FakePublisher):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def publish(self, topic: str, event: Message) -> None:
        if self.down:
            raise DependencyUnavailableError("broker down")
        await super().publish(topic, event)


@pytest.fixture
async def intake() -> AsyncIterator[tuple[TestClient, FlakyPublisher]]:
    publisher = FlakyPublisher()
    hooks = WebhookIntake(FakeChannelAdapter(), publisher, PublicUrls(), max_body_bytes=1000)
    app = web.Application()
    app.add_routes(hooks.routes("/hook"))
    async with TestClient(TestServer(app)) as client:
        yield client, publisher


def _body(message_id: str = "m-1", text: str = "hello") -> bytes:
    return json.dumps({"from": "user-7", "text": text, "id": message_id}).encode()


async def _post(client: TestClient, body: bytes, signature: str | None = None) -> int:
    headers = {"X-Fake-Signature": sign(body) if signature is None else signature}
    response = await client.post("/hook", data=body, headers=headers)
    return response.status


async def test_a_valid_webhook_is_published_once_however_often_it_comes(
    intake: tuple[TestClient, FlakyPublisher],
) -> None:
    client, publisher = intake
    for _ in range(3):
        assert await _post(client, _body()) == 200
    [(topic, event)] = publisher.published
    assert topic == INBOUND
    assert isinstance(event, messages_pb2.MessageReceived)
    assert event.text == "hello" and event.provider_message_id == "m-1"
    assert event.envelope.event_id == inbound_event_id("telegram", "m-1")
    assert event.envelope.customer.address == "user-7"


async def test_bad_signatures_bad_bodies_and_big_bodies_are_refused(
    intake: tuple[TestClient, FlakyPublisher],
) -> None:
    client, publisher = intake
    body = _body()
    assert await _post(client, body, signature="") == 403
    assert await _post(client, body, signature=sign(b"other body")) == 403
    assert await _post(client, b"{not json") == 400
    assert await _post(client, b"x" * 2000) == 413
    assert (await client.get("/hook")).status == 405
    assert publisher.published == []


async def test_a_broker_outage_is_a_503_and_the_retry_is_published_once(
    intake: tuple[TestClient, FlakyPublisher],
) -> None:
    client, publisher = intake
    publisher.down = True
    assert await _post(client, _body("m-9")) == 503
    publisher.down = False
    assert await _post(client, _body("m-9")) == 200
    assert await _post(client, _body("m-9")) == 200
    assert len(publisher.published) == 1


class _Request:
    """The three things PublicUrls reads from an aiohttp request."""

    def __init__(self, remote: str, headers: dict[str, str]) -> None:
        self.remote, self.headers = remote, headers
        self.scheme, self.host, self.raw_path = "http", "10.0.0.5:8081", "/hook?x=1"


def test_the_public_url_is_the_one_the_platform_signed() -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    behind_proxy = _Request("10.0.0.2", forwarded)
    assert PublicUrls().of(behind_proxy) == "http://10.0.0.5:8081/hook?x=1"  # type: ignore[arg-type]
    trusted = PublicUrls(trusted_proxies=("10.0.0.0/24",))
    assert trusted.of(behind_proxy) == "https://hooks.example.com/hook?x=1"  # type: ignore[arg-type]
    stranger = _Request("203.0.113.9", forwarded)
    assert trusted.of(stranger) == "http://10.0.0.5:8081/hook?x=1"  # type: ignore[arg-type]
    configured = PublicUrls(base_url="https://public.example.org/")
    assert configured.of(stranger) == "https://public.example.org/hook?x=1"  # type: ignore[arg-type]


def _send(
    text: str = "**Hello** there, this is a long reply that will be cut",
) -> messages_pb2.SendMessage:
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id="c",
            channel=envelope_pb2.CHANNEL_TELEGRAM,
            customer=envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_TELEGRAM, address="u-1"),
        ),
        text=text,
    )


def _states(publisher: FakePublisher) -> list[int]:
    return [
        e.state
        for t, e in publisher.published
        if t == DELIVERY and isinstance(e, messages_pb2.MessageDeliveryUpdated)
    ]


async def test_outbound_is_rendered_sent_once_and_reported() -> None:
    adapter, publisher = FakeChannelAdapter(), FakePublisher()
    deliver = OutboundDelivery(adapter, publisher)
    event = _send()
    await deliver(event)
    await deliver(event)
    [sent] = adapter.sent
    assert sent.address == "u-1" and len(sent.text) <= 50 and "**" not in sent.text
    assert _states(publisher) == [messages_pb2.DELIVERY_STATE_SENT]


async def test_temporary_failures_are_retried_and_refusals_are_not() -> None:
    adapter, publisher = FakeChannelAdapter(), FakePublisher()
    deliver = OutboundDelivery(adapter, publisher, first_wait_seconds=0.001)
    adapter.failures = [TemporarySendError("503"), TemporarySendError("429")]
    await deliver(_send("first"))
    assert [m.text for m in adapter.sent] == ["first"]

    adapter.failures = [SendError("blocked number", code="21610")]
    with pytest.raises(DeliveryFailedError, match="blocked number"):
        await deliver(_send("second"))
    assert [m.text for m in adapter.sent] == ["first"]
    assert _states(publisher)[-1] == messages_pb2.DELIVERY_STATE_FAILED


async def test_a_guard_can_veto_a_send() -> None:
    adapter, publisher = FakeChannelAdapter(), FakePublisher()

    async def opted_out(message: object) -> Refusal | None:
        return Refusal(RefusalCode.OPTED_OUT, "the customer opted out")

    await OutboundDelivery(adapter, publisher, guard=opted_out)(_send())
    assert adapter.sent == []
    [report] = [e for _, e in publisher.published]
    assert isinstance(report, messages_pb2.MessageDeliveryUpdated)
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert (report.error_code, report.error_message) == ("opted_out", "the customer opted out")


async def test_work_before_publishing_can_answer_or_make_the_platform_retry() -> None:
    publisher = FakePublisher()
    calls: list[str] = []

    async def before_publish(parsed: ParsedWebhook) -> ParsedWebhook:
        calls.append(parsed.messages[0].text)
        if parsed.messages[0].text == "down":
            raise DependencyUnavailableError("consent store down")
        return replace(parsed, reply=WebhookResponse(200, b"confirmed"))

    hooks = WebhookIntake(
        FakeChannelAdapter(), publisher, PublicUrls(), before_publish=before_publish
    )
    app = web.Application()
    app.add_routes(hooks.routes("/hook"))
    async with TestClient(TestServer(app)) as client:
        body = _body("m-1", "down")
        retry = await client.post("/hook", data=body, headers={"X-Fake-Signature": sign(body)})
        assert retry.status == 503 and publisher.published == []
        body = _body("m-2", "stop")
        answer = await client.post("/hook", data=body, headers={"X-Fake-Signature": sign(body)})
        assert (answer.status, await answer.read()) == (200, b"confirmed")
    assert calls == ["down", "stop"] and len(publisher.published) == 1


async def test_work_before_publishing_marks_messages_and_skips_a_retry_already_published() -> None:
    publisher = FakePublisher()
    seen: list[tuple[str, ...]] = []

    async def before_publish(parsed: ParsedWebhook) -> ParsedWebhook:
        seen.append(tuple(message.text for message in parsed.messages))
        if not parsed.messages:
            return parsed
        marked = tuple(replace(m, compliance_keyword="stop") for m in parsed.messages)
        return replace(parsed, messages=marked, reply=WebhookResponse(200, b"confirmed"))

    hooks = WebhookIntake(
        FakeChannelAdapter(), publisher, PublicUrls(), before_publish=before_publish
    )
    app = web.Application()
    app.add_routes(hooks.routes("/hook"))
    body = _body("m-1", "stop")
    async with TestClient(TestServer(app)) as client:
        first = await client.post("/hook", data=body, headers={"X-Fake-Signature": sign(body)})
        retry = await client.post("/hook", data=body, headers={"X-Fake-Signature": sign(body)})
        assert (first.status, await first.read()) == (200, b"confirmed")
        assert (retry.status, await retry.read()) == (200, b"ok")  # the adapter's own answer
    assert seen == [("stop",), ()]
    [(_, event)] = publisher.published
    assert isinstance(event, messages_pb2.MessageReceived)
    assert event.compliance_keyword == "stop"
