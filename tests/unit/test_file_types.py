"""File types read from bytes shaped like the files customers really attach."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import DEFAULT_MEDIA_TYPES
from shared.file_types import SNIFF_BYTES, ZIP, sniff, sniff_file
from shared.media_store import UploadStore

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"


def zipped(entries: dict[str, bytes], *, stored_first: bool = False) -> bytes:
    """A ZIP as office programs write it; ``stored_first``: the first entry uncompressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries.items()):
            plain = stored_first and index == 0
            archive.writestr(name, data, zipfile.ZIP_STORED if plain else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def ooxml(part: str) -> bytes:
    return zipped(
        {
            "[Content_Types].xml": b"<?xml version='1.0'?><Types/>",
            "_rels/.rels": b"<Relationships/>",
            "docProps/app.xml": b"<Properties/>",
            f"{part}/document.xml": b"<document/>",
        }
    )


def opendocument(mimetype: bytes) -> bytes:
    return zipped(
        {"mimetype": mimetype, "content.xml": b"<office:document-content/>"}, stored_first=True
    )


def ole2(stream: str) -> bytes:
    """A compound file (Office 97-2003): header, one FAT sector, then the directory."""
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHH", header, 0x1A, 0x3E, 3, 0xFFFE)  # version 3, little-endian
    struct.pack_into("<H", header, 0x1E, 9)  # 512-byte sectors
    struct.pack_into("<I", header, 0x30, 1)  # the directory starts in sector 1
    directory = bytearray(512)
    for index, name in enumerate(("Root Entry", "1Table", stream)):
        encoded = (name + "\0").encode("utf-16-le")
        directory[index * 128 : index * 128 + len(encoded)] = encoded
        struct.pack_into("<H", directory, index * 128 + 64, len(encoded))
    return bytes(header) + bytes(512) + bytes(directory)


def iso_media(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00isommp41" + bytes(64)


WEBM = (
    bytes.fromhex("1a45dfa3")
    + bytes.fromhex("9f4286810142f7810142f2810442f381084282")
    + (b"\x84webm\x42\x87\x81\x04\x42\x85\x81\x02")
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ooxml("word"), DOCX),
        (ooxml("xl"), XLSX),
        (ooxml("ppt"), PPTX),
        (opendocument(ODT.encode()), ODT),
        (zipped({"logs/app.log": b"started\n", "notes.txt": b"hello"}), ZIP),
        (zipped({"[Content_Types].xml": b"<Types/>", "other/a.xml": b"<a/>"}), ZIP),
        (opendocument(b"text/html"), ZIP),  # a ZIP naming its own type is not believed
        (ole2("WordDocument"), "application/msword"),
        (ole2("Workbook"), "application/vnd.ms-excel"),
        (ole2("PowerPoint Document"), "application/vnd.ms-powerpoint"),
        (ole2("__substg1.0_0037001F"), ""),  # an Outlook item
        (b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE" + bytes(40), "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + bytes(400), "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(100), "audio/aac"),
        (iso_media(b"M4A "), "audio/mp4"),
        (iso_media(b"isom"), "video/mp4"),
        (iso_media(b"mp42"), "video/mp4"),
        (iso_media(b"qt  "), "video/quicktime"),
        (iso_media(b"heic"), "image/heic"),
        (iso_media(b"mif1"), "image/heif"),
        (iso_media(b"3gp5"), "video/3gpp"),
        (iso_media(b"crx "), ""),
        (b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead", "audio/ogg"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", "audio/wav"),
        (b"RIFF\x24\x08\x00\x00AVI LIST", ""),
        (b"#!AMR\n" + bytes(30), "audio/amr"),
        (WEBM, "video/webm"),
        (WEBM.replace(b"\x84webm", b"\x88matroska"), ""),
        (b"2026-12-07 06:00:01 ERROR payment declined\n" * 3, "text/plain"),
        ("Grüße aus Köln,\r\nAna\r\n".encode(), "text/plain"),
        ("Grüße aus Köln".encode("cp1252"), "text/plain"),
        (b"\xff\xfe" + "log line\r\n".encode("utf-16-le"), "text/plain"),
        (b"\x1b[31mERROR\x1b[0m disk full\n", "text/plain"),
        (b"order,date,total\n1042,2026-12-01,19.90\n1043,2026-12-02,5.00\n", "text/csv"),
        (b"order;total\r\n1042;19,90\r\n1043;5,00\r\n", "text/csv"),  # decimal commas
        (b"Hello, my order is late.\nThanks, Ana\n", "text/plain"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana Lima\r\nEND:VCARD\r\n", "text/vcard"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ""),
        (b"  \n<!DOCTYPE html><html><script>alert(1)</script>", ""),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", ""),  # a Windows program
        (b"\x7fELF\x02\x01\x01" + bytes(20), ""),
        (b"PK\x03\x04 cut short", ""),
        (b"", ""),
        (b" \n\t", ""),
    ],
)
def test_a_file_is_known_by_its_bytes(data: bytes, expected: str) -> None:
    assert sniff(data) == expected


def test_office_files_and_text_are_passed_on_and_markup_is_not() -> None:
    passed = set(DEFAULT_MEDIA_TYPES)
    for data in (ooxml("word"), opendocument(ODT.encode()), ole2("Workbook"), b"a,b\n1,2\n"):
        assert sniff(data) in passed
    assert not {"text/html", "image/svg+xml", "application/javascript"} & passed


def test_csv_is_judged_on_whole_lines_of_a_long_file() -> None:
    rows = b"".join(b"%d,2026-12-01,19.90\n" % n for n in range(1000))
    assert len(rows) > SNIFF_BYTES
    assert sniff(rows) == "text/csv"


def _one_of_the_served_types(answer: str) -> bool:
    return answer in DEFAULT_MEDIA_TYPES or answer.startswith("application/vnd.oasis.")


@given(st.binary(max_size=2 * SNIFF_BYTES))
def test_any_bytes_get_a_served_type_or_none(data: bytes) -> None:
    answer = sniff(data)
    assert answer == "" or _one_of_the_served_types(answer)


@given(st.sampled_from([b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"]), st.binary())
def test_a_damaged_container_is_refused_or_read_not_crashed_on(start: bytes, tail: bytes) -> None:
    answer = sniff(start + tail)
    assert answer == "" or _one_of_the_served_types(answer)


async def test_the_store_reads_a_kept_file_as_it_was_taken(tmp_path: Path) -> None:
    store = UploadStore(
        tmp_path, prefix="email:attachment/", max_bytes=1 << 20, content_types=DEFAULT_MEDIA_TYPES
    )
    for data, expected in ((ooxml("word"), DOCX), (b"line one\nline two\n", "text/plain")):
        kept = await store.put(data)
        assert kept.content_type == expected
        assert await store.find(kept.reference) == kept
        with (tmp_path / kept.reference.removeprefix("email:attachment/")).open("rb") as file:
            assert sniff_file(file) == expected
        attachment = kept.attachment("report.docx")
        assert (attachment.reference, attachment.file_name) == (kept.reference, "report.docx")
        assert (attachment.content_type, attachment.size_bytes) == (expected, len(data))
