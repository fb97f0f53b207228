"""Finding customers for their rights, and who the audit log says acted, on the context
service over real gRPC with callers' tokens, on SQLite and on a real PostgreSQL server.

A customer is found by part of their name, a phone number typed any usual way, a channel
handle, an email they gave the bot, or an id (a merged one too), with every id and
conversation they are known by. The actor of an export, erasure, consent change or merge
is the authenticated caller's name followed by whom it says it acts for; a server that
checks no tokens records the call as unauthenticated, whatever it claims.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.context.__main__ import build
from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.context.models import AuditRow
from services.context.store import Store
from shared.grpc.auth import NO_CALLERS, UNAUTHENTICATED_ACTOR
from shared.grpc.client import open_channel
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

CONTEXT = pb.DESCRIPTOR.services_by_name["ContextService"].full_name
TOKENS = {
    "agent_desk": "desk-rights-token-0123456789",
    "orchestrator": "orchestrator-rights-token-0123456789",
}
SMS, WEB, TELEGRAM = (
    envelope_pb2.CHANNEL_SMS,
    envelope_pb2.CHANNEL_WEB,
    envelope_pb2.CHANNEL_TELEGRAM,
)
HASH_KEY = "rights-test-hash-key"


@dataclass
class Service:
    engine: AsyncEngine
    address: str

    @asynccontextmanager
    async def stub(self, caller: str = "") -> AsyncIterator[pb_grpc.ContextServiceStub]:
        """A stub calling as ``caller`` (with its token), or with no token at all."""
        token = SecretStr(TOKENS[caller]) if caller else None
        async with open_channel(self.address, token=token) as channel:
            yield pb_grpc.ContextServiceStub(channel)

    async def audit(self, action: str) -> list[AuditRow]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id)
            )
            return list(rows)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'context.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@asynccontextmanager
async def context_service(url: str, callers: Mapping[str, str]) -> AsyncIterator[Service]:
    engine = create_engine(url)
    await migrate(engine)
    settings = ContextSettings(
        metrics_port=0,
        grpc_port=0,
        database_url=url,
        default_phone_region="GB",
        hash_key=SecretStr(HASH_KEY),
    )
    parts = build(settings, engine)
    try:
        async with running(
            lambda s: pb_grpc.add_ContextServiceServicer_to_server(parts.servicer, s),
            CONTEXT,
            callers,
        ) as address:
            yield Service(engine, address)
    finally:
        await parts.store.close()
        await engine.dispose()


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    async with context_service(database_url, TOKENS) as running_service:
        yield running_service


def now_stamp() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp


async def customer_on(
    stub: pb_grpc.ContextServiceStub, channel: int, address: str, name: str = ""
) -> pb.Customer:
    request = pb.ResolveCustomerRequest(channel=channel, address=address, display_name=name)
    return (await stub.ResolveCustomer(request, timeout=5)).customer


async def wrote(
    stub: pb_grpc.ContextServiceStub, customer_id: str, conversation: str, channel: int
) -> None:
    turn = pb.Turn(
        event_id=f"{conversation}-1",
        conversation_id=conversation,
        role=pb.ROLE_CUSTOMER,
        text="hello",
        channel=channel,
        occurred_at=now_stamp(),
    )
    await stub.AppendTurn(pb.AppendTurnRequest(customer_id=customer_id, turn=turn), timeout=5)


async def found(stub: pb_grpc.ContextServiceStub, query: str) -> list[pb.CustomerRecord]:
    response = await stub.FindCustomers(pb.FindCustomersRequest(query=query), timeout=5)
    return list(response.customers)


async def test_a_customer_is_found_by_name_phone_handle_email_or_id_with_every_id_they_have(
    service: Service,
) -> None:
    async with service.stub("agent_desk") as stub:
        amelie = await customer_on(stub, SMS, "+447911123456", "Amélie Durand")
        web = await customer_on(stub, WEB, "visitor-4455667788")
        await wrote(stub, amelie.customer_id, "conv-amelie-sms", SMS)
        await wrote(stub, web.customer_id, "conv-amelie-web", WEB)
        await stub.RememberSlots(
            pb.RememberSlotsRequest(
                customer_id=web.customer_id,
                slots=[pb.Slot(name="email", value="Amelie@Example.com")],
            ),
            timeout=5,
        )
        await stub.MergeCustomers(
            pb.MergeCustomersRequest(
                customer_id=amelie.customer_id, other_customer_id=web.customer_id, actor="acct-1"
            ),
            timeout=5,
        )
        other = await customer_on(stub, TELEGRAM, "tg-5566778899", "Someone Else")

        for query in (
            "durand",  # part of the name, any case
            "07911 123456",  # the phone, as typed in the default region
            "+44 7911 123456",
            "visitor-4455667788",  # a channel handle, whole
            "amelie@example.com",  # an email they gave the bot, any case
            amelie.customer_id,
            web.customer_id,  # merged into Amélie: still finds her
        ):
            [record] = await found(stub, query)
            assert record.customer.customer_id == amelie.customer_id, query
            assert record.customer_ids[0] == amelie.customer_id
            assert set(record.customer_ids) == {amelie.customer_id, web.customer_id}
            assert set(record.conversation_ids) == {"conv-amelie-sms", "conv-amelie-web"}
            assert {i.address for i in record.customer.identities} == {
                "+447911123456",
                "visitor-4455667788",
            }

        assert await found(stub, "visitor-44556") == []  # addresses match whole only
        assert await found(stub, "7911123") == []
        assert await found(stub, "%%%") == []  # wildcards are taken literally
        [someone] = await found(stub, "tg-5566778899")
        assert someone.customer.customer_id == other.customer_id
        assert someone.conversation_ids == []

        with pytest.raises(grpc.aio.AioRpcError) as short:
            await found(stub, "am")
        assert short.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_newest_customers_come_first_and_at_most_the_limit(service: Service) -> None:
    async with service.stub("agent_desk") as stub:
        ids = [
            (await customer_on(stub, WEB, f"visitor-{n}", f"Pat Example {n}")).customer_id
            for n in range(4)
        ]
        response = await stub.FindCustomers(
            pb.FindCustomersRequest(query="pat example", limit=3), timeout=5
        )
    assert [r.customer.customer_id for r in response.customers] == ids[::-1][:3]


async def test_the_audit_names_the_authenticated_caller_then_whom_it_acts_for(
    service: Service,
) -> None:
    async with service.stub("agent_desk") as desk, service.stub("orchestrator") as orchestrator:
        customer = await customer_on(desk, SMS, "+447911123457")
        other = await customer_on(desk, WEB, "visitor-audited")
        consent = await desk.UpdateConsent(
            pb.UpdateConsentRequest(
                customer_id=customer.customer_id, marketing_allowed=True, actor="account-42"
            ),
            timeout=5,
        )
        assert consent.marketing_allowed
        await orchestrator.ExportCustomer(
            pb.ExportCustomerRequest(customer_id=customer.customer_id, actor="account-42"),
            timeout=5,
        )
        await desk.MergeCustomers(
            pb.MergeCustomersRequest(
                customer_id=customer.customer_id,
                other_customer_id=other.customer_id,
                actor="account-42",
            ),
            timeout=5,
        )
        await desk.EraseCustomer(
            pb.EraseCustomerRequest(
                customer_id=customer.customer_id, actor="account-42", reason="customer_request"
            ),
            timeout=5,
        )
        async with service.stub() as anonymous:  # no token: refused before anything
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await anonymous.ExportCustomer(
                    pb.ExportCustomerRequest(customer_id=other.customer_id, actor="account-42"),
                    timeout=5,
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    [consent_row] = await service.audit("consent")
    assert consent_row.actor == "agent_desk:account-42"
    assert json.loads(consent_row.detail) == {"marketing_allowed": True}
    hashes = Store(service.engine, HASH_KEY.encode())
    assert consent_row.subject_hash == hashes.subject_hash("customer", customer.customer_id)
    assert [r.actor for r in await service.audit("export")] == ["orchestrator:account-42"]
    assert [r.actor for r in await service.audit("merge")] == ["agent_desk:account-42"]
    [erasure] = await service.audit("erase")
    assert erasure.actor == "agent_desk:account-42"
    assert json.loads(erasure.detail)["reason"] == "customer_request"


async def test_a_server_that_checks_no_tokens_records_no_claimed_actor(tmp_path: Path) -> None:
    async with context_service(f"sqlite:///{tmp_path / 'open.sqlite3'}", NO_CALLERS) as service:
        async with service.stub() as stub:
            customer = await customer_on(stub, WEB, "visitor-open")
            await stub.ExportCustomer(
                pb.ExportCustomerRequest(customer_id=customer.customer_id, actor="agent_desk:x"),
                timeout=5,
            )
            await stub.UpdateConsent(
                pb.UpdateConsentRequest(
                    customer_id=customer.customer_id,
                    emotion_analysis_allowed=False,
                    actor="account-42",
                ),
                timeout=5,
            )
        assert [r.actor for r in await service.audit("export")] == [UNAUTHENTICATED_ACTOR]
        assert [r.actor for r in await service.audit("consent")] == [UNAUTHENTICATED_ACTOR]
