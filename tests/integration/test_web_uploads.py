"""A visitor's image through the web adapter as it runs, publishing to a real Kafka.

The image is uploaded (``POST /upload``), named in a ``message`` frame without text, and
published as a ``MessageReceived`` with a typed attachment; an agent's signed link opens
it at ``/media``. The chat page itself does the same in a real Chromium.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from aiokafka import ConsumerRecord
from playwright.async_api import async_playwright, expect
from rapport.common.v1 import envelope_pb2
from rapport.events.v1 import messages_pb2

from services.web_adapter.config import WebAdapterSettings
from services.web_adapter.http_app import create_app
from services.web_adapter.sockets import VisitorSockets
from shared.errors import ContractError
from shared.kafka.codec import decode
from shared.kafka.producer import EventPublisher
from shared.kafka.topics import INBOUND
from shared.media_links import sign
from tests.kafka_helpers import read_until
from tests.media_helpers import JPEG, png

pytestmark = pytest.mark.integration

MEDIA_KEY = "web-media-signing-key-0123456789"
UPLOAD_LIMIT = 64 * 1024
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
async def web_url(kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[str]:
    settings = WebAdapterSettings(
        metrics_port=0,
        media_dir=tmp_path / "web_media",
        upload_max_bytes=UPLOAD_LIMIT,
        media_signing_key=MEDIA_KEY,  # type: ignore[arg-type]
    )
    async with EventPublisher(kafka_bootstrap, client_id="web-upload-tests") as publisher:
        server = TestServer(create_app(settings, publisher, VisitorSockets()), host="127.0.0.1")
        await server.start_server()
        try:
            yield str(server.make_url("")).rstrip("/")
        finally:
            await server.close()


def unique_png() -> bytes:
    """An image no other test uploads, so its reference finds only this test's record."""
    return png(random.randint(3, 400), random.randint(3, 400))


def _received(record: ConsumerRecord[bytes, bytes]) -> messages_pb2.MessageReceived:
    try:
        return decode(record.value, list(record.headers), messages_pb2.MessageReceived)
    except ContractError:
        return messages_pb2.MessageReceived()


async def published_with(bootstrap: str, reference: str) -> messages_pb2.MessageReceived:
    def carries(record: ConsumerRecord[bytes, bytes]) -> bool:
        return any(a.reference == reference for a in _received(record).attachments)

    [record] = await read_until(bootstrap, INBOUND, carries, timeout=30)
    return _received(record)


async def upload(http: aiohttp.ClientSession, web_url: str, body: bytes) -> tuple[int, Any]:
    async with http.post(f"{web_url}/upload", data=body) as answer:
        return answer.status, await answer.json()


async def test_an_uploaded_image_alone_is_published_typed_and_opens_for_a_signed_link(
    web_url: str, kafka_bootstrap: str
) -> None:
    image = unique_png()
    reference = "web:upload/" + hashlib.sha256(image).hexdigest()
    frame = {
        "type": "message",
        "client_message_id": uuid.uuid4().hex,
        "attachments": [{"reference": reference, "file_name": "parcel.png"}],
    }
    async with aiohttp.ClientSession() as http:
        status, stored = await upload(http, web_url, image)
        assert (status, stored) == (
            201,
            {"reference": reference, "content_type": "image/png", "size_bytes": len(image)},
        )
        async with http.ws_connect(f"{web_url}/ws") as socket:
            assert (await socket.receive_json(timeout=5))["type"] == "welcome"
            await socket.send_str(json.dumps(frame))
            assert (await socket.receive_json(timeout=10))["type"] == "ack"
        event = await published_with(kafka_bootstrap, reference)
        link = sign(MEDIA_KEY.encode(), reference).url(web_url)
        async with http.get(link) as opened:
            assert (opened.status, await opened.read()) == (200, image)
            assert opened.headers["Content-Type"] == "image/png"
        async with http.get(f"{web_url}/media", params={"ref": reference}) as unsigned:
            assert unsigned.status == 403

    assert event.text == ""
    [attachment] = event.attachments
    assert attachment == envelope_pb2.Attachment(
        reference=reference,
        content_type="image/png",
        kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
        size_bytes=len(image),
        file_name="parcel.png",
    )


async def test_uploads_that_are_not_images_or_too_large_and_frames_naming_none_are_refused(
    web_url: str,
) -> None:
    async with aiohttp.ClientSession() as http:
        refused = {
            "svg": await upload(http, web_url, b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            "huge": await upload(http, web_url, JPEG + b"\x00" * UPLOAD_LIMIT),
            "empty": await upload(http, web_url, b""),
        }
        never_uploaded = "web:upload/" + hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        frames = [
            {"type": "message", "text": "", "attachments": [{"reference": never_uploaded}]},
            {"type": "message", "text": ""},
            {"type": "message", "attachments": [{"reference": "https://x.example/a.png"}]},
        ]
        async with http.ws_connect(f"{web_url}/ws") as socket:
            assert (await socket.receive_json(timeout=5))["type"] == "welcome"
            codes = []
            for frame in frames:
                await socket.send_str(json.dumps(frame))
                codes.append((await socket.receive_json(timeout=10))["code"])
            assert not socket.closed

    assert {name: (status, body["error"]) for name, (status, body) in refused.items()} == {
        "svg": (415, "unsupported_type"),
        "huge": (413, "too_large"),
        "empty": (400, "empty"),
    }
    assert codes == ["unknown_attachment", "empty_text", "invalid_attachment"]


async def test_the_chat_page_sends_a_chosen_image_with_its_caption(
    web_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    image = unique_png()
    reference = "web:upload/" + hashlib.sha256(image).hexdigest()
    chosen = tmp_path / "parcel.png"
    chosen.write_bytes(image)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = await browser.new_page()
            await page.goto(web_url)
            await expect(page.locator("#status")).to_have_text("online")
            await page.set_input_files("#image", str(chosen))
            await expect(page.locator("#chosen")).to_contain_text("parcel.png")
            await page.fill("#text", "The box was crushed")
            await page.keyboard.press("Enter")
            customer = page.locator(".message--customer")
            await expect(customer).to_contain_text("The box was crushed")
            await expect(customer.locator("img.message__image")).to_have_count(1)
            await expect(page.locator("#chosen")).to_be_hidden()
        finally:
            await browser.close()

    event = await published_with(kafka_bootstrap, reference)
    assert event.text == "The box was crushed"
    [attachment] = event.attachments
    assert (attachment.kind, attachment.file_name) == (
        envelope_pb2.ATTACHMENT_KIND_IMAGE,
        "parcel.png",
    )
