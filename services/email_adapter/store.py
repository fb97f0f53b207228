"""The email adapter's own memory, kept across restarts so that nothing is read or sent twice.

* Each mailbox folder's cursor: the IMAP UIDVALIDITY and the last UID handed on, so a
  restarted reader continues where it stopped.
* Every Message-ID seen or sent, with its conversation: a mail answering any of them
  joins that conversation, and a mail delivered twice is recognised.
* Each conversation's thread: the support address, the customer and the headers a reply
  needs (subject, the customer's last Message-ID, References), so an answer written hours
  later lands in the customer's thread. The subject is kept as the customer wrote it;
  composing the answer takes its "Re:" prefixes off (``compose.reply_subject``).

Each id and thread records when it was last used (read, answered, or a mail of its
conversation arrived), so the retention forgets conversations left alone for its period
(:meth:`EmailStore.forget_unused`), and a customer's rows can be exported and erased by
their addresses and conversations (:meth:`EmailStore.customer_rows`, :meth:`erase_customer`).

SQLite by default, PostgreSQL when the URL names it (``shared.database``). Every write is
a transaction whose first statement writes, so SQLite never has to upgrade a reading
transaction; on SQLite the adapter's writers also take turns in-process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from services.email_adapter.compose import ThreadHeaders
from shared.database import create_engine, migrate
from shared.errors import InvalidInputError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: RFC 5322 caps a header line at 998 characters; no single id can be longer.
MAX_MESSAGE_ID_LENGTH = 998

METADATA = MetaData()

cursors = Table(
    "mailbox_cursors",
    METADATA,
    Column("mailbox", String(254), primary_key=True),
    Column("folder", String(200), primary_key=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False),
)

messages = Table(
    "messages",
    METADATA,
    Column("message_id", String(MAX_MESSAGE_ID_LENGTH), primary_key=True),
    Column("conversation_id", String(64), nullable=False),
    Column("direction", String(8), nullable=False),  # "inbound" | "sent"
    Column("last_used", BigInteger, nullable=False),  # Unix seconds
    Index("ix_messages_conversation_id", "conversation_id"),
    Index("ix_messages_last_used", "last_used"),
)

threads = Table(
    "threads",
    METADATA,
    Column("conversation_id", String(64), primary_key=True),
    Column("mailbox", String(254), nullable=False),
    Column("customer", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("last_inbound_id", String(MAX_MESSAGE_ID_LENGTH), nullable=False),
    Column("message_references", JSON, nullable=False),  # ids, oldest first
    Column("last_used", BigInteger, nullable=False),  # Unix seconds
    Index("ix_threads_last_used", "last_used"),
)


@dataclass(frozen=True, slots=True)
class OutboundThread:
    """Where and how to answer a conversation: the thread its customer started."""

    mailbox: str  # the support address the customer wrote to
    customer: str  # the customer's address
    headers: ThreadHeaders


def reply_references(references: Sequence[str], message_id: str) -> tuple[str, ...]:
    """The References of an answer to ``message_id``: its own References, then itself,
    each once (composing the answer bounds how many go into the header)."""
    return (*dict.fromkeys(i for i in references if i != message_id), message_id)


def _checked_id(message_id: str) -> str:
    if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidInputError(
            f"a Message-ID must have 1 to {MAX_MESSAGE_ID_LENGTH} characters, not {len(message_id)}"
        )
    return message_id


class EmailStore:
    """The adapter's database; open it with :meth:`open`, which brings the schema up to date."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock  # Unix seconds: when rows are used, and the retention's "now"
        # SQLite has one writer: taking turns here beats retrying on "database is locked".
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        insert = sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert
        self._insert: Any = insert

    @classmethod
    async def open(cls, database_url: str, clock: Callable[[], float] = time.time) -> EmailStore:
        engine = create_engine(database_url)
        try:
            await migrate(engine, MIGRATIONS)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, clock)

    async def close(self) -> None:
        await self._engine.dispose()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        async with self._write_lock or nullcontext(), self._engine.begin() as connection:
            yield connection

    @staticmethod
    async def _touch(connection: AsyncConnection, conversation_id: str, now: int) -> None:
        """Mark the conversation's ids and thread used: the retention counts from here."""
        for table in (messages, threads):
            await connection.execute(
                update(table)
                .where(table.c.conversation_id == conversation_id)
                .values(last_used=now)
            )

    # -- inbound ---------------------------------------------------------------------------

    async def cursor(self, mailbox: str, folder: str) -> tuple[int, int]:
        """``(uidvalidity, last_uid)`` of the folder, ``(0, 0)`` before its first mail."""
        query = select(cursors.c.uidvalidity, cursors.c.last_uid).where(
            cursors.c.mailbox == mailbox, cursors.c.folder == folder
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return (0, 0) if row is None else (int(row.uidvalidity), int(row.last_uid))

    async def advance(self, mailbox: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Record that every mail up to ``last_uid`` of ``uidvalidity`` has been handed on."""
        statement = self._insert(cursors).values(
            mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, last_uid=last_uid
        )
        statement = statement.on_conflict_do_update(
            index_elements=[cursors.c.mailbox, cursors.c.folder],
            set_={"uidvalidity": uidvalidity, "last_uid": last_uid},
        )
        async with self._writing() as connection:
            await connection.execute(statement)

    async def conversation_of(self, message_ids: Sequence[str]) -> str | None:
        """The conversation of the first of ``message_ids`` the store knows, received or sent."""
        wanted = [i for i in dict.fromkeys(message_ids) if 0 < len(i) <= MAX_MESSAGE_ID_LENGTH]
        if not wanted:
            return None
        query = select(messages.c.message_id, messages.c.conversation_id).where(
            messages.c.message_id.in_(wanted)
        )
        async with self._engine.connect() as connection:
            known = {row.message_id: row.conversation_id for row in await connection.execute(query)}
        return next((known[i] for i in wanted if i in known), None)

    async def remember_inbound(
        self,
        *,
        message_id: str,
        conversation_id: str,
        mailbox: str,
        customer: str,
        subject: str,
        references: Sequence[str],
    ) -> bool:
        """Record a customer's mail and make it the one the next answer replies to.

        ``references`` are the mail's own References, oldest first. False, changing
        nothing, when the Message-ID was already known.
        """
        now = int(self._clock())
        added = self._new_message(message_id, conversation_id, "inbound", now)
        new_subject = " ".join(subject.split())
        chain = list(reply_references(references, message_id))
        thread = self._insert(threads).values(
            conversation_id=conversation_id,
            mailbox=mailbox,
            customer=customer,
            subject=new_subject,
            last_inbound_id=message_id,
            message_references=chain,
            last_used=now,
        )
        latest: dict[str, Any] = {
            "mailbox": mailbox,
            "customer": customer,
            "last_inbound_id": message_id,
            "message_references": chain,
            "last_used": now,
        }
        if new_subject:  # a mail without a subject keeps the thread's
            latest["subject"] = new_subject
        thread = thread.on_conflict_do_update(
            index_elements=[threads.c.conversation_id], set_=latest
        )
        async with self._writing() as connection:
            if (await connection.execute(added)).rowcount == 0:
                return False
            await connection.execute(thread)
            await self._touch(connection, conversation_id, now)
        return True

    # -- outbound --------------------------------------------------------------------------

    async def thread(self, conversation_id: str) -> OutboundThread | None:
        """How to answer ``conversation_id``; None when no mail of it was ever read."""
        query = select(threads).where(threads.c.conversation_id == conversation_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        headers = ThreadHeaders(
            subject=row.subject,
            in_reply_to=row.last_inbound_id,
            references=tuple(row.message_references),
        )
        return OutboundThread(mailbox=row.mailbox, customer=row.customer, headers=headers)

    def _new_message(self, message_id: str, conversation_id: str, direction: str, now: int) -> Any:
        """Insert ``message_id``'s row unless the id is known (then nothing changes)."""
        return (
            self._insert(messages)
            .values(
                message_id=_checked_id(message_id),
                conversation_id=conversation_id,
                direction=direction,
                last_used=now,
            )
            .on_conflict_do_nothing()
        )

    async def remember_sent(self, *, message_id: str, conversation_id: str) -> None:
        """Record an answer sent, so the customer's reply to it joins ``conversation_id``.

        Sending the same id again (a retry) changes nothing.
        """
        now = int(self._clock())
        statement = self._new_message(message_id, conversation_id, "sent", now)
        async with self._writing() as connection:
            await connection.execute(statement)
            await self._touch(connection, conversation_id, now)

    # -- retention and customers' rights ---------------------------------------------------

    async def forget_unused(self, period_seconds: float) -> dict[str, int]:
        """Delete the ids and threads not used for ``period_seconds``; rows deleted by table."""
        horizon = int(self._clock() - period_seconds)
        async with self._writing() as connection:
            return {
                table.name: (
                    await connection.execute(delete(table).where(table.c.last_used < horizon))
                ).rowcount
                for table in (threads, messages)
            }

    async def customer_rows(
        self, addresses: Sequence[str], conversation_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Every thread and id of the customer with these addresses (in any case) and
        conversations, by table, as JSON-ready rows."""
        async with self._engine.connect() as connection:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in await connection.execute(
                        select(table)
                        .where(_of_customer(table, addresses, conversation_ids))
                        .order_by(*table.primary_key)
                    )
                ]
                for table in (threads, messages)
            }

    async def erase_customer(
        self, addresses: Sequence[str], conversation_ids: Sequence[str]
    ) -> dict[str, int]:
        """Delete what :meth:`customer_rows` finds, in one transaction; rows by table.

        The ids go first: they are found through the threads' customers."""
        async with self._writing() as connection:
            return {
                table.name: (
                    await connection.execute(
                        delete(table).where(_of_customer(table, addresses, conversation_ids))
                    )
                ).rowcount
                for table in (messages, threads)
            }


def _of_customer(
    table: Table, addresses: Sequence[str], conversation_ids: Sequence[str]
) -> ColumnElement[bool]:
    """Rows of the given conversations or of a thread started from one of ``addresses``."""
    lowered = sorted({address.lower() for address in addresses if address})
    started = select(threads.c.conversation_id).where(func.lower(threads.c.customer).in_(lowered))
    return or_(
        table.c.conversation_id.in_(sorted(set(conversation_ids))),
        table.c.conversation_id.in_(started),
    )
