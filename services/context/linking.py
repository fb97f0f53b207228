"""Proving that two addresses belong to one person, and merging their customers.

Never on a claim alone: either the customer types a one-time code that was sent to the
other address on its own channel, or an operator decides (and is audited). Merging keeps
both histories: every row moves to the older customer, and the younger id becomes an
alias of it so references held elsewhere still resolve. Consent to emotion analysis and
marketing merges to the more protective value of the two; SMS consent belongs to each
number (its identity row), so every number keeps its own, and a number linked for the
first time starts opted in unless an opt-out of it outlived an erasure. Of two remembered
slots of one name, the newer is kept.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.context.addresses import normalise_address
from services.context.errors import (
    AlreadyLinkedError,
    ChallengeError,
    UnknownError,
    WrongCodeError,
)
from services.context.models import (
    ContactRow,
    ConversationRow,
    CustomerAliasRow,
    CustomerRow,
    IdentityRow,
    IssueRow,
    LinkChallengeRow,
    SlotRow,
    TombstoneRow,
    TurnRow,
)
from services.context.repository import (
    SLOTS,
    ContextRepository,
    Customer,
    kept_opt_out_hash,
    slot_of,
)
from services.context.slots import newest_per_name
from services.context.store import Store, now, utc

CODE_DIGITS = 6
_OWNED_TABLES = (IdentityRow, ConversationRow, ContactRow, TurnRow, IssueRow, LinkChallengeRow)


@dataclass(frozen=True, slots=True)
class LinkPolicy:
    code_ttl: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    default_phone_region: str = "US"


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    code: str
    channel: int
    address: str
    expires_at: datetime


class IdentityLinks:
    def __init__(self, store: Store, customers: ContextRepository, policy: LinkPolicy) -> None:
        self._store = store
        self._customers = customers
        self._policy = policy

    def _code_hash(self, challenge_id: str, code: str) -> str:
        return self._store.subject_hash("link-code", f"{challenge_id}:{code}")

    async def start(self, customer_id: str, channel: int, address: str) -> Challenge:
        """A one-time code for ``customer_id`` to prove they own ``address``."""
        address = normalise_address(channel, address, self._policy.default_phone_region)
        async with self._store.write() as session:
            customer = await self._store.canonical_id(session, customer_id)
            if await session.get(CustomerRow, customer) is None:
                raise UnknownError(f"no customer {customer_id}")
            owner = await session.scalar(
                select(IdentityRow.customer_id).where(
                    IdentityRow.channel == channel, IdentityRow.address == address
                )
            )
            if owner == customer:
                raise AlreadyLinkedError("this address already belongs to the customer")
            challenge_id = str(uuid.uuid4())
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            moment = now()
            session.add(
                LinkChallengeRow(
                    id=challenge_id,
                    customer_id=customer,
                    channel=channel,
                    address=address,
                    code_hash=self._code_hash(challenge_id, code),
                    attempts=0,
                    created_at=moment,
                    expires_at=moment + self._policy.code_ttl,
                )
            )
            return Challenge(challenge_id, code, channel, address, moment + self._policy.code_ttl)

    async def confirm(
        self, challenge_id: str, customer_id: str, code: str
    ) -> tuple[Customer, bool]:
        """Check the code; link the address to the customer, merging if it had its own."""
        async with self._store.write() as session:
            challenge = await session.get(LinkChallengeRow, challenge_id)
            if challenge is None:
                raise UnknownError(f"no challenge {challenge_id}")
            customer = await self._store.canonical_id(session, customer_id)
            self._check_usable(challenge, customer)
            if not hmac.compare_digest(
                challenge.code_hash, self._code_hash(challenge_id, code.strip())
            ):
                challenge.attempts += 1
                wrong = True
            else:
                challenge.consumed_at = now()
                wrong = False
        if wrong:  # the attempt is counted (committed) before saying no
            raise WrongCodeError("the code does not match")
        async with self._store.write() as session:
            owner = await session.scalar(
                select(IdentityRow.customer_id).where(
                    IdentityRow.channel == challenge.channel,
                    IdentityRow.address == challenge.address,
                )
            )
            merged = owner is not None and owner != customer
            if owner is None:
                kept = await self._kept_opt_out(session, challenge.channel, challenge.address)
                session.add(
                    IdentityRow(
                        customer_id=customer,
                        channel=challenge.channel,
                        address=challenge.address,
                        verified=True,
                        created_at=now(),
                        opted_out=kept is not None,
                        consent_updated_at=kept.erased_at if kept is not None else None,
                    )
                )
                survivor = customer
            elif merged:
                assert owner is not None
                survivor = await self._merge(session, customer, owner, actor="customer:code")
            else:
                survivor = customer
            self._store.audit(session, "link", survivor, "customer:code", {"merged": merged})
        return await self._customers.get_customer(survivor), merged

    async def _kept_opt_out(
        self, session: AsyncSession, channel: int, address: str
    ) -> TombstoneRow | None:
        """The opt-out of this address that outlived an erasure, if one did."""
        return await session.get(TombstoneRow, kept_opt_out_hash(self._store, channel, address))

    def _check_usable(self, challenge: LinkChallengeRow, customer: str) -> None:
        if challenge.customer_id != customer:
            raise ChallengeError("this challenge was started by another customer")
        if challenge.consumed_at is not None:
            raise ChallengeError("this code was already used")
        if challenge.attempts >= self._policy.max_attempts:
            raise ChallengeError("too many wrong codes; start again")
        if utc(challenge.expires_at) <= now():
            raise ChallengeError("the code expired; start again")

    async def merge(self, customer_id: str, other_customer_id: str, actor: str) -> Customer:
        """An operator's decision that two customers are one person."""
        async with self._store.write() as session:
            first = await self._store.canonical_id(session, customer_id)
            second = await self._store.canonical_id(session, other_customer_id)
            for candidate in (first, second):
                if await session.get(CustomerRow, candidate) is None:
                    raise UnknownError(f"no customer {candidate}")
            if first == second:
                raise AlreadyLinkedError("these are already the same customer")
            survivor = await self._merge(session, first, second, actor)
            self._store.audit(session, "merge", survivor, actor, {})
        return await self._customers.get_customer(survivor)

    async def _merge(self, session: AsyncSession, first: str, second: str, actor: str) -> str:
        """Move everything to the older customer; returns its id."""
        rows = {
            row.id: row
            for row in (
                await session.execute(
                    select(CustomerRow).where(CustomerRow.id.in_([first, second]))
                )
            ).scalars()
        }
        survivor, absorbed = sorted(rows.values(), key=lambda r: (utc(r.created_at), r.id))
        await self._merge_slots(session, survivor.id, absorbed.id)
        for table in _OWNED_TABLES:
            await session.execute(
                update(table)
                .where(table.customer_id == absorbed.id)
                .values(customer_id=survivor.id)
            )
        await session.execute(
            update(CustomerAliasRow)
            .where(CustomerAliasRow.customer_id == absorbed.id)
            .values(customer_id=survivor.id)
        )
        survivor.emotion_analysis_allowed = (
            survivor.emotion_analysis_allowed and absorbed.emotion_analysis_allowed
        )
        survivor.marketing_allowed = survivor.marketing_allowed and absorbed.marketing_allowed
        survivor.preferred_language = survivor.preferred_language or absorbed.preferred_language
        survivor.display_name = survivor.display_name or absorbed.display_name
        survivor.consent_updated_at = now()
        await session.flush()
        await session.execute(delete(CustomerRow).where(CustomerRow.id == absorbed.id))
        session.add(CustomerAliasRow(alias_id=absorbed.id, customer_id=survivor.id))
        return survivor.id

    @staticmethod
    async def _merge_slots(session: AsyncSession, survivor: str, absorbed: str) -> None:
        """Both customers' slots become the survivor's: one per name, the newest (the
        survivor's on a tie). A slot is keyed by customer and name, so they cannot just move."""
        both = SlotRow.customer_id.in_([survivor, absorbed])
        rows = (await session.execute(select(SLOTS).where(both))).all()
        if not rows:
            return
        survivor_last = sorted(rows, key=lambda row: row.customer_id == survivor)
        kept = newest_per_name(slot_of(row) for row in survivor_last)
        await session.execute(delete(SlotRow).where(both))
        await session.execute(
            insert(SlotRow), [{"customer_id": survivor, **asdict(slot)} for slot in kept]
        )
