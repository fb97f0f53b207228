"""Customers, conversations, turns and issues: the context store's everyday reads and writes.

Turn sequence numbers come from the conversation row, bumped in the same transaction as
the insert, so two writers appending to one conversation still get 1, 2, 3...
Appending is idempotent on the turn's event id. A customer turn after a resolution or a
long pause starts a new *contact*, which is what "repeat contact" counts.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, cast

from sqlalchemy import Integer, Row, String, Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Insert

from services.context import insights
from services.context.addresses import normalise_address
from services.context.errors import ConsentChangeError, ErasedError, UnknownError
from services.context.hot_sql import HotStatement
from services.context.journey import journey_stage
from services.context.models import (
    ContactRow,
    ConversationRow,
    CustomerAliasRow,
    CustomerRow,
    EmpathyPendingRow,
    IdentityRow,
    IssueRow,
    SlotRow,
    TombstoneRow,
    TurnRow,
)
from services.context.slots import Slot, checked_all
from services.context.store import Store, now, utc
from shared import channel_names
from shared.channel_names import channel_number
from shared.languages import UNDETERMINED

ROLE_CUSTOMER = 1
CHANNEL_SMS = 2
STATE_BOT, STATE_WAITING, STATE_WITH_AGENT, STATE_RESOLVED, STATE_RATING_REQUESTED = 1, 2, 3, 4, 5
CHANNEL_NAMES = {int(channel_number(name)): name for name in channel_names.CHANNEL_NAMES}
"""Channel number → name, for every value of the proto enum but the unspecified one."""


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """The business rules of the store, from settings."""

    emotion_analysis_default: bool = True
    default_phone_region: str = "US"
    contact_gap: timedelta = timedelta(hours=12)
    repeat_window: timedelta = timedelta(days=7)
    recent_issue_window: timedelta = timedelta(days=30)
    trajectory_points: int = 10
    # Remembered slots older than this are not returned (and retention deletes them).
    slot_retention: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Consent:
    emotion_analysis_allowed: bool
    marketing_allowed: bool
    # Any of the customer's SMS numbers opted out (see sms_opted_out_numbers).
    sms_opted_out: bool
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Identity:
    channel: int
    address: str
    verified: bool
    created_at: datetime
    # The address asked for no more messages on its channel (SMS STOP), and when that
    # last changed; only the address itself changes it.
    opted_out: bool = False
    consent_updated_at: datetime | None = None


def sms_opted_out_numbers(identities: Sequence[Identity]) -> list[str]:
    """The customer's SMS numbers that opted out. Consent is kept per number, so a
    customer-level reader (``Consent.sms_opted_out``) gets the protective summary: opted
    out while any of these is."""
    return [i.address for i in identities if i.channel == CHANNEL_SMS and i.opted_out]


KEPT_OPT_OUT = "opted_out"
"""The kind of tombstone an erased address that had opted out leaves: its opt-out
outlives the erasure (as a keyed hash), so the person is not messaged there again until
the address itself opts back in."""


def kept_opt_out_hash(store: Store, channel: int, address: str) -> str:
    """The key of the tombstone keeping an erased address's opt-out."""
    return store.subject_hash(KEPT_OPT_OUT, f"{channel}:{address}")


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    display_name: str
    preferred_language: str
    preferred_channel: int
    created_at: datetime
    consent: Consent
    identities: tuple[Identity, ...] = ()
    # The language of the customer's latest message read with one ("" when none): what
    # the language identifier weighs a short next message against.
    last_language: str = ""

    def identity(self, channel: int, address: str) -> Identity:
        """Their identity of ``address`` (normalised) on ``channel``, which they have."""
        return next(i for i in self.identities if (i.channel, i.address) == (channel, address))


@dataclass(frozen=True, slots=True)
class EmotionReading:
    dominant_emotion: str
    intensity: float
    sentiment_score: float


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo, voice note, file, place... a turn carried; the fields of
    ``rapport.common.v1.Attachment``. The bytes stay with the platform: ``reference``
    names them for the channel adapter."""

    reference: str = ""
    content_type: str = ""
    kind: int = 0
    size_bytes: int = 0
    file_name: str = ""
    voice_note: bool = False
    latitude: float = 0.0
    longitude: float = 0.0
    place: str = ""


@dataclass(frozen=True, slots=True)
class NewTurn:
    event_id: str
    conversation_id: str
    role: int
    channel: int
    text: str
    occurred_at: datetime
    language: str = ""
    emotion: EmotionReading | None = None
    author: str = ""
    # The bot's decision record as JSON (bot turns), "" for none.
    decision: str = ""
    attachments: tuple[Attachment, ...] = ()
    # What the customer wanted (customer turns), "" when not analysed.
    intent: str = ""


@dataclass(frozen=True, slots=True)
class Turn(NewTurn):
    sequence: int = 0
    # journey.Stage of a customer turn, 0 for other turns and those stored before it.
    journey_stage: int = 0


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    customer_id: str
    channel: int
    state: int
    language: str
    assignee: str
    created_at: datetime
    updated_at: datetime
    returned_by: str = ""
    returned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Issue:
    id: str
    customer_id: str
    topic: str
    open: bool
    contacts: int
    conversation_id: str
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Context:
    customer: Customer
    recent_turns: list[Turn]
    contacts_last_7_days: int
    conversation: Conversation | None
    issues: list[Issue]
    trajectory: list[insights.Reading]
    trend: str
    summary: str
    # What the customer told the bot, newest value per name, by name.
    slots: list[Slot]


@dataclass(frozen=True, slots=True)
class Resolved:
    """The customer behind an address, and the address's own identity (its consent)."""

    customer: Customer
    identity: Identity
    created: bool


