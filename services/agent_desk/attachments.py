"""Attachments as the desk shows and sends them. Pure: no I/O.

**Shown.** Each attachment of a turn (a customer's photo, voice note, video, file, sticker
or location; an agent's image or PDF) is a kind with an icon and a label, the file's name
and size, and for a location its coordinates and place with a plain link to a map (no
embedded map: nothing of the customer's goes to a third party unless the agent clicks).
Whatever has bytes gets a link the desk opens it through, for a signed-in agent who may
see the ticket (:func:`open_path`, served by ``http_app``); images and stickers show a
thumbnail through the same link.

**Sent.** An agent attaches one image or PDF to a reply (:class:`Outgoing`), on the
channels whose adapters can carry it (:func:`sends_media`); the text is then its caption.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import handoff_pb2

from services.channels import BUILTIN_CHANNELS
from shared.channels.adapter import Attachment, AttachmentKind
from shared.channels.attachments import from_proto, kind_of, to_proto
from shared.media_store import IMAGE_TYPES

MAX_CAPTION_CHARS = 1024
"""The longest text the desk sends with an attachment; every channel that sends one takes
at least this much."""
UPLOAD_TYPES = IMAGE_TYPES | {"application/pdf"}
"""What an agent may attach, judged from the file's first bytes."""
MAX_FILE_NAME_CHARS = 200
MEDIA_RECEIVED = "media_received"
"""The policy's reason code for a customer's photo, recording, file or place."""

_LABELS = {
    "image": "Photo",
    "voice_note": "Voice note",
    "audio": "Audio",
    "video": "Video",
    "file": "File",
    "location": "Location",
    "sticker": "Sticker",
}
_THUMBNAILED = frozenset({"image", "sticker"})


@dataclass(frozen=True, slots=True)
class LocationView:
    coordinates: str
    place: str
    map_url: str


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """One attachment as the timeline shows it (its icon is its ``kind``'s);
    ``open_path`` is empty when there is nothing to open (a location, or media the desk
    cannot reach)."""

    kind: str
    label: str
    file_name: str
    size: str
    content_type: str
    open_path: str
    thumbnail: bool
    location: LocationView | None


def kind_name(attachment: envelope_pb2.Attachment) -> str:
    """``image``, ``voice_note``, ``audio``, ``video``, ``file``, ``location`` or
    ``sticker``; an unnamed kind is judged by its MIME type."""
    kind = from_proto(attachment).kind
    if kind is AttachmentKind.AUDIO and attachment.voice_note:
        return "voice_note"
    return kind.value


def human_size(size_bytes: int) -> str:
    """``48213`` → ``47 KB``; empty when the platform did not say."""
    if size_bytes <= 0:
        return ""
    if size_bytes < 1024:
        return "1 byte" if size_bytes == 1 else f"{size_bytes} bytes"
    value, unit = size_bytes / 1024, "KB"
    if value >= 1024:
        value, unit = value / 1024, "MB"
    return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"


def location_of(attachment: envelope_pb2.Attachment) -> LocationView:
    latitude, longitude = attachment.latitude, attachment.longitude
    query = urlencode({"mlat": f"{latitude:.6f}", "mlon": f"{longitude:.6f}"})
    return LocationView(
        coordinates=f"{latitude:.5f}, {longitude:.5f}",
        place=attachment.place,
        map_url=f"https://www.openstreetmap.org/?{query}#map=17/{latitude:.6f}/{longitude:.6f}",
    )


def open_path(ticket_id: str, turn_id: str, index: int) -> str:
    """Where the desk opens attachment ``index`` of a turn shown on a ticket's page."""
    return (
        f"/conversations/{quote(ticket_id, safe='')}/turns/{quote(turn_id, safe='')}"
        f"/attachments/{index}"
    )


def views_of(
    attachments: Iterable[envelope_pb2.Attachment],
    opener: Callable[[int], str] | None,
    *,
    thumbnails: bool = True,
) -> tuple[AttachmentView, ...]:
    """The attachments of one turn; ``opener`` gives the path opening the one at an index
    (None: the desk cannot open this turn's media)."""
    views = []
    for index, attachment in enumerate(attachments):
        kind = kind_name(attachment)
        is_location = kind == "location"
        path = opener(index) if opener and attachment.reference and not is_location else ""
        views.append(
            AttachmentView(
                kind=kind,
                label=_LABELS[kind],
                file_name=attachment.file_name,
                size=human_size(attachment.size_bytes),
                content_type=attachment.content_type,
                open_path=path,
                thumbnail=thumbnails and bool(path) and kind in _THUMBNAILED,
                location=location_of(attachment) if is_location else None,
            )
        )
    return tuple(views)


def sent_media(packet: handoff_pb2.HandoffRequested) -> bool:
    """Whether the bot handed the conversation over for media it cannot look at."""
    return any(reason.code == MEDIA_RECEIVED for reason in packet.reasons)


@functools.cache
def sends_media() -> frozenset[str]:
    """Channels whose adapters send an image or file a person attaches (their declared
    ``Capabilities.media``); the others refuse it as ``media_unsupported``. Read once,
    when first needed, because the SMS channel's rules come from its settings."""
    return frozenset(
        spec.name
        for spec in BUILTIN_CHANNELS
        if (capabilities := spec.capabilities()) is not None and capabilities.media
    )


def takes_attachments(channel: str) -> bool:
    return channel in sends_media()


def clean_file_name(name: str) -> str:
    """The name an uploaded file goes out under: its last path part, without control
    characters, at most :data:`MAX_FILE_NAME_CHARS`."""
    last = PurePosixPath(name.replace("\\", "/")).name
    printable = "".join(c for c in last if unicodedata.category(c)[0] != "C")
    return unicodedata.normalize("NFC", printable).strip()[:MAX_FILE_NAME_CHARS]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An image or PDF an agent attached, as the desk keeps it (its ``desk:upload/…``
    reference); each send carries a fresh signed link to it (:meth:`message`)."""

    reference: str
    content_type: str
    size_bytes: int
    file_name: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outgoing:
        return cls(
            reference=str(data["reference"]),
            content_type=str(data["content_type"]),
            size_bytes=int(data["size_bytes"]),
            file_name=str(data.get("file_name", "")),
        )

    def message(self, reference: str = "") -> envelope_pb2.Attachment:
        """As the contract carries it, under ``reference`` (a signed link) or its own."""
        return to_proto(
            Attachment(
                reference or self.reference,
                kind_of(self.content_type),
                content_type=self.content_type,
                size_bytes=self.size_bytes,
                file_name=self.file_name,
            )
        )
