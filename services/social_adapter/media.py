"""Customers' media on Meta and Telegram, opened for an agent with each platform's key.

- ``whatsapp:media/<id>``: ``GET {graph}/{version}/<id>?phone_number_id=…`` with the
  WhatsApp token answers a short-lived ``url``, fetched with the same token (the Cloud
  API asks for it there too); allowed: the Graph API and
  ``RAPPORT_SOCIAL_WHATSAPP_MEDIA_ORIGINS``.
- ``telegram:file/<file_id>``: ``getFile`` answers a ``file_path``, fetched from
  ``{bot api}/file/bot<token>/<file_path>``; allowed: the Bot API and
  ``RAPPORT_SOCIAL_TELEGRAM_MEDIA_ORIGINS``. The token is in those URLs, so none of them
  is ever logged or put in an error.
- a URL (Messenger, Instagram): the attachment's own CDN URL, signed by Meta, fetched
  without any token; allowed: ``RAPPORT_SOCIAL_PAGE_MEDIA_ORIGINS`` (https only, unless
  an origin there says otherwise).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote, urlencode

from yarl import URL

from services.social_adapter.config import SocialAdapterSettings
from services.social_adapter.payloads import obj, text
from services.social_adapter.telegram import FILE_PREFIX
from services.social_adapter.whatsapp import MEDIA_PREFIX
from shared.channels.media import Access, MediaError, MediaFetcher, MediaProblem, OpenedMedia
from shared.channels.origins import AllowedOrigins

_MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FILE_ID = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_FILE_PATH = re.compile(r"^[A-Za-z0-9_-]+(?:[./][A-Za-z0-9_-]+)*$")


def _origin(base_url: str) -> AllowedOrigins:
    return AllowedOrigins.of([str(URL(base_url).origin())])


class SocialMedia:
    """Opens WhatsApp, Telegram and Page (Messenger, Instagram) references
    (a :data:`~shared.channels.media.MediaOpener`)."""

    def __init__(self, settings: SocialAdapterSettings, fetcher: MediaFetcher) -> None:
        self._fetcher = fetcher
        graph = _origin(settings.graph_api_base_url)
        whatsapp = graph + AllowedOrigins.of(settings.whatsapp_media_origins)
        bearer = f"Bearer {settings.whatsapp_access_token.get_secret_value()}"
        self._whatsapp = Access(whatsapp, {"Authorization": bearer}, credentialed=whatsapp)
        self._graph = f"{settings.graph_api_base_url.rstrip('/')}/{settings.graph_api_version}"
        self._phone_number_id = settings.whatsapp_phone_number_id
        bot_api = settings.telegram_api_base_url.rstrip("/")
        token = settings.telegram_bot_token.get_secret_value()
        self._bot_methods = f"{bot_api}/bot{token}"
        self._bot_files = f"{bot_api}/file/bot{token}"
        self._telegram = Access(
            _origin(bot_api) + AllowedOrigins.of(settings.telegram_media_origins)
        )
        self._page = Access(AllowedOrigins.of(settings.page_media_origins))

    @asynccontextmanager
    async def __call__(self, reference: str) -> AsyncIterator[OpenedMedia]:
        if reference.startswith(MEDIA_PREFIX):
            url, access = await self._whatsapp_url(reference.removeprefix(MEDIA_PREFIX))
        elif reference.startswith(FILE_PREFIX):
            url, access = await self._telegram_url(reference.removeprefix(FILE_PREFIX))
        elif reference.startswith(("https://", "http://")):  # the allow-list names schemes
            url, access = reference, self._page
        else:
            raise MediaError(MediaProblem.UNKNOWN_REFERENCE, "not a Meta or Telegram reference")
        async with self._fetcher.open(url, access) as media:
            yield media

    async def _whatsapp_url(self, media_id: str) -> tuple[str, Access]:
        if not _MEDIA_ID.match(media_id):
            raise MediaError(MediaProblem.UNKNOWN_REFERENCE, "not a WhatsApp media id")
        query = urlencode({"phone_number_id": self._phone_number_id})
        answer = await self._fetcher.read_json(f"{self._graph}/{media_id}?{query}", self._whatsapp)
        url = text(answer, "url", 4096)
        if not url:
            raise MediaError(MediaProblem.PLATFORM_REFUSED, "the Cloud API gave no media URL")
        return url, self._whatsapp

    async def _telegram_url(self, file_id: str) -> tuple[str, Access]:
        if not _FILE_ID.match(file_id):
            raise MediaError(MediaProblem.UNKNOWN_REFERENCE, "not a Telegram file_id")
        answer = await self._fetcher.read_json(
            f"{self._bot_methods}/getFile?{urlencode({'file_id': file_id})}", self._telegram
        )
        file_path = text(obj(answer, "result"), "file_path", 512)
        if not _FILE_PATH.match(file_path):
            raise MediaError(MediaProblem.PLATFORM_REFUSED, "getFile gave no usable file_path")
        return f"{self._bot_files}/{quote(file_path)}", self._telegram
