"""The email adapter's store on SQLite and on a real PostgreSQL server: mailbox cursors,
Message-IDs seen and sent, and the thread a reply must land in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.email_adapter.compose import ThreadHeaders
from services.email_adapter.store import METADATA, EmailStore, OutboundThread
from shared.database import create_engine
from shared.errors import InvalidInputError

pytestmark = pytest.mark.integration

SUPPORT = "support@shop.example"
CUSTOMER = "ana@customer.example"


@pytest.fixture
async def store(email_database: str) -> AsyncIterator[EmailStore]:
    await (await EmailStore.open(email_database)).close()  # a second migration is a no-op
    opened = await EmailStore.open(email_database)
    try:
        yield opened
    finally:
        await opened.close()


async def remember(
    store: EmailStore,
    message_id: str,
    conversation_id: str = "c-1",
    subject: str = "Broken zipper",
    references: tuple[str, ...] = (),
    customer: str = CUSTOMER,
) -> bool:
    return await store.remember_inbound(
        message_id=message_id,
        conversation_id=conversation_id,
        mailbox=SUPPORT,
        customer=customer,
        subject=subject,
        references=references,
    )


async def test_the_migrations_build_exactly_the_schema_the_tables_describe(
    email_database: str,
) -> None:
    await (await EmailStore.open(email_database)).close()
    engine = create_engine(email_database)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), METADATA)
            )
    finally:
        await engine.dispose()
    assert differences == []


async def test_a_cursor_starts_at_zero_and_keeps_each_folder_apart(store: EmailStore) -> None:
    assert await store.cursor(SUPPORT, "INBOX") == (0, 0)

    await store.advance(SUPPORT, "INBOX", 1700000000, 41)
    await store.advance(SUPPORT, "INBOX", 1700000000, 42)
    await store.advance(SUPPORT, "Escalations", 7, 3)
    await store.advance("sales@shop.example", "INBOX", 9, 1)

    assert await store.cursor(SUPPORT, "INBOX") == (1700000000, 42)
    assert await store.cursor(SUPPORT, "Escalations") == (7, 3)
    await store.advance(SUPPORT, "INBOX", 1800000000, 0)  # the server renumbered the folder
    assert await store.cursor(SUPPORT, "INBOX") == (1800000000, 0)


async def test_a_mail_is_remembered_once_and_its_id_names_its_conversation(
    store: EmailStore,
) -> None:
    assert await store.conversation_of(["first@customer.example"]) is None

    assert await remember(store, "first@customer.example") is True
    assert await remember(store, "first@customer.example", conversation_id="c-2") is False

    assert await store.conversation_of(["first@customer.example"]) == "c-1"
    assert await store.conversation_of([]) is None
    assert await store.conversation_of(["unknown@x.example", "x" * 2000]) is None


async def test_the_most_specific_known_id_decides_the_conversation(store: EmailStore) -> None:
    await remember(store, "root@customer.example", conversation_id="c-old")
    await remember(store, "later@customer.example", conversation_id="c-new")

    answered = ["missing@x.example", "later@customer.example", "root@customer.example"]
    assert await store.conversation_of(answered) == "c-new"


async def test_a_sent_answer_joins_its_conversation_and_a_retry_changes_nothing(
    store: EmailStore,
) -> None:
    await store.remember_sent(message_id="reply-1@shop.example", conversation_id="c-1")
    await store.remember_sent(message_id="reply-1@shop.example", conversation_id="c-1")

    assert await store.conversation_of(["reply-1@shop.example"]) == "c-1"
    # The customer's reply that happens to carry our id is no new mail.
    assert await remember(store, "reply-1@shop.example") is False


async def test_the_thread_answers_the_customers_latest_mail(store: EmailStore) -> None:
    assert await store.thread("c-1") is None

    await remember(store, "m1@customer.example", subject="Broken zipper")
    await store.remember_sent(message_id="r1@shop.example", conversation_id="c-1")
    await remember(
        store,
        "m2@customer.example",
        subject="Re: AW: Re[2]: Broken zipper, photo attached",
        references=("m1@customer.example", "r1@shop.example"),
    )

    assert await store.thread("c-1") == OutboundThread(
        mailbox=SUPPORT,
        customer=CUSTOMER,
        headers=ThreadHeaders(
            subject="Re: AW: Re[2]: Broken zipper, photo attached",
            in_reply_to="m2@customer.example",
            references=("m1@customer.example", "r1@shop.example", "m2@customer.example"),
        ),
    )

    await remember(store, "m3@customer.example", subject="  ", references=())
    thread = await store.thread("c-1")
    assert thread is not None
    assert thread.headers.subject == "Re: AW: Re[2]: Broken zipper, photo attached"
    assert thread.headers.in_reply_to == "m3@customer.example"


async def test_an_unusable_message_id_is_refused_and_nothing_is_stored(
    store: EmailStore,
) -> None:
    for bad in ("", "x" * 999):
        with pytest.raises(InvalidInputError, match="Message-ID"):
            await remember(store, bad)
        with pytest.raises(InvalidInputError, match="Message-ID"):
            await store.remember_sent(message_id=bad, conversation_id="c-1")
    assert await store.thread("c-1") is None


async def test_of_one_mail_remembered_twice_at_once_only_one_is_new(store: EmailStore) -> None:
    outcomes = await asyncio.gather(
        *(remember(store, "same@customer.example", conversation_id=f"c-{n}") for n in range(6))
    )
    assert sorted(outcomes) == [False] * 5 + [True]
    winner = await store.conversation_of(["same@customer.example"])
    assert winner is not None and await store.thread(winner) is not None
