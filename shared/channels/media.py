"""Fetching media from a platform, serving it at ``/media``, and reading an agent's upload.

Every fetch keeps to the same rules, whoever asked for it:

- **Allow-listed origins only** (:mod:`shared.channels.origins`): the first URL and every
  redirect target must be on the platform's list; a redirect elsewhere is refused, and
  credentials (a bearer token, Basic auth) are sent only to the origins that need them.
- **Limits**: a body over ``max_bytes`` or of a type not on the list is refused; the whole
  fetch has a deadline. A body whose size the platform states is checked before a byte
  is passed on, then streamed; one of unstated size is read up to the limit first.
- **Errors name origins, never URLs**: a Bot API URL holds the bot token.

:class:`MediaEndpoint` serves ``GET /media?ref=…&exp=…&sig=…`` (see
:mod:`shared.media_links`): a link that is not signed, or has expired, is 403 before
anything is fetched; :func:`stream_media` passes media on with the same headers wherever
it is served (the agent desk's route for agents uses it too). :class:`OutgoingMedia`
reads the bytes of an image a person sends.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from yarl import URL

from shared.channels.adapter import Attachment, SendError, TemporarySendError
from shared.channels.attachments import media_type
from shared.channels.origins import AllowedOrigins, origin_of
from shared.config import MediaSettings
from shared.errors import RapportError
from shared.media_links import MEDIA_PATH, MediaLinkError, verify, verify_url
from shared.observability.metrics import MEDIA_REQUESTS

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_MAX_JSON_BYTES = 64 * 1024
_SHOWN_INLINE = ("image/", "audio/", "video/")


class MediaProblem(StrEnum):
    """Why media could not be had: stable codes, also the answer's ``error``."""

    UNKNOWN_REFERENCE = "unknown_reference"  # not a reference this service opens
    NOT_FOUND = "not_found"  # the platform has no such media (any more)
    HOST_NOT_ALLOWED = "host_not_allowed"
    REDIRECT_REFUSED = "redirect_refused"  # to an origin off the list, or too many
    TOO_LARGE = "too_large"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    PLATFORM_REFUSED = "platform_refused"  # a 4xx: credentials, a bad id…
    UNAVAILABLE = "unavailable"  # a 5xx, 429, timeout or network failure: try later


_STATUS = {
    MediaProblem.UNKNOWN_REFERENCE: 404,
    MediaProblem.NOT_FOUND: 404,
    MediaProblem.UNAVAILABLE: 503,
}


