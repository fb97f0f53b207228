"""A customer who wrote by email, exported and erased from the desk, on a real context
service and a real email adapter's HTTP app and store.

The export's zip carries the email adapter's rows and files about them; the erasure goes
desk, email adapter, context service: with the adapter unreachable it fails and leaves
the customer findable for another try, while a customer who never wrote by email is
erased without it; once it is back, every row and file of the customer goes from the
email adapter, and nothing of another customer's.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc

from infra.ports import free_port
from services.agent_desk.__main__ import build
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine as desk_engine
from services.agent_desk.database import migrate as desk_migrate
from services.agent_desk.models import Agent, Role
from services.agent_desk.rights import CustomerRights
from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine as context_engine
from services.context.database import migrate as context_migrate
from services.email_adapter.__main__ import create_app
from services.email_adapter.config import EmailSettings
from services.email_adapter.intake import attachment_store
from services.email_adapter.rights import EmailRights
from services.email_adapter.store import EmailStore
from shared.conversations import thread_conversation_id
from shared.database import create_engine
from shared.errors import DependencyUnavailableError, NotFoundError
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient
from shared.media_store import UploadStore
from tests.grpc_probe import running
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.integration

CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
TOKENS = {
    "agent_desk": "desk-token-for-email-rights-0123",
    "orchestrator": "orchestrator-token-for-email-rights",
}
KEY = SecretStr("the stack's media signing key for this test")
EMAIL = envelope_pb2.CHANNEL_EMAIL
SUPPORT = "support@shop.example"


class NoPublisher:
    async def publish(self, topic: str, event: object) -> None:
        raise AssertionError("nothing is published by customers' rights")


@dataclass
class Stack:
    context: context_grpc.ContextServiceStub
    email_store: EmailStore
    email_url: str
    email_database: str
    media_dir: Path
    uploads: UploadStore
    rights: CustomerRights
    rights_without_email: CustomerRights  # the email adapter unreachable
    supervisor: Agent


@pytest.fixture
async def stack(email_database: str, tmp_path: Path) -> AsyncIterator[Stack]:
    context_url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    context_db = context_engine(context_url)
    await context_migrate(context_db)
    context_parts = build_context(
        ContextSettings(metrics_port=0, grpc_port=0, database_url=context_url), context_db
    )
    email_settings = EmailSettings(
        database_url=email_database,
        media_dir=tmp_path / "email_media",
        media_signing_key=KEY,
        http_port=0,
        metrics_port=0,
    )
    email_store = await EmailStore.open(email_database)
    uploads = attachment_store(email_settings)
    email_app = create_app(
        email_settings, uploads, EmailRights.of(email_settings, email_store, uploads)
    )
    email_server = TestServer(email_app, host="127.0.0.1")
    await email_server.start_server()
    desk_url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    engine = desk_engine(desk_url)
    await desk_migrate(engine)
    email_url = str(email_server.make_url("")).rstrip("/")
    settings = AgentDeskSettings(
        metrics_port=0,
        http_port=0,
        database_url=desk_url,
        media_signing_key=KEY,
        email_adapter_url=email_url,
    )
    unreachable = settings.model_copy(
        update={"email_adapter_url": f"http://127.0.0.1:{free_port()}"}
    )
    try:
        async with (
            running(
                lambda s: context_grpc.add_ContextServiceServicer_to_server(
                    context_parts.servicer, s
                ),
                CONTEXT,
                TOKENS,
            ) as address,
            open_channel(address, token=SecretStr(TOKENS["agent_desk"])) as desk_channel,
            open_channel(address, token=SecretStr(TOKENS["orchestrator"])) as channel,
        ):
            client = ContextClient(desk_channel, 5)
            parts, _relay = build(settings, engine, NoPublisher(), client)
            cut_off, _ = build(unreachable, engine, NoPublisher(), client)
            supervisor = await parts.store.create_agent(
                email="sue@example.org",
                name="Sue",
                password_hash="not used",
                role=Role.SUPERVISOR,
                team="support",
                languages=["en"],
                skills=[],
                now=datetime.now(UTC),
            )
            yield Stack(
                context_grpc.ContextServiceStub(channel),
                email_store,
                email_url,
                email_database,
                email_settings.media_dir,
                uploads,
                parts.rights,
                cut_off.rights,
                supervisor,
            )
    finally:
        await email_server.close()
        await email_store.close()
        await context_parts.store.close()
        await context_db.dispose()
        await engine.dispose()


@dataclass(frozen=True)
class Writer:
    customer_id: str
    conversation_id: str
    file_name: str  # the attachment's file under the email adapter's media directory
    secrets: tuple[str, ...]


async def writes_by_email(stack: Stack, name: str, photo: bytes) -> Writer:
    """A customer's mail with a photo, as the email adapter and the context keep it."""
    address = f"{name}@customer.example"
    message_id = f"{name}-{uuid.uuid4().hex[:8]}@customer.example"
    conversation_id = thread_conversation_id("email", f"{address}/{message_id}")
    subject = f"{name.title()}'s zipper broke"
    stored = await stack.uploads.put(photo)
    await stack.email_store.remember_inbound(
        message_id=message_id,
        conversation_id=conversation_id,
        mailbox=SUPPORT,
        customer=address,
        subject=subject,
        references=(),
    )
    answer = f"answer-{uuid.uuid4().hex[:8]}@shop.example"
    await stack.email_store.remember_sent(message_id=answer, conversation_id=conversation_id)
    customer = (
        await stack.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(channel=EMAIL, address=address, display_name=name),
            timeout=5,
        )
    ).customer
    turn = context_pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=conversation_id,
        role=context_pb.ROLE_CUSTOMER,
        text=f"{subject}, see the photo",
        channel=EMAIL,
        attachments=[envelope_pb2.Attachment(reference=stored.reference, content_type="image/png")],
    )
    turn.occurred_at.FromDatetime(datetime.now(UTC))
    await stack.context.AppendTurn(
        context_pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
    )
    file_name = stored.reference.rpartition("/")[2]
    return Writer(
        customer.customer_id,
        conversation_id,
        file_name,
        (address, conversation_id, message_id, answer, subject),
    )


