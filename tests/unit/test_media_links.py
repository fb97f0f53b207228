"""Signed media links, origin allow-lists and the upload store: the pure rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import timedelta
from pathlib import Path

import pytest
from yarl import URL

from shared.channels.adapter import Attachment, AttachmentKind
from shared.channels.attachments import from_proto, kind_of, to_proto
from shared.channels.media import MediaError, MediaProblem
from shared.channels.origins import AllowedOrigins, origin_of
from shared.media_links import LinkProblem, MediaLinkError, sign, signature, verify, verify_url
from shared.media_store import UploadProblem, UploadRefusedError, UploadStore, sniff
from tests.media_helpers import JPEG, PDF, png

KEY = b"unit-media-signing-key-0123456789"
NOW = 1_750_000_000.0
REFERENCE = "whatsapp:media/1003383421387256"


def test_a_signed_link_opens_its_reference_until_it_expires() -> None:
    link = sign(KEY, REFERENCE, ttl=timedelta(minutes=5), now=NOW)
    assert link.expires == NOW + 300
    assert verify(KEY, link.query(), now=NOW + 299) == REFERENCE
    with pytest.raises(MediaLinkError) as expired:
        verify(KEY, link.query(), now=NOW + 301)
    assert expired.value.problem is LinkProblem.EXPIRED


def test_the_signature_is_the_documented_hmac() -> None:
    # base64url(HMAC-SHA256(key, "rapport-media-v1\n<exp>\n<ref>")), unpadded.
    message = f"rapport-media-v1\n1750000300\n{REFERENCE}".encode()
    expected = base64.urlsafe_b64encode(hmac.new(KEY, message, hashlib.sha256).digest())
    assert signature(KEY, REFERENCE, 1750000300) == expected.rstrip(b"=").decode()


@pytest.mark.parametrize(
    "tamper",
    [
        {"ref": "whatsapp:media/1003383421387257"},
        {"exp": str(int(NOW) + 10_000)},
        {"sig": "A" * 43},
    ],
)
def test_changing_any_part_of_a_link_breaks_its_signature(tamper: dict[str, str]) -> None:
    query = {**sign(KEY, REFERENCE, now=NOW).query(), **tamper}
    with pytest.raises(MediaLinkError) as refused:
        verify(KEY, query, now=NOW)
    assert refused.value.problem is LinkProblem.BAD_SIGNATURE


def test_a_link_signed_with_another_key_is_refused() -> None:
    link = sign(b"another-key-entirely-0123456789", REFERENCE, now=NOW)
    with pytest.raises(MediaLinkError) as refused:
        verify(KEY, link.query(), now=NOW)
    assert refused.value.problem is LinkProblem.BAD_SIGNATURE


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"ref": REFERENCE, "exp": "1"},
        {"ref": REFERENCE, "sig": "x"},
        {"ref": REFERENCE, "exp": "soon", "sig": "x"},
        {"ref": REFERENCE, "exp": "9" * 5000, "sig": "x"},
        {"ref": REFERENCE, "exp": "١٢٣", "sig": "x"},
        {"ref": "x" * 5000, "exp": "1", "sig": "x"},
    ],
)
def test_a_link_missing_parts_or_with_an_odd_expiry_is_malformed(query: dict[str, str]) -> None:
    with pytest.raises(MediaLinkError) as refused:
        verify(KEY, query, now=NOW)
    assert refused.value.problem is LinkProblem.MALFORMED


def test_an_absolute_link_is_checked_from_its_query() -> None:
    url = sign(KEY, "desk:upload/" + "a" * 64, now=NOW).url("http://desk.internal:8083/")
    assert url.startswith("http://desk.internal:8083/media?ref=desk%3Aupload%2F")
    assert verify_url(KEY, url, now=NOW) == "desk:upload/" + "a" * 64
    with pytest.raises(MediaLinkError):
        verify_url(KEY, url.replace("/media?", "/elsewhere?"), now=NOW)


# Origins -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.twilio.com/2010-04-01/x", True),
        ("http://api.twilio.com/2010-04-01/x", False),
        ("https://api.twilio.com:8443/x", False),
        ("https://API.Twilio.com./x", True),
        ("https://scontent.xx.fbcdn.net/v/photo.jpg", True),
        ("https://fbcdn.net/v/photo.jpg", False),
        ("https://evilfbcdn.net/v/photo.jpg", False),
        ("https://scontent.fbcdn.net.evil.test/v/photo.jpg", False),
        ("https://user:pass@api.twilio.com/x", False),
        ("http://127.0.0.1:8083/media", True),
        ("http://127.0.0.1:8084/media", False),
        ("http://localhost:8083/media", False),
    ],
)
def test_urls_are_allowed_only_on_listed_origins(url: str, allowed: bool) -> None:
    origins = AllowedOrigins.of(
        ["https://api.twilio.com", "https://*.fbcdn.net", "http://127.0.0.1:8083"]
    )
    assert origins.allows(URL(url)) is allowed


@pytest.mark.parametrize(
    "entry", ["api.twilio.com", "ftp://x.test", "https://x.test/path", "https://u@x.test", ""]
)
def test_an_entry_that_is_not_an_origin_is_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        AllowedOrigins.of([entry])


def test_errors_name_origins_never_paths_or_tokens() -> None:
    assert origin_of("https://api.telegram.org/file/bot123:SECRET/photos/1.jpg") == (
        "https://api.telegram.org"
    )


# Attachments and the contract --------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/jpeg", AttachmentKind.IMAGE),
        ("Audio/OGG; codecs=opus", AttachmentKind.AUDIO),
        ("video/3gpp", AttachmentKind.VIDEO),
        ("application/pdf", AttachmentKind.FILE),
        ("", AttachmentKind.FILE),
    ],
)
def test_the_kind_follows_the_mime_type(content_type: str, kind: AttachmentKind) -> None:
    assert kind_of(content_type) is kind


def test_every_field_survives_the_contract_both_ways() -> None:
    voice = Attachment(
        "telegram:file/AwAC", AttachmentKind.AUDIO, "audio/ogg", 9012, "note.oga", voice_note=True
    )
    place = Attachment("", AttachmentKind.LOCATION, latitude=1.5, longitude=-2.25, place="Here")
    for attachment in (voice, place):
        assert from_proto(to_proto(attachment)) == attachment


# The upload store --------------------------------------------------------------------


def test_types_are_read_from_the_first_bytes() -> None:
    assert sniff(png()) == "image/png"
    assert sniff(JPEG) == "image/jpeg"
    assert sniff(b"GIF89a\x01\x00") == "image/gif"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(PDF) == "application/pdf"
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == ""
    assert sniff(b"<html><script>alert(1)</script>") == ""


async def test_an_upload_is_kept_once_under_its_digest_and_found_again(tmp_path: Path) -> None:
    store = UploadStore(tmp_path, prefix="web:upload/", max_bytes=1000, content_types={"image/png"})
    stored = await store.put(png())
    again = await store.put(png())
    assert stored == again and stored.reference.startswith("web:upload/")
    assert (stored.content_type, stored.size_bytes) == ("image/png", len(png()))
    digest = stored.reference.removeprefix("web:upload/")
    assert sorted(os.listdir(tmp_path)) == [digest]
    assert await store.find(stored.reference) == stored
    async with store.open(stored.reference) as media:
        assert b"".join([chunk async for chunk in media.chunks]) == png()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", UploadProblem.EMPTY),
        (png() + b"\x00" * 1000, UploadProblem.TOO_LARGE),
        (JPEG, UploadProblem.UNSUPPORTED_TYPE),
        (b"<svg onload='alert(1)'/>", UploadProblem.UNSUPPORTED_TYPE),
    ],
)
async def test_what_the_store_does_not_keep_is_refused(
    tmp_path: Path, body: bytes, problem: UploadProblem
) -> None:
    store = UploadStore(tmp_path, prefix="web:upload/", max_bytes=1000, content_types={"image/png"})
    with pytest.raises(UploadRefusedError) as refused:
        await store.put(body)
    assert refused.value.problem is problem
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "reference",
    ["web:upload/" + "0" * 64, "web:upload/../etc/passwd", "desk:upload/" + "0" * 64, "x"],
)
async def test_references_to_nothing_or_outside_the_store_find_nothing(
    tmp_path: Path, reference: str
) -> None:
    store = UploadStore(
        tmp_path / "kept", prefix="web:upload/", max_bytes=1000, content_types={"image/png"}
    )
    assert await store.find(reference) is None
    with pytest.raises(MediaError) as missing:
        async with store.open(reference):
            pass
    assert missing.value.problem is MediaProblem.NOT_FOUND
