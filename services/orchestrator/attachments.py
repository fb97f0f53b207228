"""What a message carries besides text, named the way the policy and the voice speak of it.

Pure. One name per kind of attachment: ``image``, ``voice_note``, ``audio``, ``video``,
``file``, ``location``, ``sticker`` (the keys of ``attachments.received`` in voice.yaml).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rapport.common.v1 import envelope_pb2

_NAMES = {
    envelope_pb2.ATTACHMENT_KIND_IMAGE: "image",
    envelope_pb2.ATTACHMENT_KIND_AUDIO: "audio",
    envelope_pb2.ATTACHMENT_KIND_VIDEO: "video",
    envelope_pb2.ATTACHMENT_KIND_FILE: "file",
    envelope_pb2.ATTACHMENT_KIND_LOCATION: "location",
    envelope_pb2.ATTACHMENT_KIND_STICKER: "sticker",
}

# For the agent's summary, in the summary's language (English).
_SUMMARY_WORDS = {
    "image": "a photo",
    "voice_note": "a voice note",
    "audio": "an audio file",
    "video": "a video",
    "file": "a file",
    "location": "a location",
    "sticker": "a sticker",
}

KINDS = tuple(_SUMMARY_WORDS)
"""Every name ``kind_of`` gives."""


def kind_of(attachment: envelope_pb2.Attachment) -> str:
    """The attachment's kind; one the adapter did not name is a file a person opens."""
    if attachment.kind == envelope_pb2.ATTACHMENT_KIND_AUDIO and attachment.voice_note:
        return "voice_note"
    return _NAMES.get(attachment.kind, "file")


def kinds_of(attachments: Iterable[envelope_pb2.Attachment]) -> list[str]:
    """The kind of each attachment, in order (three photos are three ``image``)."""
    return [kind_of(attachment) for attachment in attachments]


def distinct(kinds: Iterable[str]) -> tuple[str, ...]:
    """Each kind once, in the order first seen."""
    return tuple(dict.fromkeys(kinds))


def summary_line(kinds: Sequence[str], has_text: bool) -> str:
    """The sentence the agent's summary gains: what the latest message carries."""
    items = [_SUMMARY_WORDS[kind] for kind in distinct(kinds)]
    if not has_text:
        items.append("no text")
    listed = items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
    return f"The latest message carries {listed}."