async def writes_by_sms(stack: Stack, phone: str) -> str:
    customer = (
        await stack.context.ResolveCustomer(
            context_pb.ResolveCustomerRequest(
                channel=envelope_pb2.CHANNEL_SMS, address=phone, display_name="Zoë"
            ),
            timeout=5,
        )
    ).customer
    return str(customer.customer_id)


async def email_rows(stack: Stack) -> dict[str, list[str]]:
    engine = create_engine(stack.email_database)
    try:
        return await every_row(engine)
    finally:
        await engine.dispose()


PNG = b"\x89PNG\r\n\x1a\n"


async def test_the_export_carries_what_the_email_adapter_holds(stack: Stack) -> None:
    ana = await writes_by_email(stack, "ana", PNG + b"ana")
    ben = await writes_by_email(stack, "ben", PNG + b"ben")

    export = await stack.rights.export(stack.supervisor, ana.customer_id)

    with zipfile.ZipFile(io.BytesIO(export.data)) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        threads = json.loads(zipped.read("email/threads.json"))
        messages = json.loads(zipped.read("email/messages.json"))
        files = json.loads(zipped.read("email/attachments.json"))
    listed = {f["name"]: f["records"] for f in manifest["files"]}
    assert (listed["email/threads.json"], listed["email/messages.json"]) == (1, 2)
    assert [(t["customer"], t["subject"]) for t in threads] == [(ana.secrets[0], ana.secrets[4])]
    assert {m["message_id"] for m in messages} == {ana.secrets[2], ana.secrets[3]}
    assert [f["reference"].rpartition("/")[2] for f in files] == [ana.file_name]
    assert not any(secret in export.data.decode("latin-1") for secret in ben.secrets)


async def test_the_erasure_reaches_the_email_adapter_and_waits_for_it(stack: Stack) -> None:
    ana = await writes_by_email(stack, "ana", PNG + b"ana")
    ben = await writes_by_email(stack, "ben", PNG + b"ben")
    zoe = await writes_by_sms(stack, "+447911123456")
    sue = stack.supervisor

    # Never wrote by email: the adapter being down does not hold her erasure up.
    await stack.rights_without_email.erase(sue, zoe, "customer_request", "erase")
    with pytest.raises(NotFoundError):
        await stack.rights.record(sue, zoe)
    # Wrote by email: the step fails loudly and she stays findable for another try.
    with pytest.raises(DependencyUnavailableError):
        await stack.rights_without_email.erase(sue, ana.customer_id, "customer_request", "erase")
    assert (await stack.rights.record(sue, ana.customer_id)).customer_ids[0] == ana.customer_id
    assert holding(await email_rows(stack), ana.secrets)

    await stack.rights.erase(sue, ana.customer_id, "customer_request", "erase")

    with pytest.raises(NotFoundError):
        await stack.rights.record(sue, ana.customer_id)
    rows = await email_rows(stack)
    assert holding(rows, ana.secrets) == {}
    assert set(holding(rows, ben.secrets)) == {"threads", "messages"}
    assert {p.name for p in stack.media_dir.iterdir()} == {ben.file_name}