@dataclass(frozen=True, slots=True)
class AddressConsentChange:
    customer: Customer
    identity: Identity
    changed: bool  # False: the address was already as asked


@dataclass(frozen=True, slots=True)
class Appended:
    turn: Turn
    created: bool
    new_contact: bool = False


@dataclass(frozen=True, slots=True)
class ConsentChange:
    emotion_analysis_allowed: bool | None = None
    marketing_allowed: bool | None = None
    sms_opted_out: bool | None = None


@dataclass(frozen=True, slots=True)
class PreferenceChange:
    preferred_language: str | None = None
    preferred_channel: int | None = None
    display_name: str | None = None


TURNS = cast(Table, TurnRow.__table__)
CONVERSATIONS = cast(Table, ConversationRow.__table__)
CUSTOMERS = cast(Table, CustomerRow.__table__)
ALIASES = cast(Table, CustomerAliasRow.__table__)
_NEW_TURN_FIELDS = tuple(f.name for f in fields(NewTurn))

# The id a customer has now: merged customers' old ids point to the survivor.
_CANONICAL_CUSTOMER_ID = func.coalesce(
    select(ALIASES.c.customer_id)
    .where(ALIASES.c.alias_id == bindparam("customer_id"))
    .scalar_subquery(),
    bindparam("customer_id"),
)
# Hot-path statements, built once and run on the driver's cursor on SQLite (see hot_sql).
_TURN_BY_EVENT = HotStatement(select(TURNS).where(TURNS.c.event_id == bindparam("event_id")))
# What appending needs to know, in one round trip: the customer (following merges) and
# their consent, whether the event is a repeat, and the conversation's last contact.
_APPEND_STATE = HotStatement(
    select(
        CUSTOMERS.c.id,
        CUSTOMERS.c.emotion_analysis_allowed,
        select(TURNS.c.event_id)
        .where(TURNS.c.event_id == bindparam("event_id"))
        .exists()
        .label("duplicate"),
        CONVERSATIONS.c.id.is_not(None).label("conversation_exists"),
        CONVERSATIONS.c.last_customer_turn_at,
        CONVERSATIONS.c.state,
    )
    .select_from(
        CUSTOMERS.outerjoin(CONVERSATIONS, CONVERSATIONS.c.id == bindparam("conversation_id"))
    )
    .where(CUSTOMERS.c.id == _CANONICAL_CUSTOMER_ID)
)
_INSERT_CONVERSATION = HotStatement(insert(CONVERSATIONS))
_BUMP_SEQUENCE = HotStatement(
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("conversation_id"))
    .values(
        last_sequence=CONVERSATIONS.c.last_sequence + 1,
        updated_at=bindparam("updated_at"),
        # A NULL parameter keeps the column as it is.
        last_customer_turn_at=func.coalesce(
            bindparam("customer_turn_at", type_=CONVERSATIONS.c.last_customer_turn_at.type),
            CONVERSATIONS.c.last_customer_turn_at,
        ),
        language=func.coalesce(func.nullif(bindparam("language"), ""), CONVERSATIONS.c.language),
        state=func.coalesce(bindparam("state", type_=Integer), CONVERSATIONS.c.state),
        assignee=func.coalesce(bindparam("assignee", type_=String), CONVERSATIONS.c.assignee),
    )
    .returning(CONVERSATIONS.c.last_sequence)
)
ISSUES = cast(Table, IssueRow.__table__)
IDENTITIES = cast(Table, IdentityRow.__table__)
CONTACTS = cast(Table, ContactRow.__table__)
_CUSTOMER_FOLLOWING_ALIASES = HotStatement(
    select(CUSTOMERS).where(CUSTOMERS.c.id == _CANONICAL_CUSTOMER_ID)
)
_LAST_LANGUAGE = (
    select(TURNS.c.language)
    .where(
        TURNS.c.customer_id == CUSTOMERS.c.id,
        TURNS.c.language != "",
        TURNS.c.language != UNDETERMINED,
    )
    .order_by(TURNS.c.occurred_at.desc(), TURNS.c.sequence.desc())
    .limit(1)
    .scalar_subquery()
)
_CUSTOMER_BY_ADDRESS = HotStatement(
    select(CUSTOMERS, _LAST_LANGUAGE.label("last_language"))
    .join(IDENTITIES, IDENTITIES.c.customer_id == CUSTOMERS.c.id)
    .where(
        IDENTITIES.c.channel == bindparam("channel"),
        IDENTITIES.c.address == bindparam("address"),
    )
)
_IDENTITIES_OF_CUSTOMER = HotStatement(
    select(IDENTITIES)
    .where(IDENTITIES.c.customer_id == bindparam("customer_id"))
    .order_by(IDENTITIES.c.created_at)
)
_LATEST_TURNS = HotStatement(
    select(TURNS)
    .where(TURNS.c.customer_id == bindparam("customer_id"))
    .order_by(TURNS.c.occurred_at.desc(), TURNS.c.sequence.desc())
    .limit(bindparam("limit"))
)
_CONTACTS_SINCE = HotStatement(
    select(func.count()).where(
        CONTACTS.c.customer_id == bindparam("customer_id"),
        CONTACTS.c.started_at >= bindparam("since"),
    )
)
_CONVERSATION = HotStatement(select(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("id")))
_RECENT_ISSUES = HotStatement(
    select(ISSUES)
    .where(
        ISSUES.c.customer_id == bindparam("customer_id"),
        ISSUES.c.open.is_(True) | (ISSUES.c.resolved_at >= bindparam("since")),
    )
    .order_by(ISSUES.c.updated_at.desc())
)
_TRAJECTORY = HotStatement(
    select(
        TURNS.c.occurred_at,
        TURNS.c.dominant_emotion,
        TURNS.c.emotion_intensity,
        TURNS.c.sentiment_score,
    )
    .where(
        TURNS.c.customer_id == bindparam("customer_id"),
        TURNS.c.role == ROLE_CUSTOMER,
        TURNS.c.dominant_emotion.is_not(None),
    )
    .order_by(TURNS.c.occurred_at.desc())
    .limit(bindparam("limit"))
)
_INSERT_CUSTOMER = HotStatement(insert(CUSTOMERS))
_ERASED_AT = HotStatement(
    select(TombstoneRow.erased_at).where(TombstoneRow.subject_hash == bindparam("subject_hash"))
)
_INSERT_CONTACT = HotStatement(insert(CONTACTS))
_INSERT_TURN = HotStatement(insert(TURNS))
# A customer turn with an emotion reading, counted for the empathy map (empathy.py folds).
_COUNT_IN_EMPATHY_MAP = HotStatement(insert(EmpathyPendingRow))
SLOTS = cast(Table, SlotRow.__table__)
# The primary key (customer_id, name) is the index: one range, already in name order.
_SLOTS_OF_CUSTOMER = HotStatement(
    select(SLOTS)
    .where(SLOTS.c.customer_id == bindparam("customer_id"), SLOTS.c.given_at >= bindparam("since"))
    .order_by(SLOTS.c.name)
)
_CANONICAL_CUSTOMER = HotStatement(
    select(CUSTOMERS.c.id).where(CUSTOMERS.c.id == _CANONICAL_CUSTOMER_ID)
)


