"""The customer's rights over their data: export (portability), erasure, and retention.

Erasure deletes every row that carries the customer's id, then leaves tombstones (keyed
hashes of the customer and of each address) so an event sent before the erasure cannot
recreate them. An address that had opted out of messages (SMS STOP) also leaves that
opt-out, as a keyed hash: the person asked not to be texted there, and forgetting them
must not mean texting them again before they opt back in from that number (a
suppression list, which erasure rules allow keeping). Retention removes emotion
readings sooner than messages, and remembered slots (emails, postal codes, order
references) after their own period. Every export, erasure and retention run is written
to the audit log, which holds hashes, never identifiers or text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.context.errors import UnknownError
from services.context.models import (
    AuditRow,
    Base,
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
from services.context.repository import KEPT_OPT_OUT, kept_opt_out_hash
from services.context.store import Store, now

# Children first, so foreign keys hold at every step of an erasure.
_CUSTOMER_TABLES: tuple[type[Base], ...] = (
    SlotRow,
    TurnRow,
    ContactRow,
    IssueRow,
    LinkChallengeRow,
    ConversationRow,
    IdentityRow,
    CustomerAliasRow,
)
_SECRET_COLUMNS = frozenset({"code_hash"})


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    emotion_retention: timedelta
    message_retention: timedelta
    slot_retention: timedelta

    def __post_init__(self) -> None:
        if self.emotion_retention >= self.message_retention:
            raise ValueError("emotion data must be kept for less time than messages")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    emotion_readings_removed: int
    turns_removed: int
    slots_removed: int


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row_dict(row: Base) -> dict[str, Any]:
    return {
        column.key: _jsonable(getattr(row, column.key))
        for column in inspect(row).mapper.column_attrs
        if column.key not in _SECRET_COLUMNS
    }


class DataRights:
    def __init__(self, store: Store, retention: RetentionPolicy) -> None:
        self._store = store
        self._retention = retention

    async def _customer(self, session: AsyncSession, customer_id: str) -> CustomerRow:
        canonical = await self._store.canonical_id(session, customer_id)
        row = await session.get(CustomerRow, canonical)
        if row is None:
            raise UnknownError(f"no customer {customer_id}")
        return row

    async def _aliases(self, session: AsyncSession, customer_id: str) -> list[str]:
        return list(
            (
                await session.execute(
                    select(CustomerAliasRow.alias_id).where(
                        CustomerAliasRow.customer_id == customer_id
                    )
                )
            ).scalars()
        )

    async def export(self, customer_id: str, actor: str) -> str:
        """Every row about the customer, by table, as JSON."""
        async with self._store.write() as session:
            customer = await self._customer(session, customer_id)
            ids = [customer.id, *await self._aliases(session, customer.id)]
            document: dict[str, Any] = {
                "exported_at": now().isoformat(),
                "customer_id": customer.id,
                "customers": [_row_dict(customer)],
            }
            for table in _CUSTOMER_TABLES:
                rows = (
                    await session.execute(
                        select(table).where(table.customer_id == customer.id)  # type: ignore[attr-defined]
                    )
                ).scalars()
                document[table.__tablename__] = [_row_dict(r) for r in rows]
            hashes = [self._store.subject_hash("customer", i) for i in ids]
            self._store.audit(session, "export", customer.id, actor, {})
            await session.flush()
            document["audit_log"] = [
                _row_dict(r)
                for r in (
                    await session.execute(
                        select(AuditRow)
                        .where(AuditRow.subject_hash.in_(hashes))
                        .order_by(AuditRow.id)
                    )
                ).scalars()
            ]
        return json.dumps(document, ensure_ascii=False, indent=2)

    async def erase(self, customer_id: str, actor: str, reason: str) -> dict[str, int]:
        """Delete every row about the customer; leave tombstones; return counts by table."""
        async with self._store.write() as session:
            customer = await self._customer(session, customer_id)
            moment = now()
            aliases = await self._aliases(session, customer.id)
            identities = (
                await session.execute(
                    select(IdentityRow.channel, IdentityRow.address, IdentityRow.opted_out).where(
                        IdentityRow.customer_id == customer.id
                    )
                )
            ).all()
            deleted: dict[str, int] = {}
            for table in _CUSTOMER_TABLES:
                result = await session.execute(
                    delete(table).where(table.customer_id == customer.id)  # type: ignore[attr-defined]
                )
                deleted[table.__tablename__] = int(result.rowcount)  # type: ignore[attr-defined]
            await session.execute(delete(CustomerRow).where(CustomerRow.id == customer.id))
            deleted["customers"] = 1
            subjects = [("customer", i) for i in (customer.id, *aliases)] + [
                ("identity", f"{channel}:{address}") for channel, address, _ in identities
            ]
            for kind, value in subjects:
                await session.execute(
                    self._store.insert(TombstoneRow)
                    .values(
                        subject_hash=self._store.subject_hash(kind, value),
                        kind=kind,
                        erased_at=moment,
                    )
                    .on_conflict_do_nothing()
                )
            await self._keep_opt_outs(session, identities, moment)
            self._store.audit(
                session, "erase", customer.id, actor, {"reason": reason[:200], "deleted": deleted}
            )
        return deleted

    async def _keep_opt_outs(
        self, session: AsyncSession, identities: Sequence[Row[int, str, bool]], moment: datetime
    ) -> None:
        """Leave a tombstone of each erased address that is opted out, and none of one that
        is not (an earlier erasure's, since opted back in)."""
        kept = {
            kept_opt_out_hash(self._store, channel, address): opted_out
            for channel, address, opted_out in identities
        }
        await session.execute(
            delete(TombstoneRow).where(
                TombstoneRow.subject_hash.in_([key for key, out in kept.items() if not out])
            )
        )
        for key in (key for key, out in kept.items() if out):
            await session.execute(
                self._store.insert(TombstoneRow)
                .values(subject_hash=key, kind=KEPT_OPT_OUT, erased_at=moment)
                .on_conflict_do_nothing()
            )

    async def apply_retention(self, moment: datetime | None = None) -> RetentionReport:
        """Remove emotion readings, messages and remembered slots older than the policy
        keeps them."""
        moment = moment or now()
        async with self._store.write() as session:
            # Decision records quote emotion scores, so they expire with them.
            emotions = await session.execute(
                update(TurnRow)
                .where(
                    TurnRow.occurred_at < moment - self._retention.emotion_retention,
                    TurnRow.dominant_emotion.is_not(None) | TurnRow.decision.is_not(None),
                )
                .values(
                    dominant_emotion=None,
                    emotion_intensity=None,
                    sentiment_score=None,
                    decision=None,
                )
            )
            turns = await session.execute(
                delete(TurnRow).where(
                    TurnRow.occurred_at < moment - self._retention.message_retention
                )
            )
            slots = await session.execute(
                delete(SlotRow).where(SlotRow.given_at < moment - self._retention.slot_retention)
            )
            await session.execute(
                delete(LinkChallengeRow).where(LinkChallengeRow.expires_at < moment)
            )
            report = RetentionReport(
                int(emotions.rowcount),  # type: ignore[attr-defined]
                int(turns.rowcount),  # type: ignore[attr-defined]
                int(slots.rowcount),  # type: ignore[attr-defined]
            )
            self._store.audit(session, "retention", "", "retention-job", asdict(report))
        return report
