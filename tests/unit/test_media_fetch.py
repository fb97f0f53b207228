"""The media fetcher and the /media endpoint against a local server playing a platform's CDN.

The server answers on 127.0.0.1; ``localhost`` reaches the same server under another
origin, which is how a host or redirect off the allow-list is played.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from shared.channels.media import (
    Access,
    MediaEndpoint,
    MediaError,
    MediaFetcher,
    MediaProblem,
    OpenedMedia,
)
from shared.channels.origins import AllowedOrigins
from shared.media_links import sign
from tests.media_helpers import png

KEY = "unit-media-signing-key-0123456789"
LIMIT = 4096
PHOTO = png(8, 8)


@dataclass
class Cdn:
    """A platform's media server: what it was asked, with which credentials."""

    server: TestServer
    credentials: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def other_origin(self) -> str:
        """The same server under an origin the allow-lists do not hold."""
        return self.url.replace("127.0.0.1", "localhost")


def _app(cdn_credentials: list[tuple[str, str]]) -> web.Application:
    async def photo(request: web.Request) -> web.Response:
        cdn_credentials.append((request.path, request.headers.get("Authorization", "")))
        return web.Response(body=PHOTO, content_type="image/png")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def html(_request: web.Request) -> web.Response:
        return web.Response(text="<script>alert(1)</script>", content_type="text/html")

    async def big(_request: web.Request) -> web.Response:
        return web.Response(body=b"\x00" * (LIMIT + 1), content_type="image/png")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query["chunks"])):
            await response.write(b"\x00" * 1024)
        await response.write_eof()
        return response

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.content_length = 2048
        await response.prepare(request)
        await response.write(b"\x00" * 100)
        assert request.transport is not None
        request.transport.close()
        return response

    async def status(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "no such media"}}, status=int(request.match_info["code"])
        )

    async def slow(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=PHOTO, content_type="image/png")

    app = web.Application()
    app.router.add_get("/photo.png", photo)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/page.html", html)
    app.router.add_get("/big.png", big)
    app.router.add_get("/chunked.png", chunked)
    app.router.add_get("/cut.png", cut)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/slow.png", slow)
    return app


@pytest.fixture
async def cdn() -> AsyncIterator[Cdn]:
    credentials: list[tuple[str, str]] = []
    server = TestServer(_app(credentials), host="127.0.0.1")
    await server.start_server()
    yield Cdn(server, credentials)
    await server.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[MediaFetcher]:
    fetching = MediaFetcher(
        max_bytes=LIMIT, content_types=["image/png", "image/jpeg"], timeout_seconds=1
    )
    yield fetching
    await fetching.close()


def access(*origins: str, credentialed: tuple[str, ...] = ()) -> Access:
    return Access(
        AllowedOrigins.of(origins),
        {"Authorization": "Bearer platform-token"},
        AllowedOrigins.of(credentialed),
    )


async def test_media_is_fetched_with_the_credentials_of_its_origin(
    cdn: Cdn, fetcher: MediaFetcher
) -> None:
    fetched = await fetcher.read(f"{cdn.url}/photo.png", access(cdn.url, credentialed=(cdn.url,)))
    assert (fetched.content_type, fetched.body) == ("image/png", PHOTO)
    assert cdn.credentials == [("/photo.png", "Bearer platform-token")]