def customer_of(row: CustomerRow | Row[Any], identities: tuple[Identity, ...]) -> Customer:
    """A customer from their row and every identity they have (which hold SMS consent)."""
    return Customer(
        id=row.id,
        display_name=row.display_name,
        preferred_language=row.preferred_language,
        preferred_channel=row.preferred_channel,
        created_at=utc(row.created_at),
        consent=Consent(
            row.emotion_analysis_allowed,
            row.marketing_allowed,
            bool(sms_opted_out_numbers(identities)),
            utc(row.consent_updated_at) if row.consent_updated_at else None,
        ),
        identities=identities,
        last_language=getattr(row, "last_language", None) or "",
    )


def identity_of(row: IdentityRow | Row[Any]) -> Identity:
    return Identity(
        row.channel,
        row.address,
        row.verified,
        utc(row.created_at),
        row.opted_out,
        utc(row.consent_updated_at) if row.consent_updated_at else None,
    )


def turn_of(row: TurnRow | Row[Any]) -> Turn:
    """A turn from an ORM row or a Core result row (same column names)."""
    emotion = None
    if row.dominant_emotion is not None:
        emotion = EmotionReading(
            row.dominant_emotion, row.emotion_intensity or 0.0, row.sentiment_score or 0.0
        )
    return Turn(
        event_id=row.event_id,
        conversation_id=row.conversation_id,
        role=row.role,
        channel=row.channel,
        text=row.text,
        occurred_at=utc(row.occurred_at),
        language=row.language,
        emotion=emotion,
        author=row.author,
        decision=row.decision or "",
        attachments=tuple(Attachment(**item) for item in row.attachments or ()),
        intent=row.intent,
        sequence=row.sequence,
        journey_stage=row.journey_stage or 0,
    )


