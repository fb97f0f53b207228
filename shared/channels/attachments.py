"""Attachments between the adapters' dataclass and the contract, and kinds from MIME types.

Pure: no I/O.
"""

from __future__ import annotations

from rapport.common.v1 import envelope_pb2

from shared.channels.adapter import Attachment, AttachmentKind

_TO_PROTO = {
    AttachmentKind.IMAGE: envelope_pb2.ATTACHMENT_KIND_IMAGE,
    AttachmentKind.AUDIO: envelope_pb2.ATTACHMENT_KIND_AUDIO,
    AttachmentKind.VIDEO: envelope_pb2.ATTACHMENT_KIND_VIDEO,
    AttachmentKind.FILE: envelope_pb2.ATTACHMENT_KIND_FILE,
    AttachmentKind.LOCATION: envelope_pb2.ATTACHMENT_KIND_LOCATION,
    AttachmentKind.STICKER: envelope_pb2.ATTACHMENT_KIND_STICKER,
}
_FROM_PROTO = {number: kind for kind, number in _TO_PROTO.items()}
_BY_MAJOR_TYPE = {
    "image": AttachmentKind.IMAGE,
    "audio": AttachmentKind.AUDIO,
    "video": AttachmentKind.VIDEO,
}


def media_type(content_type: str) -> str:
    """``"Image/JPEG; charset=x"`` → ``"image/jpeg"``: the MIME type without parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def kind_of(content_type: str) -> AttachmentKind:
    """What a MIME type says a file is: ``image/*``, ``audio/*``, ``video/*``, else a file."""
    major = media_type(content_type).partition("/")[0]
    return _BY_MAJOR_TYPE.get(major, AttachmentKind.FILE)


def to_proto(attachment: Attachment) -> envelope_pb2.Attachment:
    return envelope_pb2.Attachment(
        reference=attachment.reference,
        content_type=attachment.content_type,
        kind=_TO_PROTO[attachment.kind],
        size_bytes=attachment.size_bytes,
        file_name=attachment.file_name,
        voice_note=attachment.voice_note,
        latitude=attachment.latitude,
        longitude=attachment.longitude,
        place=attachment.place,
    )


def from_proto(attachment: envelope_pb2.Attachment) -> Attachment:
    """The dataclass of a contract's attachment; an unnamed kind is judged by its MIME type."""
    return Attachment(
        reference=attachment.reference,
        kind=_FROM_PROTO.get(attachment.kind) or kind_of(attachment.content_type),
        content_type=attachment.content_type,
        size_bytes=attachment.size_bytes,
        file_name=attachment.file_name,
        voice_note=attachment.voice_note,
        latitude=attachment.latitude,
        longitude=attachment.longitude,
        place=attachment.place,
    )