async def test_a_redirect_within_the_list_is_followed_without_credentials_to_another_origin(
    cdn: Cdn, fetcher: MediaFetcher
) -> None:
    target = f"{cdn.other_origin}/photo.png"
    rules = access(cdn.url, cdn.other_origin, credentialed=(cdn.url,))
    fetched = await fetcher.read(f"{cdn.url}/redirect?to={target}", rules)
    assert fetched.body == PHOTO
    assert cdn.credentials == [("/photo.png", "")]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/redirect?to={other}/photo.png", MediaProblem.REDIRECT_REFUSED),
        ("/page.html", MediaProblem.TYPE_NOT_ALLOWED),
        ("/big.png", MediaProblem.TOO_LARGE),
        ("/chunked.png?chunks=5", MediaProblem.TOO_LARGE),
        ("/status/404", MediaProblem.NOT_FOUND),
        ("/status/401", MediaProblem.PLATFORM_REFUSED),
        ("/status/503", MediaProblem.UNAVAILABLE),
        ("/status/429", MediaProblem.UNAVAILABLE),
        ("/slow.png", MediaProblem.UNAVAILABLE),
    ],
)
async def test_what_breaks_a_rule_is_refused_with_its_reason(
    cdn: Cdn, fetcher: MediaFetcher, path: str, problem: MediaProblem
) -> None:
    url = cdn.url + path.format(other=cdn.other_origin)
    with pytest.raises(MediaError) as refused:
        await fetcher.read(url, access(cdn.url))
    assert refused.value.problem is problem
    assert cdn.credentials == []


async def test_a_url_off_the_list_is_never_requested(cdn: Cdn, fetcher: MediaFetcher) -> None:
    with pytest.raises(MediaError) as refused:
        await fetcher.read(f"{cdn.other_origin}/photo.png", access(cdn.url))
    assert refused.value.problem is MediaProblem.HOST_NOT_ALLOWED
    assert "/photo.png" not in str(refused.value)
    assert cdn.credentials == []


async def test_a_body_of_unstated_size_within_the_limit_is_passed_on(
    cdn: Cdn, fetcher: MediaFetcher
) -> None:
    fetched = await fetcher.read(f"{cdn.url}/chunked.png?chunks=3", access(cdn.url))
    assert fetched.body == b"\x00" * 3072


# The endpoint --------------------------------------------------------------------------


def opener(
    cdn: Cdn, fetcher: MediaFetcher
) -> Callable[[str], AbstractAsyncContextManager[OpenedMedia]]:
    """References are paths on the CDN, as a platform's would be ids."""

    def open_media(reference: str) -> AbstractAsyncContextManager[OpenedMedia]:
        return fetcher.open(cdn.url + reference, access(cdn.url))

    return open_media


@pytest.fixture
async def endpoint(cdn: Cdn, fetcher: MediaFetcher) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes([MediaEndpoint(SecretStr(KEY), opener(cdn, fetcher)).route()])
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


async def test_a_signed_link_streams_the_media_with_safe_headers(endpoint: str) -> None:
    link = sign(KEY.encode(), "/photo.png").url(endpoint)
    async with aiohttp.ClientSession() as http, http.get(link) as answer:
        assert answer.status == 200
        assert await answer.read() == PHOTO
        assert answer.headers["Content-Type"] == "image/png"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("make_link", "error"),
    [
        (lambda base: sign(b"not-the-key-0123456789", "/photo.png").url(base), "bad_signature"),
        (lambda base: sign(KEY.encode(), "/photo.png", now=0).url(base), "expired_link"),
        (lambda base: f"{base}/media?ref=/photo.png", "malformed_link"),
    ],
)
async def test_a_link_not_signed_or_expired_is_403_before_anything_is_fetched(
    cdn: Cdn, endpoint: str, make_link: Callable[[str], str], error: str
) -> None:
    async with aiohttp.ClientSession() as http, http.get(make_link(endpoint)) as answer:
        assert answer.status == 403
        assert (await answer.json())["error"] == error
    assert cdn.credentials == []


async def test_a_refused_fetch_is_answered_with_its_reason(endpoint: str) -> None:
    link = sign(KEY.encode(), "/page.html").url(endpoint)
    async with aiohttp.ClientSession() as http, http.get(link) as answer:
        assert answer.status == 502
        assert (await answer.json())["error"] == "type_not_allowed"


async def test_a_transfer_that_breaks_off_breaks_the_answer_too(endpoint: str) -> None:
    link = sign(KEY.encode(), "/cut.png").url(endpoint)
    async with aiohttp.ClientSession() as http, http.get(link) as answer:
        assert answer.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await answer.read()