def slot_of(row: SlotRow | Row[Any]) -> Slot:
    return Slot(
        name=row.name,
        value=row.value,
        conversation_id=row.conversation_id,
        channel=row.channel,
        given_at=utc(row.given_at),
    )


def conversation_of(row: ConversationRow | Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        state=row.state,
        language=row.language,
        assignee=row.assignee,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
        returned_by=row.returned_by,
        returned_at=utc(row.returned_at) if row.returned_at else None,
    )


def issue_of(row: IssueRow | Row[Any]) -> Issue:
    return Issue(
        id=row.id,
        customer_id=row.customer_id,
        topic=row.topic,
        open=row.open,
        contacts=row.contacts,
        conversation_id=row.conversation_id,
        opened_at=utc(row.opened_at),
        updated_at=utc(row.updated_at),
        resolved_at=utc(row.resolved_at) if row.resolved_at else None,
    )


_ContextRows = tuple[
    Customer,
    list[Turn],
    int,
    Conversation | None,
    list[Issue],
    list[insights.Reading],
    list[Slot],
]
"""What a context is made from: customer, recent turns, contacts in the repeat window,
conversation, issues, emotion readings and remembered slots."""


class _LostRaceError(Exception):
    """A concurrent writer created the same row first; roll back and read theirs."""


