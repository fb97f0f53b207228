"""Finding a customer for an operator who acts on their rights (the agent desk's data-rights
page): by id, name, channel address or handle, phone number or an email they gave.

Each match comes with every id and conversation the customer is known by, because other
stores (the desk's tickets, messages and ratings) keep them under those, not under the
customer row: what the desk exports or erases with the customer is found by them.

Names match on any part, in any case; addresses, phone numbers and emails match whole,
so a query cannot list customers by a fragment of their number. Nothing here is audited:
it shows what an operator may already see on a conversation page; export and erasure,
which hand data out or destroy it, are.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.context.addresses import normalise_address
from services.context.errors import InvalidAddressError
from services.context.models import (
    ConversationRow,
    CustomerAliasRow,
    CustomerRow,
    IdentityRow,
    SlotRow,
)
from services.context.repository import Customer, customer_of, identity_of
from services.context.store import Store
from shared.channel_names import PHONE_CHANNELS
from shared.errors import InvalidInputError

MIN_QUERY_CHARS = 3
DEFAULT_MATCHES = 20
MAX_MATCHES = 50
MAX_QUERY_CHARS = 200
EMAIL_SLOT = "email"


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer with every id (theirs, then those merged into them) and conversation."""

    customer: Customer
    customer_ids: tuple[str, ...]
    conversation_ids: tuple[str, ...]


def addresses_meant(query: str, default_region: str) -> set[str]:
    """The addresses a query may name: as typed, and as a phone number in E.164 when it
    reads as one (``07911 123456`` in the default region, ``+44 7911 123456``)."""
    forms = {query}
    for channel in PHONE_CHANNELS:
        try:
            forms.add(normalise_address(channel, query, default_region))
        except InvalidAddressError:
            continue
    return forms


def _like_pattern(text: str) -> str:
    """``%text%`` for LIKE, with the query's own wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class CustomerLookup:
    def __init__(self, store: Store, default_phone_region: str) -> None:
        self._store = store
        self._region = default_phone_region

    async def find(self, query: str, limit: int = 0) -> list[CustomerRecord]:
        """Customers matching ``query``, newest first, at most ``limit`` (0: the default)."""
        text = query.strip()
        if not MIN_QUERY_CHARS <= len(text) <= MAX_QUERY_CHARS:
            raise InvalidInputError(
                f"a search needs {MIN_QUERY_CHARS} to {MAX_QUERY_CHARS} characters"
            )
        if limit < 0:
            raise InvalidInputError("limit must not be negative")
        lowered = text.lower()
        addresses = {a.lower() for a in addresses_meant(text, self._region)}
        matches: list[ColumnElement[bool]] = [
            CustomerRow.id == text,
            CustomerRow.id.in_(
                select(CustomerAliasRow.customer_id).where(CustomerAliasRow.alias_id == text)
            ),
            func.lower(CustomerRow.display_name).like(_like_pattern(lowered), escape="\\"),
            CustomerRow.id.in_(
                select(IdentityRow.customer_id).where(
                    func.lower(IdentityRow.address).in_(addresses)
                )
            ),
            CustomerRow.id.in_(
                select(SlotRow.customer_id).where(
                    SlotRow.name == EMAIL_SLOT, func.lower(SlotRow.value) == lowered
                )
            ),
        ]
        async with self._store.read() as session:
            rows = (
                await session.scalars(
                    select(CustomerRow)
                    .where(or_(*matches))
                    .order_by(CustomerRow.created_at.desc(), CustomerRow.id)
                    .limit(min(limit or DEFAULT_MATCHES, MAX_MATCHES))
                )
            ).all()
            return [await self._record(session, row) for row in rows]

    @staticmethod
    async def _record(session: AsyncSession, row: CustomerRow) -> CustomerRecord:
        identities = (
            await session.scalars(
                select(IdentityRow)
                .where(IdentityRow.customer_id == row.id)
                .order_by(IdentityRow.created_at, IdentityRow.id)
            )
        ).all()
        aliases = await session.scalars(
            select(CustomerAliasRow.alias_id)
            .where(CustomerAliasRow.customer_id == row.id)
            .order_by(CustomerAliasRow.alias_id)
        )
        conversations = await session.scalars(
            select(ConversationRow.id)
            .where(ConversationRow.customer_id == row.id)
            .order_by(ConversationRow.created_at, ConversationRow.id)
        )
        return CustomerRecord(
            customer=customer_of(row, tuple(identity_of(i) for i in identities)),
            customer_ids=(row.id, *aliases),
            conversation_ids=tuple(conversations),
        )
