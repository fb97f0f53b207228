"""Translates between ContextService wire types and the store; errors become status codes."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc

from services.context.decisions import DecisionRecords
from services.context.empathy import Cell, CellKey, ConversationInCell, EmpathyMap, Period
from services.context.errors import (
    AlreadyLinkedError,
    ChallengeError,
    ErasedError,
    UnknownError,
)
from services.context.linking import IdentityLinks
from services.context.lookup import CustomerLookup, CustomerRecord
from services.context.repository import (
    Attachment,
    Consent,
    ConsentChange,
    Context,
    ContextRepository,
    Conversation,
    Customer,
    EmotionReading,
    Identity,
    Issue,
    NewTurn,
    PreferenceChange,
    Turn,
)
from services.context.rights import DataRights
from services.context.slots import Slot
from shared.errors import InvalidInputError
from shared.grpc.auth import CALLER, attributed_actor

_STATUS: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (UnknownError, grpc.StatusCode.NOT_FOUND),
    (ErasedError, grpc.StatusCode.FAILED_PRECONDITION),
    (ChallengeError, grpc.StatusCode.FAILED_PRECONDITION),
    (AlreadyLinkedError, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
)

Request = TypeVar("Request")
Response = TypeVar("Response")
Method = Callable[[Any, Request, grpc.aio.ServicerContext], Awaitable[Response]]
Outcome = TypeVar("Outcome", bound=Message)


_ANSWERED = tuple(error for error, _ in _STATUS)
#: Most items one batch call (ResolveCustomers, AppendTurns) may carry.
MAX_BATCH_ITEMS = 256


def _status_of(exc: Exception) -> grpc.StatusCode:
    return next(code for error, code in _STATUS if isinstance(exc, error))


def status_codes(method: Method[Request, Response]) -> Method[Request, Response]:
    """Answer the store's errors with their status code and message."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Request, context: grpc.aio.ServicerContext) -> Response:
        try:
            return await method(self, request, context)
        except _ANSWERED as exc:
            await context.abort(_status_of(exc), str(exc))
            raise  # abort raises; this satisfies the type checker

    return wrapper


async def each_on_its_own(
    items: Sequence[Request],
    handle: Callable[[Request], Awaitable[Message]],
    outcome: Callable[..., Outcome],
    answered_as: str,
) -> list[Outcome]:
    """Handle a batch call's items concurrently (so their writes share group commits), each
    answered alone as an ``outcome`` message: the handler's answer in its ``answered_as``
    field, or a store error as its ItemError. Anything else (a bug, the database gone)
    fails the whole call, as it would a unary one."""
    if not items:
        raise InvalidInputError("items is empty")
    if len(items) > MAX_BATCH_ITEMS:
        raise InvalidInputError(f"{len(items)} items; the limit is {MAX_BATCH_ITEMS} per call")
    results = await asyncio.gather(*(handle(item) for item in items), return_exceptions=True)
    outcomes: list[Outcome] = []
    for result in results:
        if isinstance(result, _ANSWERED):
            code = _status_of(result).value[0]
            outcomes.append(outcome(error=envelope_pb2.ItemError(code=code, message=str(result))))
        elif isinstance(result, BaseException):
            raise result
        else:
            outcomes.append(outcome(**{answered_as: result}))
    return outcomes