class MediaError(RapportError):
    def __init__(self, problem: MediaProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem

    @property
    def status(self) -> int:
        """The HTTP status ``/media`` answers: 404, 503, or 502 for what was refused."""
        return _STATUS.get(self.problem, 502)


@dataclass(frozen=True, slots=True)
class Access:
    """Where a fetch may go, and which of those origins get the credentials."""

    origins: AllowedOrigins
    headers: Mapping[str, str] = field(default_factory=dict)
    credentialed: AllowedOrigins = AllowedOrigins()


@dataclass(frozen=True, slots=True)
class OpenedMedia:
    """Media ready to be passed on: its type, its size when known, and its bytes."""

    content_type: str
    size: int | None
    chunks: AsyncIterator[bytes]


@dataclass(frozen=True, slots=True)
class Fetched:
    content_type: str
    body: bytes


MediaOpener = Callable[[str], AbstractAsyncContextManager[OpenedMedia]]
"""Opens a reference; :class:`MediaError` when it cannot."""


async def _replay(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _problem_of(status: int) -> MediaProblem | None:
    if status in (404, 410):
        return MediaProblem.NOT_FOUND
    if status == 429 or status >= 500:
        return MediaProblem.UNAVAILABLE
    if not 200 <= status < 300:
        return MediaProblem.PLATFORM_REFUSED
    return None


def _said(body: bytes) -> str:
    """What a platform's error answer says (Bot API ``description``, Graph ``error.message``)."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(answer, dict):
        return ""
    error = answer.get("error")
    said = answer.get("description") or (error.get("message") if isinstance(error, dict) else "")
    return str(said or "")[:200]


class MediaFetcher:
    """``GET``s media within an allow-list and limits; one connection pool, opened on first use."""

    def __init__(
        self,
        *,
        max_bytes: int,
        content_types: Iterable[str],
        timeout_seconds: float,
        max_redirects: int = 3,
    ) -> None:
        self._max_bytes = max_bytes
        self._content_types = frozenset(media_type(value) for value in content_types)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_redirects = max_redirects
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No cookies kept between platforms, no proxy settings from the environment.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    @asynccontextmanager
    async def _get(self, url: str, access: Access) -> AsyncIterator[aiohttp.ClientResponse]:
        """The answer at ``url``, following redirects only within ``access.origins``."""
        session = self._open_session()
        current = URL(url, encoded=True)
        for hop in range(self._max_redirects + 1):
            if not current.is_absolute() or not access.origins.allows(current):
                problem = MediaProblem.REDIRECT_REFUSED if hop else MediaProblem.HOST_NOT_ALLOWED
                raise MediaError(problem, f"{origin_of(str(current))} is not an allowed origin")
            headers = {"Accept-Encoding": "identity"}
            if access.credentialed.allows(current):
                headers.update(access.headers)
            try:
                response = await session.get(current, headers=headers, allow_redirects=False)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise MediaError(
                    MediaProblem.UNAVAILABLE,
                    f"{origin_of(str(current))} did not answer ({type(exc).__name__})",
                ) from None
            location = response.headers.get("Location")
            if response.status in _REDIRECTS and location:
                response.release()
                current = current.join(URL(location, encoded=True))
                continue
            try:
                yield response
            finally:
                response.release()
            return
        too_many = f"more than {self._max_redirects} redirects"
        raise MediaError(MediaProblem.REDIRECT_REFUSED, too_many)

    @staticmethod
    async def _refuse_status(response: aiohttp.ClientResponse) -> None:
        problem = _problem_of(response.status)
        if problem is not None:
            said = _said(await response.content.read(_MAX_JSON_BYTES))
            raise MediaError(
                problem,
                f"{response.url.origin()} answered HTTP {response.status}"
                + (f": {said}" if said else ""),
            )

    @asynccontextmanager
    async def open(self, url: str, access: Access) -> AsyncIterator[OpenedMedia]:
        """The media at ``url``, type and size checked, ready to be streamed."""
        async with self._get(url, access) as response:
            await self._refuse_status(response)
            content_type = media_type(response.headers.get(aiohttp.hdrs.CONTENT_TYPE, ""))
            if content_type not in self._content_types:
                raise MediaError(
                    MediaProblem.TYPE_NOT_ALLOWED, f"{content_type or 'no type'} is not passed on"
                )
            size = response.content_length
            if size is not None and size > self._max_bytes:
                raise MediaError(MediaProblem.TOO_LARGE, self._too_large(size))
            if size is None:  # read it all first, so an oversize body is refused cleanly
                body = await self._read(response)
                yield OpenedMedia(content_type, len(body), _replay(body))
            else:
                yield OpenedMedia(content_type, size, self._stream(response))

    def _too_large(self, size: int | None) -> str:
        stated = f"{size} bytes" if size is not None else "the body"
        return f"{stated} is over the limit of {self._max_bytes} bytes"

    async def _stream(self, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaError(
                MediaProblem.UNAVAILABLE, f"the transfer broke off ({type(exc).__name__})"
            ) from None

    async def _read(self, response: aiohttp.ClientResponse, limit: int | None = None) -> bytes:
        limit = self._max_bytes if limit is None else limit
        try:
            body = await response.content.read(limit + 1)
            while len(body) <= limit and not response.content.at_eof():
                more = await response.content.read(limit + 1 - len(body))
                if not more:
                    break
                body += more
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaError(
                MediaProblem.UNAVAILABLE, f"the transfer broke off ({type(exc).__name__})"
            ) from None
        if len(body) > limit:
            raise MediaError(MediaProblem.TOO_LARGE, self._too_large(None))
        return body

    async def read(self, url: str, access: Access) -> Fetched:
        """The whole media at ``url`` (for uploading it elsewhere), within the limits."""
        async with self.open(url, access) as media:
            body = b"".join([chunk async for chunk in media.chunks])
        return Fetched(media.content_type, body)

    async def read_json(self, url: str, access: Access) -> dict[str, Any]:
        """A platform's small JSON answer (a media URL, a file path)."""
        async with self._get(url, access) as response:
            await self._refuse_status(response)
            body = await self._read(response, _MAX_JSON_BYTES)
        try:
            answer: Any = json.loads(body)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise MediaError(MediaProblem.PLATFORM_REFUSED, "the platform's answer is not JSON")
        return answer


def media_fetcher(settings: MediaSettings) -> MediaFetcher:
    """A fetcher with a service's media limits."""
    return MediaFetcher(
        max_bytes=settings.media_max_bytes,
        content_types=settings.media_content_types,
        timeout_seconds=settings.media_timeout_seconds,
    )


def _answer_headers(media: OpenedMedia) -> dict[str, str]:
    """Customers' files on this origin: never sniffed, never run, downloaded unless media."""
    inline = media.content_type.startswith(_SHOWN_INLINE)
    return {
        "Content-Type": media.content_type,
        "Content-Disposition": "inline" if inline else "attachment",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "private, max-age=300",
    }


def _refusal(status: int, code: str, message: str) -> web.Response:
    MEDIA_REQUESTS.labels(code).inc()
    return web.json_response({"error": code, "message": message}, status=status)


class MediaEndpoint:
    """``GET /media``: a signed link's media, streamed from wherever ``open_media`` finds it."""

    def __init__(
        self,
        signing_key: SecretStr,
        open_media: MediaOpener,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = signing_key.get_secret_value().encode()
        self._open = open_media
        self._clock = clock

    def route(self) -> web.RouteDef:
        return web.get(MEDIA_PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            reference = verify(self._key, request.query, now=self._clock())
        except MediaLinkError as exc:
            return _refusal(403, exc.problem, str(exc))
        try:
            return await stream_media(request, self._open(reference), reference)
        except MediaError as exc:
            log.info("media %.80r not opened: %s", reference, exc)
            return _refusal(exc.status, exc.problem, str(exc))


async def stream_media(
    request: web.Request, source: AbstractAsyncContextManager[OpenedMedia], reference: str
) -> web.StreamResponse:
    """Pass the media ``source`` opens on to ``request``, headed as every served file is.

    A :class:`MediaError` before the answer has begun is raised, for the caller to answer
    (and count); one after cuts the connection, so the short body shows as broken.
    """
    response: web.StreamResponse | None = None
    try:
        async with source as media:
            response = web.StreamResponse(headers=_answer_headers(media))
            if media.size is not None:
                response.content_length = media.size
            await response.prepare(request)
            async for chunk in media.chunks:
                await response.write(chunk)
    except MediaError as exc:
        if response is None:
            raise
        log.warning("media %.80r broke off: %s", reference, exc)
        MEDIA_REQUESTS.labels(exc.problem).inc()
        response.force_close()
        return response
    await response.write_eof()
    MEDIA_REQUESTS.labels("served").inc()
    return response


def file_name_for(attachment: Attachment, content_type: str) -> str:
    """The name to send a file under: its own, or one its type suggests."""
    if attachment.file_name:
        return attachment.file_name
    return "attachment" + (mimetypes.guess_extension(content_type) or "")


class OutgoingMedia:
    """The bytes of an image or file a person sends: an attachment whose reference is a
    signed link (see :mod:`shared.media_links`) on one of the allowed origins."""

    def __init__(
        self, fetcher: MediaFetcher, signing_key: SecretStr, origins: Iterable[str]
    ) -> None:
        self._fetcher = fetcher
        self._key = signing_key.get_secret_value().encode()
        self._access = Access(AllowedOrigins.of(origins))

    async def read(self, attachment: Attachment) -> Fetched:
        """The attachment's bytes; :class:`SendError` when they cannot be had, temporary
        (:class:`TemporarySendError`) when trying again may help."""
        try:
            verify_url(self._key, attachment.reference)
            return await self._fetcher.read(attachment.reference, self._access)
        except MediaLinkError as exc:
            raise SendError(f"the attachment's link is refused: {exc}", code=exc.problem) from exc
        except MediaError as exc:
            text = f"the attachment could not be read: {exc}"
            if exc.problem is MediaProblem.UNAVAILABLE:
                raise TemporarySendError(text, code=exc.problem) from exc
            raise SendError(text, code=exc.problem) from exc
