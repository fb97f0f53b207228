"""How the desk shows attachments and which channels it lets agents attach files on."""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import handoff_pb2

from services.agent_desk.attachments import (
    MAX_CAPTION_CHARS,
    Outgoing,
    clean_file_name,
    human_size,
    open_path,
    sends_media,
    sent_media,
    takes_attachments,
    views_of,
)
from services.channels import channel_spec
from services.sms_adapter.config import SmsSettings
from services.sms_adapter.twilio import TwilioAdapter
from services.social_adapter.instagram import InstagramAdapter
from services.social_adapter.messenger import MessengerAdapter
from services.social_adapter.telegram import TelegramAdapter
from services.social_adapter.whatsapp import WhatsAppAdapter

A = envelope_pb2.Attachment


def opener(index: int) -> str:
    return open_path("ticket-1", "turn-1", index)


def test_each_kind_shows_its_label_name_size_and_an_open_link_where_there_are_bytes() -> None:
    views = views_of(
        [
            A(
                reference="whatsapp:media/1",
                kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
                size_bytes=48213,
            ),
            A(
                reference="telegram:file/v",
                kind=envelope_pb2.ATTACHMENT_KIND_AUDIO,
                voice_note=True,
                size_bytes=900,
            ),
            A(
                reference="https://cdn.example/f",
                content_type="application/pdf",
                file_name="invoice <2>.pdf",
                size_bytes=3 * 1024 * 1024,
            ),
            A(
                kind=envelope_pb2.ATTACHMENT_KIND_LOCATION,
                latitude=48.8583701,
                longitude=2.2944813,
                place="Tour Eiffel",
            ),
            A(reference="whatsapp:media/2", kind=envelope_pb2.ATTACHMENT_KIND_STICKER),
            A(reference="", kind=envelope_pb2.ATTACHMENT_KIND_VIDEO),
        ],
        opener,
    )
    assert [(v.kind, v.label, v.file_name, v.size, v.thumbnail) for v in views] == [
        ("image", "Photo", "", "47 KB", True),
        ("voice_note", "Voice note", "", "900 bytes", False),
        ("file", "File", "invoice <2>.pdf", "3.0 MB", False),  # judged by its MIME type
        ("location", "Location", "", "", False),
        ("sticker", "Sticker", "", "", True),
        ("video", "Video", "", "", False),
    ]
    assert [v.open_path for v in views] == [
        "/conversations/ticket-1/turns/turn-1/attachments/0",
        "/conversations/ticket-1/turns/turn-1/attachments/1",
        "/conversations/ticket-1/turns/turn-1/attachments/2",
        "",  # a place has no bytes
        "/conversations/ticket-1/turns/turn-1/attachments/4",
        "",  # no reference: nothing to open
    ]
    place = views[3].location
    assert place is not None
    assert (place.coordinates, place.place) == ("48.85837, 2.29448", "Tour Eiffel")
    assert place.map_url == (
        "https://www.openstreetmap.org/?mlat=48.858370&mlon=2.294481#map=17/48.858370/2.294481"
    )


def test_media_the_desk_cannot_open_or_just_arrived_show_no_link_or_no_thumbnail() -> None:
    photo = A(reference="whatsapp:media/1", kind=envelope_pb2.ATTACHMENT_KIND_IMAGE)
    [unopenable] = views_of([photo], None)
    assert (unopenable.open_path, unopenable.thumbnail) == ("", False)
    [live] = views_of([photo], opener, thumbnails=False)
    assert (bool(live.open_path), live.thumbnail) == (True, False)


def test_paths_escape_ids_and_sizes_read_naturally() -> None:
    assert open_path("t/1", "a b?c", 2) == "/conversations/t%2F1/turns/a%20b%3Fc/attachments/2"
    assert [human_size(n) for n in (0, 1, 1023, 1024, 10 * 1024, 5 * 1024 * 1024)] == [
        "",
        "1 byte",
        "1023 bytes",
        "1.0 KB",
        "10 KB",
        "5.0 MB",
    ]


def test_an_uploads_name_keeps_its_last_part_without_control_characters() -> None:
    assert clean_file_name("C:\\Users\\ana\\parcel.png") == "parcel.png"
    assert clean_file_name("../../etc/pass\x00wd\u202e.pdf") == "passwd.pdf"
    assert len(clean_file_name("x" * 500 + ".pdf")) == 200


def test_an_outgoing_file_keeps_its_type_and_goes_under_the_link_it_is_given() -> None:
    kept = Outgoing("desk:upload/" + "a" * 64, "application/pdf", 1234, "invoice.pdf")
    assert Outgoing.from_json(kept.as_json()) == kept
    sent = kept.message("http://desk.example/media?ref=x&exp=1&sig=y")
    assert (sent.reference, sent.kind, sent.content_type, sent.file_name, sent.size_bytes) == (
        "http://desk.example/media?ref=x&exp=1&sig=y",
        envelope_pb2.ATTACHMENT_KIND_FILE,
        "application/pdf",
        "invoice.pdf",
        1234,
    )
    assert kept.message().reference == kept.reference


def test_a_handoff_for_media_is_marked() -> None:
    def packet(*codes: str) -> handoff_pb2.HandoffRequested:
        return handoff_pb2.HandoffRequested(
            reasons=[handoff_pb2.DecisionReason(code=code) for code in codes]
        )

    assert sent_media(packet("human_requested", "media_received"))
    assert not sent_media(packet("human_requested"))


def test_the_desk_offers_attachments_exactly_where_the_adapters_send_them() -> None:
    capabilities = {
        "web": None,
        "sms": TwilioAdapter(SmsSettings(metrics_port=0)).capabilities,
        "whatsapp": WhatsAppAdapter.capabilities,
        "telegram": TelegramAdapter.capabilities,
        "messenger": MessengerAdapter.capabilities,
        "instagram": InstagramAdapter.capabilities,
    }
    for name, can in capabilities.items():
        assert takes_attachments(name) == (can is not None and can.media), name
    for name in sends_media():
        spec_capabilities = channel_spec(name).capabilities()
        assert spec_capabilities is not None
        assert spec_capabilities.max_caption_chars >= MAX_CAPTION_CHARS
