"""Reading one support mailbox over IMAP, mail by mail, in order, without losing any.

IMAPClient is synchronous, so every call to the server runs in a worker thread and the
event loop never waits on the network. A session logs in, selects the folder read-only,
reads every mail past the stored cursor (``UID last+1:*``, with ``BODY.PEEK[]`` so the
mail stays unread for people using the mailbox) and hands each to the intake in UID
order; the cursor moves past a mail only once the intake has settled it. Then the
session waits for news with IDLE (renewed every ``idle_seconds``) or, on a server
without IDLE, polls every ``poll_seconds``.

Sizes are asked first (``RFC822.SIZE``): a mail over ``max_mail_bytes`` is never
downloaded, only its headers (``BODY.PEEK[HEADER]``), and the intake publishes it from
them with a note sending the agent to the mailbox.

A connection lost, a server down or a login refused ends the session: it is logged and
tried again after ``reconnect_seconds``, doubling up to ``max_reconnect_seconds``, from
the stored cursor.

Where no cursor applies (the folder was never read, or the server renumbered it: its
UIDVALIDITY changed) the reader starts from the folder as it is now: the mails that
arrived within the last ``first_read_days`` are read, older ones are left alone, so
connecting Rapport to a mailbox with years of mail does not answer all of it. Mails
read before are recognised by their Message-ID and not answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from imapclient import IMAPClient  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError

from services.email_adapter.config import EmailSettings, Mailbox, Security
from services.email_adapter.intake import MailPlace, Outcome
from services.email_adapter.metrics import MAILBOX_CONNECTED, MAILS_READ
from services.email_adapter.store import EmailStore
from shared.errors import DependencyUnavailableError

log = logging.getLogger(__name__)

BATCH_BYTES = 8 * 1024 * 1024
"""Most mail fetched in one round trip; a larger mail comes alone."""
BATCH_MAILS = 20
IDLE_CHECK_SECONDS = 0.5
"""How often an idling session looks at the stop flag: how fast it stops."""
_EXPECTED_FAILURES = (imaplib.IMAP4.error, OSError, DependencyUnavailableError, DBAPIError)


class MailTaker(Protocol):
    """The intake: settles one mail, or raises when it must be read again later."""

    async def take(self, raw: bytes, place: MailPlace) -> Outcome: ...

    async def take_oversized(
        self, header: bytes, place: MailPlace, *, size_bytes: int, limit_bytes: int
    ) -> Outcome: ...


def fetch_batches(
    sizes: Mapping[int, int], *, max_bytes: int = BATCH_BYTES, max_mails: int = BATCH_MAILS
) -> list[list[int]]:
    """The UIDs of ``sizes`` in ascending order, grouped so a batch stays within the limits."""
    batches: list[list[int]] = []
    batch: list[int] = []
    batch_bytes = 0
    for uid in sorted(sizes):
        if batch and (batch_bytes + sizes[uid] > max_bytes or len(batch) >= max_mails):
            batches.append(batch)
            batch, batch_bytes = [], 0
        batch.append(uid)
        batch_bytes += sizes[uid]
    if batch:
        batches.append(batch)
    return batches


def ends_idle(responses: Iterable[Any]) -> bool:
    """Whether IDLE's untagged responses call for action: ``* n EXISTS`` (new mail) or
    ``* BYE`` (the server is closing the connection), not just "still here"."""
    return any(
        isinstance(response, tuple)
        and (response[:1] == (b"BYE",) or (len(response) > 1 and response[1] == b"EXISTS"))
        for response in responses
    )


@dataclass(slots=True)
class _Session:
    client: IMAPClient
    uidvalidity: int
    last_uid: int  # of the folder when it was selected (UIDNEXT - 1)
    idle: bool


class MailboxReader:
    """Reads ``mailbox`` until the stop event is set; one per configured mailbox."""

    def __init__(
        self, mailbox: Mailbox, settings: EmailSettings, store: EmailStore, intake: MailTaker
    ) -> None:
        self._mailbox = mailbox
        self._settings = settings
        self._store = store
        self._intake = intake
        self._halt = threading.Event()  # the stop event, seen from worker threads
        self._delay = settings.reconnect_seconds

    @property
    def _address(self) -> str:
        return self._mailbox.address

    async def run(self, stop: asyncio.Event) -> None:
        MAILBOX_CONNECTED.labels(self._address).set(0)
        mirror = asyncio.create_task(self._mirror(stop))
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                except _EXPECTED_FAILURES as exc:
                    log.warning("mailbox %s: %s; retrying in %gs", self._address, exc, self._delay)
                except Exception:
                    log.exception("mailbox %s failed; retrying in %gs", self._address, self._delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._delay)
                self._delay = min(self._delay * 2, self._settings.max_reconnect_seconds)
        finally:
            mirror.cancel()
            self._halt.set()

    async def _mirror(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._halt.set()

    async def _session(self, stop: asyncio.Event) -> None:
        session = await asyncio.to_thread(self._connect)
        self._delay = self._settings.reconnect_seconds
        MAILBOX_CONNECTED.labels(self._address).set(1)
        log.info(
            "mailbox %s: reading %s (%s)",
            self._address,
            self._mailbox.imap_folder,
            "IDLE" if session.idle else f"polled every {self._settings.poll_seconds:g}s",
        )
        polite = False
        try:
            while not stop.is_set():
                await self._catch_up(session)
                if stop.is_set():
                    break
                if session.idle:
                    await asyncio.to_thread(self._idle, session.client)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._settings.poll_seconds)
            polite = True
        finally:
            MAILBOX_CONNECTED.labels(self._address).set(0)
            await asyncio.to_thread(_close, session.client, polite=polite)

    def _connect(self) -> _Session:
        mailbox = self._mailbox
        context = self._settings.tls_context()
        client = IMAPClient(
            mailbox.imap_host,
            port=mailbox.imap_port,
            ssl=mailbox.imap_security is Security.TLS,
            ssl_context=context,
            timeout=self._settings.timeout_seconds,
        )
        try:
            if mailbox.imap_security is Security.STARTTLS:
                client.starttls(context)
            client.login(mailbox.imap_user, mailbox.imap_password.get_secret_value())
            selected = client.select_folder(mailbox.imap_folder, readonly=True)
            return _Session(
                client,
                uidvalidity=int(selected[b"UIDVALIDITY"]),
                last_uid=int(selected[b"UIDNEXT"]) - 1,
                idle=client.has_capability("IDLE"),
            )
        except BaseException:
            _close(client, polite=False)
            raise

    async def _catch_up(self, session: _Session) -> None:
        """Hand every mail past the cursor to the intake, moving the cursor after each."""
        folder = self._mailbox.imap_folder
        uidvalidity, last_uid = await self._store.cursor(self._address, folder)
        if uidvalidity == session.uidvalidity:
            sizes = await asyncio.to_thread(_sizes_after, session.client, last_uid)
        else:
            since = datetime.now(UTC).date() - timedelta(days=self._settings.first_read_days)
            self._log_fresh_start(uidvalidity, session.uidvalidity, since)
            sizes = await asyncio.to_thread(_sizes_since, session.client, since)
        limit = self._settings.max_mail_bytes
        for batch in fetch_batches(sizes):
            fetched = await asyncio.to_thread(_fetch, session.client, batch, sizes, limit)
            for uid in batch:
                if self._halt.is_set():
                    return
                raw = fetched.get(uid)
                if raw is None:
                    log.info("mailbox %s: UID %d was deleted before it was read", folder, uid)
                else:
                    place = MailPlace(self._address, folder, session.uidvalidity, uid)
                    await self._hand_over(raw, place, sizes[uid])
                await self._store.advance(self._address, folder, session.uidvalidity, uid)
        if uidvalidity != session.uidvalidity:
            # From now on the cursor applies, past the older mails left alone.
            newest = max([session.last_uid, *sizes])
            await self._store.advance(self._address, folder, session.uidvalidity, newest)

    async def _hand_over(self, raw: bytes, place: MailPlace, size: int) -> None:
        """Give the intake a whole mail, or the headers ``raw`` of one over the limit."""
        MAILS_READ.labels(self._address).inc()
        limit = self._settings.max_mail_bytes
        if size <= limit:
            await self._intake.take(raw, place)
            return
        log.warning("%s: %d bytes, over the limit of %d; only its headers read", place, size, limit)
        await self._intake.take_oversized(raw, place, size_bytes=size, limit_bytes=limit)

    def _log_fresh_start(self, stored: int, current: int, since: date) -> None:
        folder = self._mailbox.imap_folder
        if stored:
            log.warning(
                "mailbox %s: %s was renumbered (UIDVALIDITY %d, was %d); reading what came "
                "in since %s again, mails already taken are recognised by their Message-ID",
                self._address,
                folder,
                current,
                stored,
                since,
            )
        else:
            log.info(
                "mailbox %s: first read of %s, from the mail received since %s",
                self._address,
                folder,
                since,
            )

    def _idle(self, client: IMAPClient) -> None:
        """Wait in IDLE until new mail, the renewal time or the stop flag (worker thread).

        IMAPClient's ``idle_check`` hides a closed connection: it returns at once with
        nothing. Such an early empty wake-up ends IDLE, and ``idle_done`` then fails on a
        dead connection (the session reconnects) or, on a live one, costs one search.
        """
        renew_at = time.monotonic() + self._settings.idle_seconds
        client.idle()
        try:
            if heard_already(client):  # mail came before IDLE began
                return
            while not self._halt.is_set() and time.monotonic() < renew_at:
                asked = time.monotonic()
                responses = client.idle_check(timeout=IDLE_CHECK_SECONDS)
                if ends_idle(responses):
                    return
                if not responses and time.monotonic() - asked < IDLE_CHECK_SECONDS / 2:
                    return
        finally:
            client.idle_done()


def heard_already(client: IMAPClient) -> bool:
    """Whether the server has said more than has been parsed, in imaplib's read buffer.

    Mail that arrives before IDLE begins is announced right behind "+ idling": imaplib's
    buffered reader takes both lines in one read, IMAPClient's ``idle()`` parses the first,
    and polling the socket (``idle_check``) never sees the "* n EXISTS" waiting in the
    buffer, so IDLE would sleep until its renewal. The buffer is imaplib's ``file``; no
    public call shows it. Peeking does not consume it, and reads nothing new off a socket
    that has nothing (non-blocking for the peek).
    """
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return bool(client._imap.file.peek(1))
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(timeout)


def _sizes_after(client: IMAPClient, last_uid: int) -> dict[int, int]:
    """Size of every mail with a UID past ``last_uid`` (``n:*`` also names the last mail)."""
    found = client.search(["UID", f"{last_uid + 1}:*"])
    return _sizes(client, [uid for uid in found if uid > last_uid])


def _sizes_since(client: IMAPClient, since: date) -> dict[int, int]:
    """Size of every mail the server received on ``since`` or later."""
    return _sizes(client, client.search(["SINCE", since]))


def _sizes(client: IMAPClient, uids: list[int]) -> dict[int, int]:
    if not uids:
        return {}
    sizes = client.fetch(uids, [b"RFC822.SIZE"])
    return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in sizes.items()}


def _fetch(
    client: IMAPClient, uids: list[int], sizes: Mapping[int, int], limit: int
) -> dict[int, bytes]:
    """Each mail of ``uids`` still in the folder: whole, or its headers only when its size
    is over ``limit`` (so it is never held in memory)."""
    found: dict[int, bytes] = {}
    for wanted, item, answer in (
        ([uid for uid in uids if sizes[uid] <= limit], b"BODY.PEEK[]", b"BODY[]"),
        ([uid for uid in uids if sizes[uid] > limit], b"BODY.PEEK[HEADER]", b"BODY[HEADER]"),
    ):
        if wanted:
            for uid, data in client.fetch(wanted, [item]).items():
                if answer in data:
                    found[uid] = bytes(data[answer])
    return found


def _close(client: IMAPClient, *, polite: bool) -> None:
    """Log out after a clean session; after a failure just drop the connection."""
    with contextlib.suppress(*_EXPECTED_FAILURES):
        if polite:
            client.logout()
        else:
            client.shutdown()
