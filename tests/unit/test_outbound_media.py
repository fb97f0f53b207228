"""An agent's image through the shared outbound delivery: carried where the channel can,
refused with ``media_unsupported`` where it cannot, the text rendered as a caption."""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from shared.channels.adapter import Attachment, AttachmentKind, Capabilities
from shared.channels.outbound import OutboundDelivery
from shared.kafka.codec import new_envelope
from shared.kafka.topics import DELIVERY
from tests.fakes.channel import FakeChannelAdapter
from tests.fakes.ports import FakePublisher

LINK = "http://127.0.0.1:8083/media?ref=desk%3Aupload%2Fabc&exp=1&sig=x"
PHOTO = envelope_pb2.Attachment(
    reference=LINK, content_type="image/png", kind=envelope_pb2.ATTACHMENT_KIND_IMAGE
)


class MediaChannel(FakeChannelAdapter):
    capabilities = Capabilities(max_text_chars=200, media=True, max_caption_chars=30)


def _send(text: str, *attachments: envelope_pb2.Attachment) -> messages_pb2.SendMessage:
    channel = envelope_pb2.CHANNEL_TELEGRAM
    return messages_pb2.SendMessage(
        envelope=new_envelope(
            conversation_id="c",
            channel=channel,
            customer=envelope_pb2.CustomerRef(channel=channel, address="u-1"),
        ),
        text=text,
        sender=messages_pb2.SENDER_AGENT,
        attachments=list(attachments),
    )


def _reports(publisher: FakePublisher) -> list[messages_pb2.MessageDeliveryUpdated]:
    return [
        event
        for topic, event in publisher.published
        if topic == DELIVERY and isinstance(event, messages_pb2.MessageDeliveryUpdated)
    ]


async def test_an_image_goes_out_with_its_text_as_a_caption_within_the_caption_limit() -> None:
    adapter, publisher = MediaChannel(), FakePublisher()
    await OutboundDelivery(adapter, publisher)(
        _send("Here is the label we printed for your parcel, as asked", PHOTO)
    )
    [sent] = adapter.sent
    assert sent.attachments == (Attachment(LINK, AttachmentKind.IMAGE, "image/png"),)
    assert len(sent.text) <= 30 and sent.text.startswith("Here is the label")
    assert [r.state for r in _reports(publisher)] == [messages_pb2.DELIVERY_STATE_SENT]


async def test_a_channel_without_media_refuses_the_attachment_and_sends_nothing() -> None:
    adapter, publisher = FakeChannelAdapter(), FakePublisher()
    await OutboundDelivery(adapter, publisher)(_send("See the photo", PHOTO))
    assert adapter.sent == []
    [report] = _reports(publisher)
    assert report.state == messages_pb2.DELIVERY_STATE_FAILED
    assert report.error_code == "media_unsupported"


async def test_two_attachments_in_one_message_are_refused() -> None:
    adapter, publisher = MediaChannel(), FakePublisher()
    await OutboundDelivery(adapter, publisher)(_send("", PHOTO, PHOTO))
    assert adapter.sent == []
    [report] = _reports(publisher)
    assert report.error_code == "media_unsupported" and "one image" in report.error_message
