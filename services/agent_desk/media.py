"""Where the bytes of an attachment come from when an agent opens it, and where an
agent's own image or PDF is kept until the platforms have fetched it.

**Opening: proxied, not redirected.** The desk checks the agent may see the ticket,
finds the attachment in the turn the context service stored (the browser names only the
ticket, the turn and an index, never a reference), mints a short-lived link signed with
``MEDIA_SIGNING_KEY`` for the channel adapter that opens it (the channel's ``media_service``
in the registry, ``services/channels.py``) and
streams the adapter's answer back under the same headers (its type, ``nosniff``, inline
for images, sound and video and a download otherwise, a sandboxing CSP). Chosen over
redirecting the browser to a signed adapter link because then every agent's browser would
need to reach the adapters (which need not be public beyond their webhooks), each link
would be a bearer capability in browser history, logs and referrers for its lifetime, and
thumbnails would come from another origin than the desk's ``img-src 'self'``. The cost is
the bytes passing through the desk, within the adapters' own size, type and time limits.

**An agent's upload** (JPEG, PNG, GIF, WebP or PDF, judged from its bytes) is kept under
``MEDIA_DIR`` named by its SHA-256 (``desk:upload/<sha256>``) and served to the adapters
at the desk's own ``/media``, to signed links only; each send carries a fresh link valid
for ``OUTBOUND_LINK_TTL``. Agents open their own uploads from that store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol

from aiohttp import web
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from yarl import URL

from services.agent_desk.attachments import UPLOAD_TYPES, Outgoing, clean_file_name
from services.agent_desk.models import Ticket
from services.agent_desk.outgoing import OutgoingMessages
from services.channels import media_services
from shared.channel_names import channel_name
from shared.channels.media import Access, MediaEndpoint, MediaFetcher, OpenedMedia
from shared.channels.origins import AllowedOrigins
from shared.errors import NotFoundError
from shared.media_links import OUTBOUND_LINK_TTL, sign
from shared.media_store import UploadStore

UPLOAD_PREFIX = "desk:upload/"

Clock = Callable[[], datetime]
MediaSource = AbstractAsyncContextManager[OpenedMedia]


class TurnReader(Protocol):
    async def list_turns(self, conversation_id: str) -> list[context_pb.Turn]: ...

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse: ...


def upload_store(directory: Path, max_bytes: int) -> UploadStore:
    """Agents' images and PDFs, each named by its digest."""
    return UploadStore(
        directory, prefix=UPLOAD_PREFIX, max_bytes=max_bytes, content_types=UPLOAD_TYPES
    )


class DeskMedia:
    def __init__(
        self,
        *,
        context: TurnReader,
        outgoing: OutgoingMessages,
        uploads: UploadStore,
        fetcher: MediaFetcher,
        signing_key: SecretStr,
        adapter_urls: Mapping[str, str],
        desk_url: str,
        history_turns: int,
        clock: Clock,
    ) -> None:
        self._context = context
        self._outgoing = outgoing
        self._uploads = uploads
        self._fetcher = fetcher
        self._signing_key = signing_key
        self._key = signing_key.get_secret_value().encode()
        self._adapter_urls = dict(adapter_urls)
        self._media_services = media_services()
        self._access = Access(
            AllowedOrigins.of(str(URL(url).origin()) for url in self._adapter_urls.values())
        )
        self._desk_url = desk_url
        self._history_turns = history_turns
        self._clock = clock

    @property
    def max_upload_bytes(self) -> int:
        return self._uploads.max_bytes

    async def close(self) -> None:
        await self._fetcher.close()

    # An agent's own image or PDF

    async def keep(self, data: bytes, file_name: str) -> Outgoing:
        """Keep an agent's upload; :class:`~shared.media_store.UploadRefusedError` (a bad
        input) when it is empty, too large, or not an image or a PDF."""
        stored = await self._uploads.put(data)
        return Outgoing(
            stored.reference, stored.content_type, stored.size_bytes, clean_file_name(file_name)
        )

    def link(self, attachment: Outgoing) -> envelope_pb2.Attachment:
        """The attachment as a send carries it: a signed link to the desk's ``/media``."""
        signed = sign(self._key, attachment.reference, ttl=OUTBOUND_LINK_TTL, now=self._now())
        return attachment.message(signed.url(self._desk_url))

    def endpoint(self) -> web.RouteDef:
        """``GET /media`` for the adapters fetching an agent's upload with a signed link."""
        return MediaEndpoint(self._signing_key, self._uploads.open).route()

    # Opening an attachment shown in a conversation

    async def open(self, ticket: Ticket, turn_id: str, index: int) -> MediaSource:
        """The bytes of attachment ``index`` of turn ``turn_id`` as the ticket's page shows
        it: an agent's upload from the desk's store, a customer's media through the
        channel's adapter. :class:`NotFoundError` when there is none the desk can open."""
        sent = await self._outgoing.message(turn_id)
        if sent is not None and sent.conversation_id == ticket.conversation_id:
            if not sent.attachment or index != 0:
                raise NotFoundError(f"message {turn_id} has no attachment {index}")
            return self._uploads.open(Outgoing.from_json(sent.attachment).reference)
        turn = await self._turn(ticket, turn_id)
        if turn is None or turn.role != context_pb.ROLE_CUSTOMER:
            raise NotFoundError(f"no customer turn {turn_id} for ticket {ticket.id}")
        if not 0 <= index < len(turn.attachments) or not turn.attachments[index].reference:
            raise NotFoundError(f"turn {turn_id} has no media at {index}")
        service = self._media_services.get(channel_name(turn.channel), "")
        base_url = self._adapter_urls.get(service)
        if base_url is None:
            raise NotFoundError(f"no adapter opens media of {channel_name(turn.channel)}")
        link = sign(self._key, turn.attachments[index].reference, now=self._now())
        return self._fetcher.open(link.url(base_url), self._access)

    async def _turn(self, ticket: Ticket, turn_id: str) -> context_pb.Turn | None:
        """The turn as the ticket's page shows it: of the conversation, or among the
        customer's recent turns on other channels."""
        for turn in await self._context.list_turns(ticket.conversation_id):
            if turn.event_id == turn_id:
                return turn
        context = await self._context.get_context(
            ticket.customer_id, ticket.conversation_id, self._history_turns
        )
        return next((t for t in context.recent_turns if t.event_id == turn_id), None)

    def _now(self) -> float:
        return self._clock().timestamp()
