"""Client of the context service (``rapport.context.v1.ContextService``), shared by the
services that read or write customer context; a deadline on every call.

Resolving customers and appending turns, the calls of every message, are asked for one at
a time and travel in batches (``ResolveCustomers``, ``AppendTurns``; see
``shared.grpc.batching``); each caller still hears only of its own item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc

from shared.errors import ContractError
from shared.grpc.batching import Coalescer
from shared.grpc.client import call, item_error

MAX_BATCH = 64
"""Most items one batch call carries; the context service takes up to 256."""


def _outcome(result: Any) -> Any:
    """An item's response, or the error it failed with, from a batch call's outcome."""
    kind = result.WhichOneof("outcome")
    if kind is None:
        return ContractError("a batch item came back with no outcome")
    return item_error(result.error) if kind == "error" else getattr(result, kind)


class ContextClient:
    """The context service's calls Rapport's services make, each with a deadline."""

    def __init__(self, channel: grpc.aio.Channel, deadline_seconds: float) -> None:
        self._stub = context_grpc.ContextServiceStub(channel)
        self._deadline = deadline_seconds
        self._resolutions: Coalescer[
            context_pb.ResolveCustomerRequest, context_pb.ResolveCustomerResponse
        ] = Coalescer("ResolveCustomers", self._resolve_customers, MAX_BATCH)
        self._appends: Coalescer[context_pb.AppendTurnRequest, context_pb.AppendTurnResponse] = (
            Coalescer("AppendTurns", self._append_turns, MAX_BATCH)
        )

    async def resolve_customer(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.Customer:
        return (await self.resolve_address(channel, address, display_name, seen_at)).customer

    async def resolve_address(
        self, channel: envelope_pb2.Channel, address: str, display_name: str, seen_at: Timestamp
    ) -> context_pb.ResolveCustomerResponse:
        """The customer behind ``address``, with the address's own identity (its consent)."""
        request = context_pb.ResolveCustomerRequest(
            channel=channel, address=address, display_name=display_name, seen_at=seen_at
        )
        return await self._resolutions.submit(request)

    async def append_turn(
        self, customer_id: str, turn: context_pb.Turn
    ) -> tuple[context_pb.Turn, bool]:
        request = context_pb.AppendTurnRequest(customer_id=customer_id, turn=turn)
        response = await self._appends.submit(request)
        return response.turn, response.created

    async def append_turn_and_get_context(
        self, customer_id: str, turn: context_pb.Turn, max_turns: int
    ) -> context_pb.GetContextResponse:
        """Store a turn and read the context it leaves (with its conversation), in one call."""
        request = context_pb.AppendTurnRequest(
            customer_id=customer_id, turn=turn, context_turns=max_turns
        )
        return (await self._appends.submit(request)).context

    async def _resolve_customers(
        self, items: list[context_pb.ResolveCustomerRequest]
    ) -> list[context_pb.ResolveCustomerResponse | Exception]:
        request = context_pb.ResolveCustomersRequest(items=items)
        return await self._batch(self._stub.ResolveCustomers, request)

    async def _append_turns(
        self, items: list[context_pb.AppendTurnRequest]
    ) -> list[context_pb.AppendTurnResponse | Exception]:
        return await self._batch(self._stub.AppendTurns, context_pb.AppendTurnsRequest(items=items))

    async def _batch(self, method: Any, request: Any) -> list[Any]:
        """One batch call: each item's response, or the error the item failed with."""
        response = await call(method, request, deadline_seconds=self._deadline)
        return [_outcome(result) for result in response.results]

    async def set_conversation_state(
        self, conversation_id: str, state: context_pb.ConversationState, assignee: str = ""
    ) -> context_pb.Conversation:
        request = context_pb.SetConversationStateRequest(
            conversation_id=conversation_id, state=state, assignee=assignee
        )
        response: context_pb.Conversation = await call(
            self._stub.SetConversationState, request, deadline_seconds=self._deadline
        )
        return response

    async def get_context(
        self, customer_id: str, conversation_id: str, max_turns: int
    ) -> context_pb.GetContextResponse:
        request = context_pb.GetContextRequest(
            customer_id=customer_id, conversation_id=conversation_id, max_turns=max_turns
        )
        return await call(self._stub.GetContext, request, deadline_seconds=self._deadline)

    async def remember_slots(self, customer_id: str, slots: Sequence[context_pb.Slot]) -> None:
        """Remember what the customer told the bot (newest value per name wins); it comes
        back in ``GetContextResponse.slots`` on every channel. Nothing to remember, no call."""
        if not slots:
            return
        request = context_pb.RememberSlotsRequest(customer_id=customer_id, slots=slots)
        await call(self._stub.RememberSlots, request, deadline_seconds=self._deadline)

    async def list_turns(self, conversation_id: str) -> list[context_pb.Turn]:
        """Every turn of one conversation, oldest first."""
        request = context_pb.ListTurnsRequest(conversation_id=conversation_id)
        response: context_pb.ListTurnsResponse = await call(
            self._stub.ListTurns, request, deadline_seconds=self._deadline
        )
        return list(response.turns)

    async def update_address_consent(
        self, channel: envelope_pb2.Channel, address: str, *, opted_out: bool, seen_at: Timestamp
    ) -> context_pb.UpdateAddressConsentResponse:
        """Record what the address itself asked (STOP, START), for that address alone."""
        request = context_pb.UpdateAddressConsentRequest(
            channel=channel, address=address, opted_out=opted_out, seen_at=seen_at
        )
        response: context_pb.UpdateAddressConsentResponse = await call(
            self._stub.UpdateAddressConsent, request, deadline_seconds=self._deadline
        )
        return response

    async def empathy_map(
        self, from_day: str, to_day: str, channel: envelope_pb2.Channel
    ) -> list[context_pb.EmpathyCell]:
        """Customer turns of the period (UTC days, both included) by intent, journey
        stage and emotion; ``channel`` unspecified for every channel."""
        request = context_pb.GetEmpathyMapRequest(from_day=from_day, to_day=to_day, channel=channel)
        response: context_pb.GetEmpathyMapResponse = await call(
            self._stub.GetEmpathyMap, request, deadline_seconds=self._deadline
        )
        return list(response.cells)

    async def empathy_conversations(
        self, request: context_pb.ListEmpathyConversationsRequest
    ) -> list[context_pb.EmpathyConversation]:
        """The conversations behind one cell of the empathy map, with the customer's words."""
        response: context_pb.ListEmpathyConversationsResponse = await call(
            self._stub.ListEmpathyConversations, request, deadline_seconds=self._deadline
        )
        return list(response.conversations)

    # The customer's rights, exercised by an operator (``actor``: their account, which the
    # context service records after this service's own authenticated name).

    async def find_customers(self, query: str) -> list[context_pb.CustomerRecord]:
        """Customers matching an id, part of a name, an address or handle, a phone number
        or an email they gave; each with every id and conversation they are known by."""
        request = context_pb.FindCustomersRequest(query=query)
        response: context_pb.FindCustomersResponse = await call(
            self._stub.FindCustomers, request, deadline_seconds=self._deadline
        )
        return list(response.customers)

    async def export_customer(self, customer_id: str, actor: str) -> str:
        """Every row the context service holds about the customer, as one JSON document."""
        request = context_pb.ExportCustomerRequest(customer_id=customer_id, actor=actor)
        response: context_pb.ExportCustomerResponse = await call(
            self._stub.ExportCustomer, request, deadline_seconds=self._deadline
        )
        return response.json

    async def erase_customer(self, customer_id: str, actor: str, reason: str) -> dict[str, int]:
        """Delete every row about the customer (tombstones stay); rows deleted by table."""
        request = context_pb.EraseCustomerRequest(
            customer_id=customer_id, actor=actor, reason=reason
        )
        response: context_pb.EraseCustomerResponse = await call(
            self._stub.EraseCustomer, request, deadline_seconds=self._deadline
        )
        return dict(response.deleted)

    async def update_consent(
        self,
        customer_id: str,
        actor: str,
        *,
        emotion_analysis_allowed: bool | None = None,
        marketing_allowed: bool | None = None,
        sms_opted_out: bool | None = None,
    ) -> context_pb.Consent:
        """Change what the customer agreed to; a flag left None is not changed."""
        request = context_pb.UpdateConsentRequest(
            customer_id=customer_id,
            actor=actor,
            emotion_analysis_allowed=emotion_analysis_allowed,
            marketing_allowed=marketing_allowed,
            sms_opted_out=sms_opted_out,
        )
        response: context_pb.Consent = await call(
            self._stub.UpdateConsent, request, deadline_seconds=self._deadline
        )
        return response