def _timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _datetime(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def consent_message(consent: Consent) -> pb.Consent:
    return pb.Consent(
        emotion_analysis_allowed=consent.emotion_analysis_allowed,
        marketing_allowed=consent.marketing_allowed,
        sms_opted_out=consent.sms_opted_out,
        updated_at=_timestamp(consent.updated_at),
    )


def identity_message(identity: Identity) -> pb.Identity:
    return pb.Identity(
        channel=identity.channel,  # type: ignore[arg-type]
        address=identity.address,
        verified=identity.verified,
        created_at=_timestamp(identity.created_at),
        opted_out=identity.opted_out,
        consent_updated_at=_timestamp(identity.consent_updated_at),
    )


def customer_message(customer: Customer) -> pb.Customer:
    return pb.Customer(
        customer_id=customer.id,
        display_name=customer.display_name,
        preferred_language=customer.preferred_language,
        last_language=customer.last_language,
        preferred_channel=customer.preferred_channel,  # type: ignore[arg-type]
        created_at=_timestamp(customer.created_at),
        identities=[identity_message(i) for i in customer.identities],
        consent=consent_message(customer.consent),
    )


DECISIONS = DecisionRecords(4096)
"""The decision records this process stored or read lately (a few megabytes at most)."""


_ATTACHMENT_FIELDS = tuple(f.name for f in fields(Attachment))


def attachment_of(message: envelope_pb2.Attachment) -> Attachment:
    return Attachment(**{name: getattr(message, name) for name in _ATTACHMENT_FIELDS})


def attachment_message(attachment: Attachment) -> envelope_pb2.Attachment:
    return envelope_pb2.Attachment(**asdict(attachment))


def turn_message(turn: Turn) -> pb.Turn:
    message = pb.Turn(
        event_id=turn.event_id,
        conversation_id=turn.conversation_id,
        sequence=turn.sequence,
        role=turn.role,  # type: ignore[arg-type]
        text=turn.text,
        channel=turn.channel,  # type: ignore[arg-type]
        occurred_at=_timestamp(turn.occurred_at),
        language=turn.language,
        author=turn.author,
        attachments=[attachment_message(a) for a in turn.attachments],
        intent=turn.intent,
        journey_stage=turn.journey_stage,  # type: ignore[arg-type]
    )
    if turn.decision:
        DECISIONS.read_into(turn.decision, message.decision)
    if turn.emotion is not None:
        message.emotion.CopyFrom(
            pb.EmotionSnapshot(
                dominant_emotion=turn.emotion.dominant_emotion,
                intensity=turn.emotion.intensity,
                sentiment_score=turn.emotion.sentiment_score,
            )
        )
    return message


def conversation_message(conversation: Conversation) -> pb.Conversation:
    return pb.Conversation(
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        channel=conversation.channel,  # type: ignore[arg-type]
        state=conversation.state,  # type: ignore[arg-type]
        language=conversation.language,
        assignee=conversation.assignee,
        created_at=_timestamp(conversation.created_at),
        updated_at=_timestamp(conversation.updated_at),
        returned_by=conversation.returned_by,
        returned_at=_timestamp(conversation.returned_at),
    )


def issue_message(issue: Issue) -> pb.Issue:
    return pb.Issue(
        issue_id=issue.id,
        customer_id=issue.customer_id,
        topic=issue.topic,
        open=issue.open,
        contacts=issue.contacts,
        conversation_id=issue.conversation_id,
        opened_at=_timestamp(issue.opened_at),
        updated_at=_timestamp(issue.updated_at),
        resolved_at=_timestamp(issue.resolved_at),
    )


def slot_message(slot: Slot) -> pb.Slot:
    return pb.Slot(
        name=slot.name,
        value=slot.value,
        conversation_id=slot.conversation_id,
        channel=slot.channel,  # type: ignore[arg-type]
        given_at=_timestamp(slot.given_at),
    )


def slot_of(message: pb.Slot, received_at: datetime) -> Slot:
    """A slot from the wire; one without given_at was given when it arrived."""
    return Slot(
        name=message.name,
        value=message.value,
        conversation_id=message.conversation_id,
        channel=message.channel,
        given_at=_datetime(message.given_at) if message.HasField("given_at") else received_at,
    )


_TRENDS = {
    "improving": pb.TREND_IMPROVING,
    "stable": pb.TREND_STABLE,
    "worsening": pb.TREND_WORSENING,
}


def context_message(found: Context) -> pb.GetContextResponse:
    """What GetContext answers, and AppendTurn too when asked for it."""
    response = pb.GetContextResponse(
        customer=customer_message(found.customer),
        recent_turns=[turn_message(t) for t in found.recent_turns],
        contacts_last_7_days=found.contacts_last_7_days,
        issues=[issue_message(i) for i in found.issues],
        trajectory=pb.EmotionTrajectory(
            points=[
                pb.TrajectoryPoint(
                    occurred_at=_timestamp(r.occurred_at),
                    dominant_emotion=r.dominant_emotion,
                    intensity=r.intensity,
                    sentiment_score=r.sentiment_score,
                )
                for r in found.trajectory
            ],
            trend=_TRENDS[found.trend],
        ),
        consent=consent_message(found.customer.consent),
        summary=found.summary,
        slots=[slot_message(s) for s in found.slots],
    )
    if found.conversation is not None:
        response.conversation.CopyFrom(conversation_message(found.conversation))
    return response


def new_turn(message: pb.Turn) -> NewTurn:
    emotion = None
    if message.HasField("emotion"):
        emotion = EmotionReading(
            message.emotion.dominant_emotion,
            message.emotion.intensity,
            message.emotion.sentiment_score,
        )
    return NewTurn(
        event_id=message.event_id,
        conversation_id=message.conversation_id,
        role=message.role,
        channel=message.channel,
        text=message.text,
        occurred_at=_datetime(message.occurred_at),
        language=message.language,
        emotion=emotion,
        author=message.author,
        decision=DECISIONS.to_json(message.decision) if message.HasField("decision") else "",
        attachments=tuple(attachment_of(a) for a in message.attachments),
        intent=message.intent,
    )


def empathy_cell_message(cell: Cell) -> pb.EmpathyCell:
    return pb.EmpathyCell(
        intent=cell.intent,
        stage=cell.stage,  # type: ignore[arg-type]
        emotion=cell.emotion,
        turns=cell.turns,
        intensity_sum=cell.intensity_sum,
        sentiment_sum=cell.sentiment_sum,
    )


def empathy_conversation_message(found: ConversationInCell) -> pb.EmpathyConversation:
    return pb.EmpathyConversation(
        conversation_id=found.conversation_id,
        customer_id=found.customer_id,
        channel=found.channel,  # type: ignore[arg-type]
        turns=found.turns,
        last_at=_timestamp(found.last_at),
        examples=found.examples,
    )


def _present(message: Message, *fields: str) -> dict[str, Any]:
    """The optional fields the caller set; unset ones are left out (meaning: no change)."""
    return {name: getattr(message, name) for name in fields if message.HasField(name)}


def _require(**fields: object) -> None:
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise InvalidInputError(f"missing: {', '.join(missing)}")


def record_message(record: CustomerRecord) -> pb.CustomerRecord:
    return pb.CustomerRecord(
        customer=customer_message(record.customer),
        customer_ids=record.customer_ids,
        conversation_ids=record.conversation_ids,
    )


def _actor(claimed: str) -> str:
    """The audit actor of the call being handled: its authenticated caller, then whom
    the caller says it acts for (``shared.grpc.auth.attributed_actor``)."""
    return attributed_actor(CALLER.get(), claimed)


class ContextServicer(pb_grpc.ContextServiceServicer):
    """Serves ``rapport.context.v1.ContextService``."""

    def __init__(
        self,
        repository: ContextRepository,
        links: IdentityLinks,
        rights: DataRights,
        lookup: CustomerLookup,
        empathy: EmpathyMap,
        default_max_turns: int,
    ) -> None:
        self._repository = repository
        self._links = links
        self._rights = rights
        self._lookup = lookup
        self._empathy = empathy
        self._default_max_turns = default_max_turns

    @status_codes
    async def ResolveCustomer(  # noqa: N802 - the name is the RPC's
        self, request: pb.ResolveCustomerRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveCustomerResponse:
        return await self._resolve_customer(request)

    @status_codes
    async def ResolveCustomers(  # noqa: N802
        self, request: pb.ResolveCustomersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveCustomersResponse:
        results = await each_on_its_own(
            request.items, self._resolve_customer, pb.ResolveCustomerOutcome, "resolved"
        )
        return pb.ResolveCustomersResponse(results=results)

    async def _resolve_customer(
        self, request: pb.ResolveCustomerRequest
    ) -> pb.ResolveCustomerResponse:
        seen_at = _datetime(request.seen_at) if request.HasField("seen_at") else None
        resolved = await self._repository.resolve_customer(
            request.channel, request.address, request.display_name, seen_at
        )
        return pb.ResolveCustomerResponse(
            customer=customer_message(resolved.customer),
            created=resolved.created,
            identity=identity_message(resolved.identity),
        )

    @status_codes
    async def AppendTurn(  # noqa: N802
        self, request: pb.AppendTurnRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendTurnResponse:
        return await self._append_turn(request)

    @status_codes
    async def AppendTurns(  # noqa: N802
        self, request: pb.AppendTurnsRequest, context: grpc.aio.ServicerContext
    ) -> pb.AppendTurnsResponse:
        results = await each_on_its_own(
            request.items, self._append_turn, pb.AppendTurnOutcome, "appended"
        )
        return pb.AppendTurnsResponse(results=results)

    async def _append_turn(self, request: pb.AppendTurnRequest) -> pb.AppendTurnResponse:
        turn = request.turn
        _require(
            customer_id=request.customer_id,
            event_id=turn.event_id,
            conversation_id=turn.conversation_id,
            role=turn.role,
            channel=turn.channel,
            occurred_at=turn.HasField("occurred_at"),
        )
        if request.context_turns < 0:
            raise InvalidInputError("context_turns must not be negative")
        context_after: pb.GetContextResponse | None = None
        if request.context_turns:
            appended, found = await self._repository.append_turn_with_context(
                request.customer_id, new_turn(turn), request.context_turns
            )
            context_after = context_message(found)
        else:
            appended = await self._repository.append_turn(request.customer_id, new_turn(turn))
        return pb.AppendTurnResponse(
            turn=turn_message(appended.turn),
            created=appended.created,
            new_contact=appended.new_contact,
            context=context_after,
        )

    @status_codes
    async def GetContext(  # noqa: N802
        self, request: pb.GetContextRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetContextResponse:
        _require(customer_id=request.customer_id)
        found = await self._repository.get_context(
            request.customer_id,
            request.max_turns or self._default_max_turns,
            request.conversation_id,
        )
        return context_message(found)

    @status_codes
    async def RememberSlots(  # noqa: N802
        self, request: pb.RememberSlotsRequest, context: grpc.aio.ServicerContext
    ) -> pb.RememberSlotsResponse:
        _require(customer_id=request.customer_id)
        received_at = datetime.now(UTC)
        remembered = await self._repository.remember_slots(
            request.customer_id, [slot_of(s, received_at) for s in request.slots]
        )
        return pb.RememberSlotsResponse(slots=[slot_message(s) for s in remembered])

    @status_codes
    async def ListTurns(  # noqa: N802
        self, request: pb.ListTurnsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTurnsResponse:
        _require(conversation_id=request.conversation_id)
        turns = await self._repository.list_turns(request.conversation_id)
        return pb.ListTurnsResponse(turns=[turn_message(t) for t in turns])

    @status_codes
    async def StartIdentityLink(  # noqa: N802
        self, request: pb.StartIdentityLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartIdentityLinkResponse:
        _require(customer_id=request.customer_id)
        challenge = await self._links.start(request.customer_id, request.channel, request.address)
        return pb.StartIdentityLinkResponse(
            challenge_id=challenge.id,
            code=challenge.code,
            address=challenge.address,
            expires_at=_timestamp(challenge.expires_at),
        )

    @status_codes
    async def ConfirmIdentityLink(  # noqa: N802
        self, request: pb.ConfirmIdentityLinkRequest, context: grpc.aio.ServicerContext
    ) -> pb.ConfirmIdentityLinkResponse:
        _require(
            challenge_id=request.challenge_id, customer_id=request.customer_id, code=request.code
        )
        customer, merged = await self._links.confirm(
            request.challenge_id, request.customer_id, request.code
        )
        return pb.ConfirmIdentityLinkResponse(customer=customer_message(customer), merged=merged)

    @status_codes
    async def MergeCustomers(  # noqa: N802
        self, request: pb.MergeCustomersRequest, context: grpc.aio.ServicerContext
    ) -> pb.MergeCustomersResponse:
        _require(
            customer_id=request.customer_id,
            other_customer_id=request.other_customer_id,
            actor=request.actor,
        )
        customer = await self._links.merge(
            request.customer_id, request.other_customer_id, _actor(request.actor)
        )
        return pb.MergeCustomersResponse(customer=customer_message(customer))

    @status_codes
    async def UpdateConsent(  # noqa: N802
        self, request: pb.UpdateConsentRequest, context: grpc.aio.ServicerContext
    ) -> pb.Consent:
        _require(customer_id=request.customer_id)
        consent = await self._repository.update_consent(
            request.customer_id,
            ConsentChange(
                **_present(
                    request, "emotion_analysis_allowed", "marketing_allowed", "sms_opted_out"
                )
            ),
            _actor(request.actor),
        )
        return consent_message(consent)

    @status_codes
    async def UpdateAddressConsent(  # noqa: N802
        self, request: pb.UpdateAddressConsentRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateAddressConsentResponse:
        seen_at = _datetime(request.seen_at) if request.HasField("seen_at") else None
        change = await self._repository.update_address_consent(
            request.channel, request.address, request.opted_out, seen_at
        )
        return pb.UpdateAddressConsentResponse(
            customer=customer_message(change.customer),
            identity=identity_message(change.identity),
            changed=change.changed,
        )

    @status_codes
    async def UpdatePreferences(  # noqa: N802
        self, request: pb.UpdatePreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.Customer:
        _require(customer_id=request.customer_id)
        customer = await self._repository.update_preferences(
            request.customer_id,
            PreferenceChange(
                **_present(request, "preferred_language", "preferred_channel", "display_name")
            ),
        )
        return customer_message(customer)

    @status_codes
    async def SetConversationState(  # noqa: N802
        self, request: pb.SetConversationStateRequest, context: grpc.aio.ServicerContext
    ) -> pb.Conversation:
        _require(conversation_id=request.conversation_id, state=request.state)
        if request.state == pb.CONVERSATION_STATE_WITH_AGENT and not request.assignee:
            raise InvalidInputError("an assignee is required while with an agent")
        conversation = await self._repository.set_conversation_state(
            request.conversation_id, request.state, request.assignee
        )
        return conversation_message(conversation)

    @status_codes
    async def RecordIssue(  # noqa: N802
        self, request: pb.RecordIssueRequest, context: grpc.aio.ServicerContext
    ) -> pb.Issue:
        _require(
            customer_id=request.customer_id,
            conversation_id=request.conversation_id,
            topic=request.topic,
        )
        issue = await self._repository.record_issue(
            request.customer_id, request.conversation_id, request.topic
        )
        return issue_message(issue)

    @status_codes
    async def ResolveIssue(  # noqa: N802
        self, request: pb.ResolveIssueRequest, context: grpc.aio.ServicerContext
    ) -> pb.Issue:
        _require(issue_id=request.issue_id)
        return issue_message(await self._repository.resolve_issue(request.issue_id))

    @status_codes
    async def ExportCustomer(  # noqa: N802
        self, request: pb.ExportCustomerRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportCustomerResponse:
        _require(customer_id=request.customer_id, actor=request.actor)
        document = await self._rights.export(request.customer_id, _actor(request.actor))
        return pb.ExportCustomerResponse(json=document)

    @status_codes
    async def FindCustomers(  # noqa: N802
        self, request: pb.FindCustomersRequest, context: grpc.aio.ServicerContext
    ) -> pb.FindCustomersResponse:
        found = await self._lookup.find(request.query, request.limit)
        return pb.FindCustomersResponse(customers=[record_message(r) for r in found])

    @status_codes
    async def EraseCustomer(  # noqa: N802
        self, request: pb.EraseCustomerRequest, context: grpc.aio.ServicerContext
    ) -> pb.EraseCustomerResponse:
        _require(customer_id=request.customer_id, actor=request.actor)
        deleted = await self._rights.erase(
            request.customer_id, _actor(request.actor), request.reason
        )
        return pb.EraseCustomerResponse(deleted=deleted)

    @status_codes
    async def RunRetention(  # noqa: N802
        self, request: pb.RunRetentionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RunRetentionResponse:
        moment = _datetime(request.now) if request.HasField("now") else None
        report = await self._rights.apply_retention(moment)
        return pb.RunRetentionResponse(
            emotion_readings_removed=report.emotion_readings_removed,
            turns_removed=report.turns_removed,
            slots_removed=report.slots_removed,
        )

    @status_codes
    async def GetEmpathyMap(  # noqa: N802
        self, request: pb.GetEmpathyMapRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEmpathyMapResponse:
        period = Period.parse(request.from_day, request.to_day, request.channel)
        cells = await self._empathy.cells(period)
        return pb.GetEmpathyMapResponse(cells=[empathy_cell_message(c) for c in cells])

    @status_codes
    async def ListEmpathyConversations(  # noqa: N802
        self, request: pb.ListEmpathyConversationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEmpathyConversationsResponse:
        _require(stage=request.stage, emotion=request.emotion)
        period = Period.parse(request.from_day, request.to_day, request.channel)
        found = await self._empathy.conversations(
            period, CellKey(request.intent, request.stage, request.emotion), request.limit
        )
        return pb.ListEmpathyConversationsResponse(
            conversations=[empathy_conversation_message(c) for c in found]
        )
