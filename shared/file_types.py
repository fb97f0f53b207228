"""What a file is, read from its bytes, never from the sender's word.

Customers attach photos, voice memos, videos, office documents, archives and logs; a
store keeps only the types it was given, so each must be recognised here first. The
signatures are a short table, checked in plain Python: libmagic would be a system
dependency, and its answers (``text/html``, ``image/svg+xml``) include types that must
never be served from the adapters' origin anyway. Nothing here answers HTML, SVG or
script: text that opens with markup is not recognised at all, and other text is plain
text, which ``/media`` serves as a download that is never run.

Containers are looked into, not trusted by their outer shape: a ZIP is a Word, Excel or
PowerPoint file only when its directory says so, an OpenDocument file only when its first
entry is the ``mimetype`` the format requires, and an old Office file only by the stream
its directory names.
"""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
from typing import BinaryIO

SNIFF_BYTES = 4096
"""How much of a file's start is read: every signature, and enough text to judge it."""

ZIP = "application/zip"
_OOXML = "application/vnd.openxmlformats-officedocument."
_OOXML_PARTS = {
    "word/": _OOXML + "wordprocessingml.document",
    "xl/": _OOXML + "spreadsheetml.sheet",
    "ppt/": _OOXML + "presentationml.presentation",
}
_ODF = frozenset(
    f"application/vnd.oasis.opendocument.{kind}"
    for kind in ("text", "spreadsheet", "presentation", "graphics")
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE2_STREAMS = {
    "WordDocument": "application/msword",
    "Workbook": "application/vnd.ms-excel",
    "Book": "application/vnd.ms-excel",
    "PowerPoint Document": "application/vnd.ms-powerpoint",
}
_ISO_BRANDS = {  # the ``ftyp`` box's major brand of the ISO media family
    **dict.fromkeys(("M4A ", "M4B "), "audio/mp4"),
    **dict.fromkeys(("qt  ",), "video/quicktime"),
    **dict.fromkeys(("heic", "heix", "heim", "heis", "hevc", "hevx"), "image/heic"),
    **dict.fromkeys(("mif1", "msf1"), "image/heif"),
    **dict.fromkeys(("3gp4", "3gp5", "3gp6", "3g2a"), "video/3gpp"),
    **dict.fromkeys(
        ("isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "MSNV", "dash"),
        "video/mp4",
    ),
}
# Bytes text never holds; escape (0x1B) is allowed for logs coloured for a terminal.
_CONTROL_BYTES = frozenset(range(0x09)) | frozenset(range(0x0E, 0x20)) - {0x1B} | {0x7F}
_CSV_DELIMITERS = (",", ";", "\t")
_CSV_SAMPLE_LINES = 10
_CSV_MIN_LINES = 3


def sniff(data: bytes) -> str:
    """The type ``data`` (a whole file, or its first bytes) shows, or ``""`` when unknown."""
    return sniff_file(io.BytesIO(data))


def sniff_file(file: BinaryIO) -> str:
    """The type the seekable ``file`` shows, or ``""``; reads its start, and a ZIP's
    directory at its end."""
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head, file)
    if head.startswith(_OLE2):
        return _ole2_type(head)
    return _signature_type(head) or _text_type(head, complete=len(head) < SNIFF_BYTES)


def _signature_type(head: bytes) -> str:
    """Formats announced by fixed bytes at a fixed place."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(head[8:12], "")
    if head[4:8] == b"ftyp":
        return _ISO_BRANDS.get(head[8:12].decode("latin-1"), "")
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska; WebM names itself in the header
        return "video/webm" if b"\x42\x82\x84webm" in head[:64] else ""
    return _mpeg_audio_type(head)


def _mpeg_audio_type(head: bytes) -> str:
    """MP3 (with an ID3 tag or from its first frame) and AAC in ADTS frames."""
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if len(head) < 2 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return ""
    layer = (head[1] >> 1) & 0b11
    if layer == 0b01:
        return "audio/mpeg"
    if layer == 0b00 and head[1] & 0xF0 == 0xF0:
        return "audio/aac"
    return ""


def _zip_type(head: bytes, file: BinaryIO) -> str:
    """An OpenDocument file, an Office Open XML file, a plain ZIP, or ``""`` if unreadable."""
    opendocument = _odf_type(head)
    if opendocument:
        return opendocument
    try:
        names = zipfile.ZipFile(file).namelist()  # reads the directory only
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return ""
    if "[Content_Types].xml" in names:
        for prefix, content_type in _OOXML_PARTS.items():
            if any(name.startswith(prefix) for name in names):
                return content_type
    return ZIP


def _odf_type(head: bytes) -> str:
    """OpenDocument's rule: the first entry is ``mimetype``, stored, holding the type."""
    if len(head) < 30 or head[8:10] != b"\x00\x00":  # compression: stored
        return ""
    (size,) = struct.unpack_from("<I", head, 18)
    name_length, extra_length = struct.unpack_from("<HH", head, 26)
    if head[30 : 30 + name_length] != b"mimetype":
        return ""
    start = 30 + name_length + extra_length
    declared = head[start : start + min(size, 100)].decode("ascii", "replace")
    return declared if declared in _ODF else ""


def _ole2_type(head: bytes) -> str:
    """Word, Excel or PowerPoint 97-2003, by a stream named in the first directory sector.

    The first sector holds the root and the first streams written, which is where these
    programs put their main stream; a file whose first sector names none is not kept.
    """
    if len(head) < 0x34:
        return ""
    (sector_shift,) = struct.unpack_from("<H", head, 0x1E)
    (first_directory_sector,) = struct.unpack_from("<I", head, 0x30)
    sector_bytes = 1 << sector_shift
    start = (first_directory_sector + 1) * sector_bytes
    directory = head[start : start + sector_bytes]
    for entry in range(0, len(directory) - 127, 128):
        (name_bytes,) = struct.unpack_from("<H", directory, entry + 64)
        name = directory[entry : entry + max(name_bytes - 2, 0)].decode("utf-16-le", "replace")
        if name in _OLE2_STREAMS:
            return _OLE2_STREAMS[name]
    return ""


def _text_type(head: bytes, *, complete: bool) -> str:
    """``text/vcard``, ``text/csv`` or ``text/plain`` for readable text that is not markup
    (HTML, SVG, XML), else ``""``; ``complete``: ``head`` is the whole file."""
    text = _decoded(head)
    start = (text or "").lstrip()
    if not start or start.startswith("<"):
        return ""
    if start.upper().startswith("BEGIN:VCARD"):
        return "text/vcard"
    return "text/csv" if _looks_tabular(text or "", complete=complete) else "text/plain"


def _decoded(head: bytes) -> str | None:
    """The text of ``head`` (a cut character at its end allowed), or None for binary."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return _decode(head[len(bom) :], encoding)
    text = _decode(head.removeprefix(codecs.BOM_UTF8), "utf-8")
    if text is None and not _CONTROL_BYTES.intersection(head):
        text = head.decode("cp1252", "replace")  # an older single-byte encoding
    return text


def _decode(data: bytes, encoding: str) -> str | None:
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return None
    if any(ord(character) in _CONTROL_BYTES for character in text):
        return None
    return text


def _looks_tabular(text: str, *, complete: bool) -> bool:
    """Three or more whole lines, each with the same number (one or more) of one delimiter;
    two lines of prose with a comma each are too common to count."""
    lines = text.splitlines() if complete else text.splitlines()[:-1]  # the last may be cut
    lines = [line for line in lines[:_CSV_SAMPLE_LINES] if line.strip()]
    if len(lines) < _CSV_MIN_LINES:
        return False
    for delimiter in _CSV_DELIMITERS:
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts != {0}:
            return True
    return False