class ContextRepository:
    def __init__(self, store: Store, policy: StorePolicy) -> None:
        self._store = store
        self._policy = policy
        # Built once: a statement built per call is compiled (cache-keyed) per call.
        self._insert_identity = HotStatement(store.insert(IdentityRow).on_conflict_do_nothing())
        self._remember_slot = HotStatement(_slot_upsert(store))

    # -- customers -------------------------------------------------------------------

    async def resolve_customer(
        self,
        channel: int,
        address: str,
        display_name: str = "",
        seen_at: datetime | None = None,
    ) -> Resolved:
        """The customer behind ``address`` on ``channel``, created when first seen, with
        the address's identity.

        An address that was erased is not recreated by an event sent before the erasure.
        """
        address = normalise_address(channel, address, self._policy.default_phone_region)
        customer, created = await self._resolved(channel, address, display_name, seen_at)
        return Resolved(customer, customer.identity(channel, address), created)

    async def _resolved(
        self, channel: int, address: str, display_name: str, seen_at: datetime | None
    ) -> tuple[Customer, bool]:
        known = await self._known_customer(channel, address)
        if known is not None:
            return known, False
        try:
            return await self._store.run_write(
                functools.partial(self._create_customer, channel, address, display_name, seen_at)
            )
        except _LostRaceError:
            pass  # another writer created this identity first; our customer row rolled back
        found = await self._known_customer(channel, address)
        if found is None:
            raise UnknownError(f"no customer for {address}")
        return found, False

    def _create_customer(
        self,
        channel: int,
        address: str,
        display_name: str,
        seen_at: datetime | None,
        connection: Connection,
    ) -> tuple[Customer, bool]:
        """One write (see Store.run_write): a new customer with this verified identity."""
        found = self._read_known_customer(channel, address, connection)
        if found is not None:
            return found, False
        erased_at = _ERASED_AT(
            connection,
            {"subject_hash": self._store.subject_hash("identity", f"{channel}:{address}")},
        ).scalar()
        if erased_at is not None and (seen_at is None or seen_at <= utc(erased_at)):
            raise ErasedError("this customer's data was erased; the event predates the erasure")
        moment = now()
        # Only an address erased before can have an opt-out kept for it: one more look-up
        # for those alone.
        kept_since = None if erased_at is None else self._kept_opt_out(channel, address, connection)
        identity = Identity(
            channel,
            address,
            verified=True,
            created_at=moment,
            opted_out=kept_since is not None,
            consent_updated_at=kept_since,
        )
        created = Customer(
            id=str(uuid.uuid4()),
            display_name=display_name[:200],
            preferred_language="",
            preferred_channel=channel,
            created_at=moment,
            consent=Consent(
                emotion_analysis_allowed=self._policy.emotion_analysis_default,
                marketing_allowed=False,
                sms_opted_out=bool(sms_opted_out_numbers((identity,))),
                updated_at=moment,
            ),
            identities=(identity,),
        )
        _INSERT_CUSTOMER(
            connection,
            {
                "id": created.id,
                "display_name": created.display_name,
                "preferred_language": created.preferred_language,
                "preferred_channel": created.preferred_channel,
                "created_at": moment,
                "emotion_analysis_allowed": created.consent.emotion_analysis_allowed,
                "marketing_allowed": created.consent.marketing_allowed,
                "consent_updated_at": moment,
            },
        )
        inserted = self._insert_identity(
            connection,
            {
                "customer_id": created.id,
                "channel": channel,
                "address": address,
                "verified": True,
                "created_at": moment,
                "opted_out": identity.opted_out,
                "consent_updated_at": identity.consent_updated_at,
            },
        )
        if inserted.rowcount != 1:
            raise _LostRaceError
        return created, True

    def _kept_opt_out(self, channel: int, address: str, connection: Connection) -> datetime | None:
        """When an erased address that had opted out was erased (its opt-out outlives the
        erasure); None when none was kept."""
        subject = kept_opt_out_hash(self._store, channel, address)
        kept = _ERASED_AT(connection, {"subject_hash": subject}).scalar()
        return utc(kept) if kept is not None else None

    async def _known_customer(self, channel: int, address: str) -> Customer | None:
        """The fast path of every message: a read, no write lock, prebuilt statements."""
        return await self._store.run_read(
            functools.partial(self._read_known_customer, channel, address)
        )

    @staticmethod
    def _read_known_customer(channel: int, address: str, connection: Connection) -> Customer | None:
        row = _CUSTOMER_BY_ADDRESS(connection, {"channel": channel, "address": address}).first()
        if row is None:
            return None
        identities = tuple(
            identity_of(r) for r in _IDENTITIES_OF_CUSTOMER(connection, {"customer_id": row.id})
        )
        return customer_of(row, identities)

    async def _customer_row(self, session: AsyncSession, customer_id: str) -> CustomerRow:
        """The customer (following merges), or why there is none."""
        canonical = await self._store.canonical_id(session, customer_id)
        row = await session.get(CustomerRow, canonical)
        if row is not None:
            return row
        if await session.get(TombstoneRow, self._store.subject_hash("customer", canonical)):
            raise ErasedError(f"customer {customer_id} was erased")
        raise UnknownError(f"no customer {customer_id}")

    async def _no_customer(self, customer_id: str) -> NoReturn:
        """Why a hot-path statement found no customer: erased, or unknown."""
        async with self._store.read() as session:
            await self._customer_row(session, customer_id)  # raises the right error
        raise UnknownError(f"no customer {customer_id}")

    async def get_customer(self, customer_id: str) -> Customer:
        async with self._store.read() as session:
            row = await self._customer_row(session, customer_id)
            return customer_of(row, await self._identities(session, row.id))

    @staticmethod
    async def _identities(session: AsyncSession, customer_id: str) -> tuple[Identity, ...]:
        rows = (
            await session.execute(
                select(IdentityRow)
                .where(IdentityRow.customer_id == customer_id)
                .order_by(IdentityRow.created_at)
            )
        ).scalars()
        return tuple(identity_of(r) for r in rows)

    async def update_consent(self, customer_id: str, change: ConsentChange, actor: str) -> Consent:
        """The customer's consent changed; ``sms_opted_out`` may only opt every SMS number
        they have out: a number opts back in only from itself (update_address_consent)."""
        if change.sms_opted_out is False:
            raise ConsentChangeError(
                "sms_opted_out=false: an SMS number opts back in only from itself (START)"
            )
        async with self._store.write() as session:
            row = await self._customer_row(session, customer_id)
            moment = now()
            if change.emotion_analysis_allowed is not None:
                row.emotion_analysis_allowed = change.emotion_analysis_allowed
            if change.marketing_allowed is not None:
                row.marketing_allowed = change.marketing_allowed
            if change.sms_opted_out:
                await session.execute(
                    update(IdentityRow)
                    .where(
                        IdentityRow.customer_id == row.id,
                        IdentityRow.channel == CHANNEL_SMS,
                        IdentityRow.opted_out.is_(False),
                    )
                    .values(opted_out=True, consent_updated_at=moment)
                )
            row.consent_updated_at = moment
            changed = {name: value for name, value in asdict(change).items() if value is not None}
            self._store.audit(session, "consent", row.id, actor, changed)
            return customer_of(row, await self._identities(session, row.id)).consent

    async def update_address_consent(
        self, channel: int, address: str, opted_out: bool, seen_at: datetime | None
    ) -> AddressConsentChange:
        """Record what the address itself asked (STOP, START): its own consent only,
        whichever customer it belongs to; ``changed`` is False when it already was so.
        A change is dated when the address asked (``seen_at``, else now): on the clock
        that also dates the address's messages, so a reader can tell which came first."""
        resolved = await self.resolve_customer(channel, address, "", seen_at)
        key = (resolved.identity.channel, resolved.identity.address)
        async with self._store.write() as session:
            row = (
                await session.execute(
                    select(IdentityRow)
                    .where(IdentityRow.channel == key[0], IdentityRow.address == key[1])
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if row is None:  # erased between the two transactions
                raise ErasedError("this address's customer was just erased")
            changed = row.opted_out != opted_out
            if changed:
                row.opted_out, row.consent_updated_at = opted_out, seen_at or now()
        # Read as ResolveCustomer answers it (the language they last wrote in included).
        customer = await self._known_customer(*key)
        if customer is None:
            raise ErasedError("this address's customer was just erased")
        return AddressConsentChange(customer, customer.identity(*key), changed)

    async def update_preferences(self, customer_id: str, change: PreferenceChange) -> Customer:
        async with self._store.write() as session:
            row = await self._customer_row(session, customer_id)
            if change.preferred_language is not None:
                row.preferred_language = change.preferred_language[:16]
            if change.preferred_channel is not None:
                row.preferred_channel = change.preferred_channel
            if change.display_name is not None:
                row.display_name = change.display_name[:200]
            await session.flush()
            return customer_of(row, await self._identities(session, row.id))

    # -- turns -----------------------------------------------------------------------

    async def append_turn(self, customer_id: str, turn: NewTurn) -> Appended:
        """Store ``turn`` with the next sequence number; a known event id returns the stored one."""
        appended, _ = await self._append(customer_id, turn, max_turns=0)
        return appended

    async def append_turn_with_context(
        self, customer_id: str, turn: NewTurn, max_turns: int
    ) -> tuple[Appended, Context]:
        """Append, then read the context the turn leaves in the same transaction: one trip
        to the database instead of two, and no other write can come in between."""
        appended, rows = await self._append(customer_id, turn, max_turns)
        assert rows is not None  # the customer exists: the turn was just stored for them
        return appended, self._context_of(rows)

    async def _append(
        self, customer_id: str, turn: NewTurn, max_turns: int
    ) -> tuple[Appended, _ContextRows | None]:
        for _ in range(3):
            try:
                result = await self._store.run_write(
                    functools.partial(self._append_once, customer_id, turn, max_turns)
                )
            except IntegrityError:
                # A concurrent writer stored the same event id; the next pass reads it back.
                continue
            if result is None:
                await self._no_customer(customer_id)
            return result
        raise UnknownError(f"could not append turn {turn.event_id}")

    def _append_once(
        self, customer_id: str, turn: NewTurn, max_turns: int, connection: Connection
    ) -> tuple[Appended, _ContextRows | None] | None:
        """One attempt, as plain synchronous statements on one connection (see Store.run_write),
        with the context's rows when ``max_turns`` asks for them; None when there is no such
        customer."""
        appended = self._store_turn(customer_id, turn, connection)
        if appended is None:
            return None
        if not max_turns:
            return appended, None
        rows = self._read_context(customer_id, max_turns, turn.conversation_id, now(), connection)
        return appended, rows

    def _store_turn(
        self, customer_id: str, turn: NewTurn, connection: Connection
    ) -> Appended | None:
        state = (
            _APPEND_STATE(
                connection,
                {
                    "customer_id": customer_id,
                    "event_id": turn.event_id,
                    "conversation_id": turn.conversation_id,
                },
            )
        ).first()
        if state is None:
            return None
        if state.duplicate:
            existing = (_TURN_BY_EVENT(connection, {"event_id": turn.event_id})).one()
            return Appended(turn_of(existing), created=False)
        owner, emotion_allowed = state.id, state.emotion_analysis_allowed
        moment = now()
        conversation = state if state.conversation_exists else None
        is_customer = turn.role == ROLE_CUSTOMER
        new_contact = is_customer and self._starts_contact(conversation, turn.occurred_at)
        stage = None
        if is_customer:
            stage = journey_stage(
                conversation.state if conversation else None,
                conversation is not None and conversation.last_customer_turn_at is not None,
                new_contact,
            )
        if conversation is None:
            sequence = 1
            _INSERT_CONVERSATION(
                connection,
                {
                    "id": turn.conversation_id,
                    "customer_id": owner,
                    "channel": turn.channel,
                    "state": STATE_BOT,
                    "language": turn.language,
                    "assignee": "",
                    "last_sequence": 1,
                    "last_customer_turn_at": turn.occurred_at if is_customer else None,
                    "created_at": turn.occurred_at,
                    "updated_at": moment,
                },
            )
        else:
            sequence = (
                _BUMP_SEQUENCE(
                    connection,
                    {
                        "conversation_id": turn.conversation_id,
                        "updated_at": moment,
                        "customer_turn_at": turn.occurred_at if is_customer else None,
                        "language": turn.language if is_customer else "",
                        "state": STATE_BOT if new_contact else None,
                        "assignee": "" if new_contact else None,
                    },
                )
            ).scalar_one()
        if new_contact:
            _INSERT_CONTACT(
                connection,
                {
                    "customer_id": owner,
                    "conversation_id": turn.conversation_id,
                    "channel": turn.channel,
                    "started_at": turn.occurred_at,
                },
            )
        # A customer who opted out of emotion analysis has no emotion data stored.
        stored = replace(
            turn if emotion_allowed else replace(turn, emotion=None), author=turn.author[:100]
        )
        emotion = stored.emotion
        _INSERT_TURN(
            connection,
            {
                "event_id": stored.event_id,
                "conversation_id": stored.conversation_id,
                "customer_id": owner,
                "sequence": sequence,
                "role": stored.role,
                "channel": stored.channel,
                "text": stored.text,
                "language": stored.language,
                "author": stored.author,
                "occurred_at": stored.occurred_at,
                "dominant_emotion": emotion.dominant_emotion if emotion else None,
                "emotion_intensity": emotion.intensity if emotion else None,
                "sentiment_score": emotion.sentiment_score if emotion else None,
                "decision": stored.decision or None,
                "attachments": [asdict(a) for a in stored.attachments] or None,
                "intent": stored.intent[:64],
                "journey_stage": stage,
            },
        )
        if stage is not None and emotion is not None:
            _COUNT_IN_EMPATHY_MAP(
                connection,
                {
                    "day": stored.occurred_at.astimezone(UTC).date(),
                    "channel": stored.channel,
                    "intent": stored.intent[:64],
                    "stage": stage,
                    "emotion": emotion.dominant_emotion,
                    "intensity": emotion.intensity,
                    "sentiment": emotion.sentiment_score,
                },
            )
        return Appended(
            Turn(
                **{f: getattr(stored, f) for f in _NEW_TURN_FIELDS},
                sequence=sequence,
                journey_stage=stage or 0,
            ),
            created=True,
            new_contact=new_contact,
        )

    def _starts_contact(self, conversation: Any, occurred_at: datetime) -> bool:
        """A first message, one after the conversation was resolved, or after a long pause."""
        if conversation is None:
            return True
        last, state = conversation.last_customer_turn_at, conversation.state
        if last is None or state == STATE_RESOLVED:
            return True
        return occurred_at - utc(last) >= self._policy.contact_gap

    async def list_turns(self, conversation_id: str) -> list[Turn]:
        async with self._store.read() as session:
            rows = (
                await session.execute(
                    select(TurnRow)
                    .where(TurnRow.conversation_id == conversation_id)
                    .order_by(TurnRow.sequence)
                )
            ).scalars()
            return [turn_of(r) for r in rows]

    # -- slots -----------------------------------------------------------------------

    async def remember_slots(self, customer_id: str, slots: Sequence[Slot]) -> list[Slot]:
        """Store each slot unless a newer value of its name is stored; answer with the
        customer's slots after the update, as a context shows them."""
        found = checked_all(slots)
        remembered = await self._store.run_write(
            functools.partial(self._remember_once, customer_id, found, now())
        )
        if remembered is None:
            await self._no_customer(customer_id)
        return remembered

    def _remember_once(
        self, customer_id: str, slots: list[Slot], moment: datetime, connection: Connection
    ) -> list[Slot] | None:
        """One write (see Store.run_write), following merges; None without such a customer."""
        owner = _CANONICAL_CUSTOMER(connection, {"customer_id": customer_id}).scalar()
        if owner is None:
            return None
        for slot in slots:  # in request order: of two equally old, the later wins
            self._remember_slot(connection, {"customer_id": owner, **asdict(slot)})
        return self._read_slots(owner, moment, connection)

    def _read_slots(self, owner: str, moment: datetime, connection: Connection) -> list[Slot]:
        """The customer's slots retention still keeps: one index range."""
        since = moment - self._policy.slot_retention
        return [
            slot_of(r)
            for r in _SLOTS_OF_CUSTOMER(connection, {"customer_id": owner, "since": since})
        ]

    # -- conversations and issues -----------------------------------------------------

    async def set_conversation_state(
        self, conversation_id: str, state: int, assignee: str
    ) -> Conversation:
        async with self._store.write() as session:
            row = await session.get(ConversationRow, conversation_id)
            if row is None:
                raise UnknownError(f"no conversation {conversation_id}")
            moment = now()
            if state == STATE_BOT and row.state in (STATE_WAITING, STATE_WITH_AGENT) and assignee:
                row.returned_by, row.returned_at = assignee[:100], moment
            row.state = state
            # Who is in charge; after a resolution with a rating asked, who resolved it.
            in_charge = state in (STATE_WITH_AGENT, STATE_RATING_REQUESTED)
            row.assignee = assignee[:100] if in_charge else ""
            row.updated_at = moment
            return conversation_of(row)

    async def record_issue(self, customer_id: str, conversation_id: str, topic: str) -> Issue:
        """The customer's open issue on ``topic``, counted once more; a new one if none is open."""
        async with self._store.write() as session:
            customer = await self._customer_row(session, customer_id)
            moment = now()
            row = (
                await session.execute(
                    select(IssueRow).where(
                        IssueRow.customer_id == customer.id,
                        IssueRow.topic == topic,
                        IssueRow.open.is_(True),
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = IssueRow(
                    id=str(uuid.uuid4()),
                    customer_id=customer.id,
                    conversation_id=conversation_id,
                    topic=topic[:64],
                    open=True,
                    contacts=1,
                    opened_at=moment,
                    updated_at=moment,
                )
                session.add(row)
            elif row.conversation_id != conversation_id or (
                moment - utc(row.updated_at) >= self._policy.contact_gap
            ):
                row.contacts += 1
                row.conversation_id = conversation_id
                row.updated_at = moment
            await session.flush()
            return issue_of(row)

    async def resolve_issue(self, issue_id: str) -> Issue:
        async with self._store.write() as session:
            row = await session.get(IssueRow, issue_id)
            if row is None:
                raise UnknownError(f"no issue {issue_id}")
            moment = now()
            row.open, row.resolved_at, row.updated_at = False, moment, moment
            return issue_of(row)

    # -- context ---------------------------------------------------------------------

    def _read_context(
        self,
        customer_id: str,
        max_turns: int,
        conversation_id: str,
        moment: datetime,
        connection: Connection,
    ) -> _ContextRows | None:
        """The rows behind a context, as plain statements on one connection (see run_read)."""
        row = _CUSTOMER_FOLLOWING_ALIASES(connection, {"customer_id": customer_id}).first()
        if row is None:
            return None
        owner = {"customer_id": row.id}
        identities = tuple(identity_of(r) for r in _IDENTITIES_OF_CUSTOMER(connection, owner))
        turns = [turn_of(r) for r in _LATEST_TURNS(connection, {**owner, "limit": max_turns})][::-1]
        contacts = _CONTACTS_SINCE(
            connection, {**owner, "since": moment - self._policy.repeat_window}
        ).scalar_one()
        conversation = None
        if conversation_id:
            found = _CONVERSATION(connection, {"id": conversation_id}).first()
            conversation = conversation_of(found) if found is not None else None
        issues = [
            issue_of(r)
            for r in _RECENT_ISSUES(
                connection, {**owner, "since": moment - self._policy.recent_issue_window}
            )
        ]
        readings = [
            insights.Reading(
                utc(r.occurred_at), r.dominant_emotion, r.emotion_intensity, r.sentiment_score
            )
            for r in _TRAJECTORY(connection, {**owner, "limit": self._policy.trajectory_points})
        ][::-1]
        slots = self._read_slots(row.id, moment, connection)
        return customer_of(row, identities), turns, contacts, conversation, issues, readings, slots

    async def get_context(
        self, customer_id: str, max_turns: int, conversation_id: str = ""
    ) -> Context:
        """Everything needed to answer the customer's next message, in one read."""
        parts = await self._store.run_read(
            functools.partial(self._read_context, customer_id, max_turns, conversation_id, now())
        )
        if parts is None:
            await self._no_customer(customer_id)
        return self._context_of(parts)

    @staticmethod
    def _context_of(rows: _ContextRows) -> Context:
        """A context from its rows, with the trend and the summary they tell."""
        customer, turns, contacts, conversation, issues, readings, slots = rows
        trend = insights.trend(readings)
        channels = sorted({CHANNEL_NAMES.get(i.channel, "other") for i in customer.identities})
        summary = insights.summary(
            insights.SummaryFacts(
                display_name=customer.display_name,
                customer_since=customer.created_at,
                channels=channels,
                contacts_last_7_days=contacts,
                open_topics=[i.topic for i in issues if i.open],
                last_emotion=readings[-1].dominant_emotion if readings else "",
                trend=trend,
                preferred_language=customer.preferred_language,
                sms_opted_out_numbers=sms_opted_out_numbers(customer.identities),
                emotion_analysis_allowed=customer.consent.emotion_analysis_allowed,
                marketing_allowed=customer.consent.marketing_allowed,
            )
        )
        return Context(
            customer=customer,
            recent_turns=turns,
            contacts_last_7_days=contacts,
            conversation=conversation,
            issues=issues,
            trajectory=readings,
            trend=trend,
            summary=summary,
            slots=slots,
        )


def _slot_upsert(store: Store) -> Insert:
    """INSERT of one customer's slot that replaces the stored value of its name unless that
    one is newer: an older write never wins, and a repeat changes nothing."""
    statement = store.insert(SlotRow)
    replaced = ("value", "conversation_id", "channel", "given_at")
    return statement.on_conflict_do_update(
        index_elements=[SLOTS.c.customer_id, SLOTS.c.name],
        set_={column: statement.excluded[column] for column in replaced},
        where=SLOTS.c.given_at <= statement.excluded.given_at,
    )
