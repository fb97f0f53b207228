"""Customers' rights over their data, exercised from the desk by supervisors and admins:
find a customer, export everything held about them, erase them, change their consent.

Every store takes part. The context service holds the customer's record and history
(``FindCustomers``, ``ExportCustomer``, ``EraseCustomer``, ``UpdateConsent``); the desk
holds its own rows about them (``customer_data.py``); the email adapter keeps the
threads, Message-IDs and files of a customer who wrote by email (``email_rights.py``);
Kafka keeps what passed through it only for the topics' retention
(``shared/kafka/topics.py``), so an erasure reaches it by time. The decision records
(the bot's, with each of its turns; the handoff's reasons, with each ticket) travel with
the stores that keep them and are gathered in the export.

Each action is recorded twice with the signed-in account: in the desk's audit trail
(the customer as a digest of their id, so the trail outlives an erasure without naming
anyone) and in the context service's audit log, which records the desk's authenticated
gRPC name before the account (``agent_desk:<account id>``): nobody without the desk's
token can act for one of its accounts.

Erasing goes desk first, then the email adapter, then the context service: were a later
step to fail, the customer can still be found and the erasure done again (the parts
already done are then no-ops); the other way round, the desk's and the email adapter's
rows would be left with nobody to find them by. The email adapter is asked only about a
customer who wrote by email, whose turns (read before the context service forgets them)
name the files they sent.
A customer who starts a conversation while the erasure runs may leave its first row in
the desk.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from rapport.context.v1 import context_service_pb2 as context_pb
from sqlalchemy import inspect

from services.agent_desk.customer_data import Customer, CustomerData, DeskRows
from services.agent_desk.desk import AccessDenied
from services.agent_desk.email_rights import email_subject
from services.agent_desk.live import LiveUpdates, TicketChanged
from services.agent_desk.models import Agent, AuditAction, AuditEntry, OutboxEvent, Role, Ticket
from services.agent_desk.outbox import event_of
from services.agent_desk.store import packet_of
from shared.channels.customer_rights import CustomerSubject
from shared.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

EXPORT_FORMAT = "rapport-customer-export/1"
CONFIRMATION = "erase"
"""What a supervisor types to confirm an erasure."""

ERASURE_REASONS: Mapping[str, str] = {
    "customer_request": "The customer asked to be forgotten",
    "consent_withdrawn": "The customer withdrew the consent their data was kept under",
    "no_longer_needed": "The data is no longer needed for what it was collected for",
    "objection": "The customer objected to the processing",
    "legal_obligation": "A legal obligation requires it",
}
"""Why a customer is erased: a fixed list, so no free text (a name, a story) is written
into either audit log, which outlive the erasure."""

CONSENT_FLAGS = ("emotion_analysis_allowed", "marketing_allowed", "sms_opted_out")


class RightsContextPort(Protocol):
    """The context service's calls for customers' rights (``shared.grpc.context_client``)."""

    async def find_customers(self, query: str) -> list[context_pb.CustomerRecord]: ...

    async def export_customer(self, customer_id: str, actor: str) -> str: ...

    async def list_turns(self, conversation_id: str) -> list[context_pb.Turn]: ...

    async def erase_customer(self, customer_id: str, actor: str, reason: str) -> dict[str, int]: ...

    async def update_consent(
        self,
        customer_id: str,
        actor: str,
        *,
        emotion_analysis_allowed: bool | None = None,
        marketing_allowed: bool | None = None,
        sms_opted_out: bool | None = None,
    ) -> context_pb.Consent: ...


class EmailRightsPort(Protocol):
    """The email adapter's calls for customers' rights (``email_rights.py``)."""

    async def export(self, subject: CustomerSubject) -> dict[str, Any]: ...

    async def erase(self, subject: CustomerSubject) -> dict[str, int]: ...


@dataclass(frozen=True)
class Export:
    file_name: str
    data: bytes


def customer_reference(customer_id: str) -> str:
    """How the desk's audit trail names a customer: a digest of their id. Ids are random
    UUIDs, so it cannot be turned back into one, yet whoever holds the id can find what
    was done to them."""
    return "sha256:" + hashlib.sha256(customer_id.encode()).hexdigest()[:16]


def customer_of(record: context_pb.CustomerRecord) -> Customer:
    return Customer(frozenset(record.customer_ids), frozenset(record.conversation_ids))


def erasure_reason(code: str, confirmation: str) -> str:
    """The reason chosen for an erasure, once the supervisor typed the confirmation."""
    if confirmation.strip().lower() != CONFIRMATION:
        raise InvalidInputError(f"type {CONFIRMATION!r} to confirm the erasure")
    if code not in ERASURE_REASONS:
        raise InvalidInputError("pick why the customer is erased from the list")
    return code


def consent_changes(current: context_pb.Consent, wanted: Mapping[str, bool]) -> dict[str, bool]:
    """The consent flags to change: those whose wanted value differs, and an SMS opt-out
    whenever asked (the customer's flag is set while any one number is out; the others
    may still be texted). SMS can only be opted out here: a number opts back in by
    texting START itself."""
    changes = {
        flag: wanted[flag]
        for flag in CONSENT_FLAGS
        if flag in wanted and (flag == "sms_opted_out" or wanted[flag] != getattr(current, flag))
    }
    if changes.get("sms_opted_out") is False:
        raise InvalidInputError("only the customer can opt back in to SMS, by texting START")
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _message(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True)


def desk_row(row: Any) -> dict[str, Any]:
    """A row of the desk's as JSON; a ticket's handoff packet and an outbox event read
    as the messages they are, not as bytes."""
    values = {
        column.key: _plain(getattr(row, column.key)) for column in inspect(row).mapper.column_attrs
    }
    if isinstance(row, Ticket):
        values["packet"] = _message(packet_of(row))
    if isinstance(row, OutboxEvent):
        values["payload"] = _message(event_of(row))
    return values


def decision_records(context_document: Mapping[str, Any], tickets: list[Ticket]) -> list[Any]:
    """Every automated decision about the customer: the bot's, kept with its turns, and
    the handoffs' reasons, kept with the desk's tickets."""
    records: list[Any] = [
        {
            "source": "bot turn",
            "conversation_id": turn["conversation_id"],
            "turn_event_id": turn["event_id"],
            "occurred_at": turn["occurred_at"],
            "decision": json.loads(turn["decision"]),
        }
        for turn in context_document.get("turns", [])
        if turn.get("decision")
    ]
    for ticket in tickets:
        packet = packet_of(ticket)
        records.append(
            {
                "source": "handoff to a person",
                "conversation_id": ticket.conversation_id,
                "ticket_id": ticket.id,
                "handed_off_at": ticket.handed_off_at.isoformat(),
                "priority": packet.priority,
                "reasons": [_message(reason) for reason in packet.reasons],
                "reason_codes": ticket.reason_codes,
            }
        )
    return records


def archive(
    *,
    record: context_pb.CustomerRecord,
    context_json: str,
    desk: DeskRows,
    exported_by: Agent,
    exported_at: datetime,
    email: Mapping[str, list[Any]] | None = None,
) -> Export:
    """The export as one zip of JSON files, with a manifest saying what each holds and
    how many records it has."""
    context_document = json.loads(context_json)
    tables = [rows for rows in context_document.values() if isinstance(rows, list)]
    files: list[tuple[str, str, Any, int]] = [
        (
            "context.json",
            "The context service's rows about the customer, by table",
            context_document,
            sum(len(rows) for rows in tables),
        ),
    ]
    decisions = decision_records(context_document, desk.tickets)
    files.append(
        (
            "decisions.json",
            "Every automated decision about the customer, with what it was based on",
            decisions,
            len(decisions),
        )
    )
    for table, rows in desk.by_table().items():
        readable = table.replace("_", " ")
        files.append(
            (
                f"desk/{table}.json",
                f"The agent desk's {readable}",
                [desk_row(r) for r in rows],
                len(rows),
            )
        )
    for kind, rows in (email or {}).items():
        readable = kind.replace("_", " ")
        files.append((f"email/{kind}.json", f"The email adapter's {readable}", rows, len(rows)))
    customer_id = record.customer_ids[0]
    manifest = {
        "format": EXPORT_FORMAT,
        "customer_id": customer_id,
        "customer_ids": list(record.customer_ids),
        "conversation_ids": list(record.conversation_ids),
        "exported_at": exported_at.isoformat(),
        "exported_by": {"id": exported_by.id, "name": exported_by.name},
        "files": [
            {"name": name, "contents": contents, "records": count}
            for name, contents, _document, count in files
        ],
    }
    stamp = exported_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, document in [("manifest.json", manifest), *((f[0], f[2]) for f in files)]:
            text = json.dumps(document, ensure_ascii=False, indent=2)
            zipped.writestr(zipfile.ZipInfo(name, date_time=stamp), text)
    return Export(f"customer-{customer_id}.zip", buffer.getvalue())


class CustomerRights:
    def __init__(
        self,
        *,
        context: RightsContextPort,
        data: CustomerData,
        email: EmailRightsPort,
        live: LiveUpdates,
        clock: Clock,
    ) -> None:
        self._context = context
        self._email = email
        self._data = data
        self._live = live
        self._clock = clock

    async def find(self, agent: Agent, query: str) -> list[context_pb.CustomerRecord]:
        """Customers matching an id, part of a name, an address, a phone number or an email."""
        _may_act(agent)
        return await self._context.find_customers(query)

    async def record(self, agent: Agent, customer_id: str) -> context_pb.CustomerRecord:
        """The customer with this id (or one merged into them), with all their ids."""
        _may_act(agent)
        for found in await self._context.find_customers(customer_id):
            if customer_id in found.customer_ids:
                return found
        raise NotFoundError(f"no customer {customer_id}")

    async def desk_rows(self, record: context_pb.CustomerRecord) -> DeskRows:
        return await self._data.rows(customer_of(record))

    async def _email_subject(self, record: context_pb.CustomerRecord) -> CustomerSubject:
        turns = [t for c in record.conversation_ids for t in await self._context.list_turns(c)]
        return email_subject(record, turns)

    async def export(self, agent: Agent, customer_id: str) -> Export:
        """Everything every store holds about the customer, as one archive (audited)."""
        record = await self.record(agent, customer_id)
        canonical = record.customer_ids[0]
        context_json = await self._context.export_customer(canonical, agent.id)
        rows = await self._data.rows(customer_of(record))
        subject = await self._email_subject(record)
        email = await self._email.export(subject) if subject else None
        now = self._clock()
        await self._data.note(_audit(agent, AuditAction.CUSTOMER_EXPORTED, canonical, {}, now))
        log.info("customer data exported by %s", agent.id)
        return archive(
            record=record,
            context_json=context_json,
            desk=rows,
            exported_by=agent,
            exported_at=now,
            email=email,
        )

    async def erase(self, agent: Agent, customer_id: str, reason: str, confirmation: str) -> None:
        """Delete the customer everywhere: the desk's rows, then the email adapter's, then
        the context service's."""
        code = erasure_reason(reason, confirmation)
        record = await self.record(agent, customer_id)
        subject = await self._email_subject(record)
        canonical = record.customer_ids[0]
        now = self._clock()

        def audit(rows: DeskRows) -> AuditEntry:
            deleted = {table: [count, 0] for table, count in rows.counts().items() if count}
            return _audit(agent, AuditAction.CUSTOMER_ERASED, canonical, deleted, now)

        rows = await self._data.erase(customer_of(record), audit)
        for ticket in rows.tickets:
            self._live.notify(TicketChanged(ticket.id, ticket.team))
        email = await self._email.erase(subject) if subject else {}
        context = await self._context.erase_customer(canonical, agent.id, code)
        log.info(
            "customer erased by %s (%s): desk %s, email %s, context %s",
            agent.id,
            code,
            rows.counts(),
            email,
            context,
        )

    async def change_consent(
        self, agent: Agent, customer_id: str, wanted: Mapping[str, bool]
    ) -> context_pb.Consent:
        """Set what the customer agreed to (audited); nothing happens when nothing changes."""
        record = await self.record(agent, customer_id)
        current = record.customer.consent
        changes = consent_changes(current, wanted)
        if not changes:
            return current
        canonical = record.customer_ids[0]
        consent = await self._context.update_consent(canonical, agent.id, **changes)
        await self._data.note(
            _audit(
                agent,
                AuditAction.CONSENT_CHANGED,
                canonical,
                {flag: [getattr(current, flag), value] for flag, value in changes.items()},
                self._clock(),
            )
        )
        return consent


def _may_act(agent: Agent) -> None:
    if not Role(agent.role).at_least(Role.SUPERVISOR):
        raise AccessDenied(f"{agent.id} may not act on customers' data")


def _audit(
    agent: Agent,
    action: AuditAction,
    customer_id: str,
    changes: Mapping[str, list[Any]],
    now: datetime,
) -> AuditEntry:
    """The desk's audit entry of an action on a customer's data, against the account that
    took it: the customer (by reference) and what changed, each as [before, after]."""
    return AuditEntry(
        at=now,
        actor_id=agent.id,
        agent_id=agent.id,
        action=action.value,
        changes={"customer": [None, customer_reference(customer_id)], **changes},
    )
