"""The context service over real gRPC, on SQLite and on a real PostgreSQL server.

One person across channels, linking only on proof, idempotent ordered turns, remembered
slots, consent, export, erasure (checked by scanning every table) and retention.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as pb
from rapport.context.v1 import context_service_pb2_grpc as pb_grpc
from sqlalchemy import JSON, Connection, String, Text, insert, inspect, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncEngine

from services.context.__main__ import build
from services.context.config import ContextSettings
from services.context.database import MIGRATIONS, create_engine, migrate
from services.context.grpc_server import MAX_BATCH_ITEMS
from services.context.models import AuditRow, Base, SlotRow
from services.context.store import Store
from shared.errors import NotFoundError
from shared.grpc.context_client import ContextClient
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

CONTEXT = pb.DESCRIPTOR.services_by_name["ContextService"].full_name
SMS, WEB = envelope_pb2.CHANNEL_SMS, envelope_pb2.CHANNEL_WEB
CUSTOMER, BOT = pb.ROLE_CUSTOMER, pb.ROLE_BOT


@dataclass
class Service:
    stub: pb_grpc.ContextServiceStub
    engine: AsyncEngine
    channel: grpc.aio.Channel


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test runs on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'context.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres_database"))


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    url = database_url
    engine = create_engine(url)
    await migrate(engine)
    settings = ContextSettings(
        metrics_port=0, grpc_port=0, database_url=url, default_phone_region="GB"
    )
    parts = build(settings, engine)
    try:
        async with (
            running(
                lambda s: pb_grpc.add_ContextServiceServicer_to_server(parts.servicer, s), CONTEXT
            ) as address,
            grpc.aio.insecure_channel(address) as channel,
        ):
            yield Service(pb_grpc.ContextServiceStub(channel), engine, channel)
    finally:
        await parts.store.close()
        await engine.dispose()


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


async def resolve(
    service: Service, channel: int, address: str, seen_at: datetime | None = None
) -> pb.Customer:
    request = pb.ResolveCustomerRequest(channel=channel, address=address)
    if seen_at is not None:
        request.seen_at.CopyFrom(stamp(seen_at))
    return (await service.stub.ResolveCustomer(request, timeout=5)).customer


async def say(
    service: Service,
    customer_id: str,
    conversation: str,
    text: str,
    *,
    channel: int = WEB,
    role: int = CUSTOMER,
    at: datetime | None = None,
    emotion: tuple[str, float, float] | None = None,
    event_id: str = "",
    context_turns: int = 0,
    attachments: Sequence[envelope_pb2.Attachment] = (),
    language: str = "",
) -> pb.AppendTurnResponse:
    turn = pb.Turn(
        event_id=event_id or str(uuid.uuid4()),
        conversation_id=conversation,
        role=role,
        text=text,
        channel=channel,
        occurred_at=stamp(at or datetime.now(UTC)),
        attachments=attachments,
        language=language,
    )
    if emotion:
        turn.emotion.CopyFrom(
            pb.EmotionSnapshot(
                dominant_emotion=emotion[0], intensity=emotion[1], sentiment_score=emotion[2]
            )
        )
    return await service.stub.AppendTurn(
        pb.AppendTurnRequest(customer_id=customer_id, turn=turn, context_turns=context_turns),
        timeout=5,
    )


async def context_of(service: Service, customer_id: str, **kwargs: object) -> pb.GetContextResponse:
    return await service.stub.GetContext(
        pb.GetContextRequest(customer_id=customer_id, **kwargs),
        timeout=5,  # type: ignore[arg-type]
    )


async def status_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code()


async def test_phone_numbers_are_one_identity_in_e164(service: Service) -> None:
    first = await resolve(service, SMS, "+44 7911 123456")
    same = await resolve(service, SMS, "07911 123456")  # national format, region GB
    whatsapp = await resolve(service, envelope_pb2.CHANNEL_WHATSAPP, "447911123456")
    assert same.customer_id == first.customer_id
    assert [i.address for i in first.identities] == ["+447911123456"]
    assert whatsapp.identities[0].address == "+447911123456"
    assert whatsapp.customer_id != first.customer_id  # another channel is not proof

    for channel, address in ((SMS, "not a number"), (SMS, "+44 12"), (WEB, "   ")):
        code = await status_of(
            service.stub.ResolveCustomer(
                pb.ResolveCustomerRequest(channel=channel, address=address), timeout=5
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_customer_comes_back_with_the_language_they_last_wrote_in(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-lang")
    assert customer.last_language == ""
    start = datetime.now(UTC) - timedelta(minutes=5)
    # Each turn, then the language the customer is known by: a turn without a language,
    # the bot's turn and an undetermined one ("und") leave it as it was.
    turns = [
        ("hola", CUSTOMER, "es", "es"),
        ("👍", CUSTOMER, "", "es"),
        ("gracias a usted", BOT, "", "es"),
        ("thanks", CUSTOMER, "en", "en"),
        ("👍👍", CUSTOMER, "und", "en"),
    ]
    for minute, (text, role, language, known) in enumerate(turns):
        at = start + timedelta(minutes=minute)
        await say(
            service, customer.customer_id, "c-lang", text, role=role, at=at, language=language
        )
        assert (await resolve(service, WEB, "visitor-lang")).last_language == known


async def test_concurrent_first_contacts_create_one_customer(service: Service) -> None:
    customers = await asyncio.gather(
        *(resolve(service, WEB, "visitor-x-123456") for _ in range(10))
    )
    assert len({c.customer_id for c in customers}) == 1


async def test_a_proven_link_makes_one_customer_with_one_history(service: Service) -> None:
    sms_customer = await resolve(service, SMS, "+447911123456")
    await say(service, sms_customer.customer_id, "conv-sms", "my parcel is late", channel=SMS)
    web_customer = await resolve(service, WEB, "visitor-token-1234567")
    await say(service, web_customer.customer_id, "conv-web", "any news on my parcel?")

    started = await service.stub.StartIdentityLink(
        pb.StartIdentityLinkRequest(
            customer_id=web_customer.customer_id, channel=SMS, address="07911 123456"
        ),
        timeout=5,
    )
    assert started.address == "+447911123456" and len(started.code) == 6
    # A claim alone links nothing.
    assert (await context_of(service, web_customer.customer_id)).customer.customer_id == (
        web_customer.customer_id
    )
    wrong = "000000" if started.code != "000000" else "111111"
    confirm = pb.ConfirmIdentityLinkRequest(
        challenge_id=started.challenge_id, customer_id=web_customer.customer_id, code=wrong
    )
    assert await status_of(service.stub.ConfirmIdentityLink(confirm, timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    confirm.code = started.code
    linked = await service.stub.ConfirmIdentityLink(confirm, timeout=5)
    assert linked.merged
    assert linked.customer.customer_id == sms_customer.customer_id  # the older customer survives
    assert {i.channel for i in linked.customer.identities} == {SMS, WEB}
    assert await status_of(service.stub.ConfirmIdentityLink(confirm, timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION  # a code works once
    )

    for known_id in (sms_customer.customer_id, web_customer.customer_id):
        context = await context_of(service, known_id)
        assert context.customer.customer_id == sms_customer.customer_id
        assert [t.text for t in context.recent_turns] == [
            "my parcel is late",
            "any news on my parcel?",
        ]
    assert (await resolve(service, WEB, "visitor-token-1234567")).customer_id == (
        sms_customer.customer_id
    )
    # The web customer's old id still works for writing.
    appended = await say(service, web_customer.customer_id, "conv-web", "thanks")
    assert appended.turn.sequence == 2


async def test_link_challenges_expire_after_too_many_wrong_codes(service: Service) -> None:
    owner = await resolve(service, WEB, "visitor-token-aaaaaaaaa")
    started = await service.stub.StartIdentityLink(
        pb.StartIdentityLinkRequest(
            customer_id=owner.customer_id, channel=SMS, address="+447911123457"
        ),
        timeout=5,
    )
    wrong = "000000" if started.code != "000000" else "111111"
    for _ in range(5):
        await status_of(
            service.stub.ConfirmIdentityLink(
                pb.ConfirmIdentityLinkRequest(
                    challenge_id=started.challenge_id, customer_id=owner.customer_id, code=wrong
                ),
                timeout=5,
            )
        )
    right = pb.ConfirmIdentityLinkRequest(
        challenge_id=started.challenge_id, customer_id=owner.customer_id, code=started.code
    )
    assert await status_of(service.stub.ConfirmIdentityLink(right, timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    stranger = await resolve(service, WEB, "visitor-token-bbbbbbbbb")
    stolen = pb.ConfirmIdentityLinkRequest(
        challenge_id=started.challenge_id, customer_id=stranger.customer_id, code=started.code
    )
    assert await status_of(service.stub.ConfirmIdentityLink(stolen, timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    assert (
        await status_of(
            service.stub.StartIdentityLink(
                pb.StartIdentityLinkRequest(
                    customer_id=owner.customer_id, channel=WEB, address="visitor-token-aaaaaaaaa"
                ),
                timeout=5,
            )
        )
        == grpc.StatusCode.ALREADY_EXISTS
    )


async def test_an_operator_merge_keeps_both_histories_and_the_safer_consent(
    service: Service,
) -> None:
    first = await resolve(service, SMS, "+447911123456")
    second = await resolve(service, WEB, "visitor-token-1234567")
    await say(service, first.customer_id, "conv-1", "one", channel=SMS)
    await say(service, second.customer_id, "conv-2", "two")
    await service.stub.UpdateConsent(
        pb.UpdateConsentRequest(customer_id=second.customer_id, emotion_analysis_allowed=False),
        timeout=5,
    )
    merged = await service.stub.MergeCustomers(
        pb.MergeCustomersRequest(
            customer_id=second.customer_id, other_customer_id=first.customer_id, actor="op-7"
        ),
        timeout=5,
    )
    assert merged.customer.customer_id == first.customer_id
    assert not merged.customer.consent.emotion_analysis_allowed
    context = await context_of(service, second.customer_id)
    assert [t.text for t in context.recent_turns] == ["one", "two"]


async def opt(
    service: Service, address: str, opted_out: bool, seen_at: datetime | None = None
) -> pb.UpdateAddressConsentResponse:
    """The number ``address`` itself asks to opt out (STOP) or back in (START)."""
    return await service.stub.UpdateAddressConsent(
        pb.UpdateAddressConsentRequest(
            channel=SMS,
            address=address,
            opted_out=opted_out,
            seen_at=stamp(seen_at or datetime.now(UTC)),
        ),
        timeout=5,
    )


async def numbers_out(service: Service, customer_id: str) -> dict[str, bool]:
    """Each SMS number of the customer and whether it is opted out."""
    customer = (await context_of(service, customer_id)).customer
    return {i.address: i.opted_out for i in customer.identities if i.channel == SMS}


async def test_sms_consent_is_each_numbers_own_before_and_after_links_and_merges(
    service: Service,
) -> None:
    a, b, c = "+447911123456", "+447911123457", "+447911123458"
    stopped = await opt(service, "07911 123456", True)  # national format, region GB
    assert stopped.changed and stopped.identity.address == a and stopped.identity.opted_out
    assert stopped.identity.HasField("consent_updated_at")
    assert stopped.customer.consent.sms_opted_out  # created by the STOP, as a first contact
    assert not (await opt(service, a, True)).changed  # a second STOP changes nothing
    owner = stopped.customer.customer_id
    b_customer = await resolve(service, SMS, b)
    assert not (await opt(service, b, False)).changed  # START from a number never out

    started = await service.stub.StartIdentityLink(
        pb.StartIdentityLinkRequest(customer_id=owner, channel=SMS, address=b), timeout=5
    )
    linked = await service.stub.ConfirmIdentityLink(
        pb.ConfirmIdentityLinkRequest(
            challenge_id=started.challenge_id, customer_id=owner, code=started.code
        ),
        timeout=5,
    )
    assert linked.merged and linked.customer.customer_id == owner
    assert {i.address: i.opted_out for i in linked.customer.identities} == {a: True, b: False}
    assert linked.customer.consent.sms_opted_out  # the protective view: one number is out

    # STOP and START from B, after the link: A's STOP stands.
    assert (await opt(service, b, True)).changed
    restarted = await opt(service, b, False)
    assert restarted.changed and restarted.customer.customer_id == owner
    assert await numbers_out(service, b_customer.customer_id) == {a: True, b: False}
    found = await service.stub.ResolveCustomer(
        pb.ResolveCustomerRequest(channel=SMS, address=b), timeout=5
    )
    assert (found.identity.address, found.identity.opted_out) == (b, False)
    assert (
        await service.stub.ResolveCustomer(
            pb.ResolveCustomerRequest(channel=SMS, address=a), timeout=5
        )
    ).identity.opted_out

    # An operator merge with a customer whose number C opted out keeps all three as they are.
    c_customer = (await opt(service, c, True)).customer
    merged = await service.stub.MergeCustomers(
        pb.MergeCustomersRequest(
            customer_id=c_customer.customer_id, other_customer_id=owner, actor="op-7"
        ),
        timeout=5,
    )
    assert merged.customer.customer_id == owner
    assert await numbers_out(service, owner) == {a: True, b: False, c: True}

    # Only A's own START opts A back in; then nothing of the customer is opted out but C.
    assert (await opt(service, a, False)).changed
    assert await numbers_out(service, owner) == {a: False, b: False, c: True}
    assert (await context_of(service, owner)).consent.sms_opted_out

    # At the customer level an operator may opt every number out, never back in.
    refused = pb.UpdateConsentRequest(customer_id=owner, sms_opted_out=False)
    assert await status_of(service.stub.UpdateConsent(refused, timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    everything = await service.stub.UpdateConsent(
        pb.UpdateConsentRequest(customer_id=owner, sms_opted_out=True), timeout=5
    )
    assert everything.sms_opted_out
    assert await numbers_out(service, owner) == {a: True, b: True, c: True}


async def test_turns_are_idempotent_and_strictly_ordered_under_concurrency(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-token-1234567")
    event_ids = [str(uuid.uuid4()) for _ in range(30)]
    writes = [
        say(service, customer.customer_id, "conv-1", f"message {i}", event_id=event_id)
        for i, event_id in enumerate(event_ids)
    ]
    first = await asyncio.gather(*writes[:15])
    rest = await asyncio.gather(*writes[15:])
    again = await say(service, customer.customer_id, "conv-1", "changed?", event_id=event_ids[0])
    assert all(r.created for r in [*first, *rest])
    assert not again.created and again.turn.text == "message 0"

    turns = (
        await service.stub.ListTurns(pb.ListTurnsRequest(conversation_id="conv-1"), timeout=5)
    ).turns
    assert [t.sequence for t in turns] == list(range(1, 31))
    assert {t.event_id for t in turns} == set(event_ids)

    missing = await status_of(say(service, str(uuid.uuid4()), "conv-x", "who?"))
    assert missing == grpc.StatusCode.NOT_FOUND
    bad = await status_of(
        service.stub.AppendTurn(
            pb.AppendTurnRequest(customer_id=customer.customer_id, turn=pb.Turn(text="no ids")),
            timeout=5,
        )
    )
    assert bad == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_append_can_answer_with_the_context_it_leaves(service: Service) -> None:
    customer = await resolve(service, WEB, "visitor-token-7654321")
    await say(service, customer.customer_id, "conv-1", "Hello", emotion=("neutral", 0.1, 0.0))
    appended = await say(
        service,
        customer.customer_id,
        "conv-1",
        "Still nothing?!",
        emotion=("anger", 0.8, -0.7),
        context_turns=5,
    )
    assert appended.created
    assert [t.text for t in appended.context.recent_turns] == ["Hello", "Still nothing?!"]
    assert appended.context.conversation.conversation_id == "conv-1"
    assert appended.context == await context_of(
        service, customer.customer_id, conversation_id="conv-1", max_turns=5
    )
    plain = await say(service, customer.customer_id, "conv-1", "?")
    assert not plain.HasField("context")

    negative = await status_of(
        say(service, customer.customer_id, "conv-1", "never stored", context_turns=-1)
    )
    assert negative == grpc.StatusCode.INVALID_ARGUMENT
    texts = [t.text for t in (await context_of(service, customer.customer_id)).recent_turns]
    assert "never stored" not in texts


PHOTO = envelope_pb2.Attachment(
    reference="whatsapp:media/1029384756",
    content_type="image/jpeg",
    kind=envelope_pb2.ATTACHMENT_KIND_IMAGE,
    size_bytes=482_113,
    file_name="parcel.jpg",
)
VOICE_NOTE = envelope_pb2.Attachment(
    reference="telegram:file/AwACAgQAAxkBAAIB",
    content_type="audio/ogg",
    kind=envelope_pb2.ATTACHMENT_KIND_AUDIO,
    size_bytes=20_480,
    voice_note=True,
)
PLACE = envelope_pb2.Attachment(
    kind=envelope_pb2.ATTACHMENT_KIND_LOCATION,
    latitude=51.501364,
    longitude=-0.14189,
    place="Buckingham Palace, London",
)


async def test_attachments_are_kept_with_their_turn_wherever_turns_are_read(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-token-5550001")
    sent = [PHOTO, VOICE_NOTE, PLACE]
    event_id = str(uuid.uuid4())
    appended = await say(
        service, customer.customer_id, "conv-1", "", event_id=event_id, attachments=sent
    )
    assert list(appended.turn.attachments) == sent
    plain = await say(service, customer.customer_id, "conv-1", "and this is text", context_turns=5)
    assert [list(t.attachments) for t in plain.context.recent_turns] == [sent, []]

    context = await context_of(service, customer.customer_id, conversation_id="conv-1")
    assert [list(t.attachments) for t in context.recent_turns] == [sent, []]
    listed = (
        await service.stub.ListTurns(pb.ListTurnsRequest(conversation_id="conv-1"), timeout=5)
    ).turns
    assert [list(t.attachments) for t in listed] == [sent, []]
    # A repeat of the event answers with what was stored the first time.
    again = await say(
        service, customer.customer_id, "conv-1", "", event_id=event_id, attachments=[PHOTO]
    )
    assert not again.created and list(again.turn.attachments) == sent


def turn_request(
    customer_id: str, conversation: str, text: str, **fields: int
) -> pb.AppendTurnRequest:
    turn = pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=conversation,
        role=CUSTOMER,
        text=text,
        channel=WEB,
        occurred_at=stamp(datetime.now(UTC)),
    )
    return pb.AppendTurnRequest(customer_id=customer_id, turn=turn, **fields)


async def test_batch_calls_answer_each_item_on_its_own_in_request_order(service: Service) -> None:
    resolved = await service.stub.ResolveCustomers(
        pb.ResolveCustomersRequest(
            items=[
                pb.ResolveCustomerRequest(channel=SMS, address="+44 7911 123456"),
                pb.ResolveCustomerRequest(channel=SMS, address="not a phone number"),
                pb.ResolveCustomerRequest(channel=WEB, address="visitor-token-1234567"),
            ]
        ),
        timeout=5,
    )
    first, bad, third = (r.WhichOneof("outcome") for r in resolved.results)
    assert (first, bad, third) == ("resolved", "error", "resolved")
    assert resolved.results[1].error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    sms = resolved.results[0].resolved.customer
    assert sms == await resolve(service, SMS, "07911 123456")

    web = resolved.results[2].resolved.customer.customer_id
    appended = await service.stub.AppendTurns(
        pb.AppendTurnsRequest(
            items=[
                turn_request(sms.customer_id, "conv-sms", "Where is my parcel?"),
                turn_request("no-such-customer", "conv-x", "lost"),
                turn_request(web, "conv-web", "Hello", context_turns=5),
                turn_request(sms.customer_id, "conv-sms", "Hello?"),
            ]
        ),
        timeout=5,
    )
    outcomes = [r.WhichOneof("outcome") for r in appended.results]
    assert outcomes == ["appended", "error", "appended", "appended"]
    assert appended.results[1].error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert "no-such-customer" in appended.results[1].error.message
    # Items of one customer keep their request order; the context came with its item only.
    assert [appended.results[i].appended.turn.sequence for i in (0, 3)] == [1, 2]
    assert [t.text for t in appended.results[2].appended.context.recent_turns] == ["Hello"]
    assert not appended.results[0].appended.HasField("context")

    for items in ([], [turn_request(web, "conv-web", "x")] * (MAX_BATCH_ITEMS + 1)):
        refused = await status_of(
            service.stub.AppendTurns(pb.AppendTurnsRequest(items=items), timeout=5)
        )
        assert refused == grpc.StatusCode.INVALID_ARGUMENT
    texts = [t.text for t in (await context_of(service, web)).recent_turns]
    assert texts == ["Hello"]


async def test_the_client_batches_concurrent_calls_and_fails_only_the_bad_one(
    service: Service,
) -> None:
    client = ContextClient(service.channel, deadline_seconds=5)
    calls_before = _batch_calls("ResolveCustomers")
    customers = await asyncio.gather(
        *(
            client.resolve_customer(WEB, f"visitor-token-{n}000000", "", stamp(datetime.now(UTC)))
            for n in range(5)
        )
    )
    assert _batch_calls("ResolveCustomers") - calls_before == 1
    assert len({c.customer_id for c in customers}) == 5

    calls_before = _batch_calls("AppendTurns")
    turns = [turn_request(c.customer_id, f"conv-{n}", "Hi").turn for n, c in enumerate(customers)]
    results = await asyncio.gather(
        *(
            client.append_turn(c.customer_id, turn)
            for c, turn in zip(customers, turns, strict=True)
        ),
        client.append_turn("no-such-customer", turn_request("x", "conv-x", "lost").turn),
        return_exceptions=True,
    )
    assert _batch_calls("AppendTurns") - calls_before == 1
    assert isinstance(results[-1], NotFoundError)
    assert all(isinstance(r, tuple) and r[1] for r in results[:-1])  # stored, created


def _batch_calls(method: str) -> float:
    name = "rapport_grpc_client_batch_items_count"
    return REGISTRY.get_sample_value(name, {"method": method}) or 0.0


async def test_writes_committed_together_fail_alone(database_url: str) -> None:
    """Writes that arrive together share one commit; one that raises must not sink the rest."""
    engine = create_engine(database_url)
    await migrate(engine)
    store = Store(engine, b"test-key")

    def audit(action: str) -> Callable[[Connection], str]:
        def work(connection: Connection) -> str:
            if action == "bad":
                raise ValueError("refused")
            connection.execute(
                insert(AuditRow), {"occurred_at": datetime.now(UTC), "action": action}
            )
            return action

        return work

    try:
        actions = [f"write-{i}" for i in range(20)]
        outcomes = await asyncio.gather(
            *(store.run_write(audit(a)) for a in [*actions[:10], "bad", *actions[10:]]),
            return_exceptions=True,
        )
        assert isinstance(outcomes.pop(10), ValueError)
        assert outcomes == actions
        # One write right after another, in the same turn of the loop as the first's
        # group finishing: it must start a group of its own, not wait for a third write.
        async with asyncio.timeout(10):
            for action in ("next-1", "next-2", "next-3"):
                assert await store.run_write(audit(action)) == action
        async with engine.connect() as connection:
            stored = (await connection.scalars(select(AuditRow.action))).all()
        assert sorted(stored) == sorted([*actions, "next-1", "next-2", "next-3"])
    finally:
        await store.close()
        await engine.dispose()


async def test_context_shows_consent_contacts_issues_and_trend(service: Service) -> None:
    customer = await resolve(service, SMS, "+447911123456")
    cid = customer.customer_id
    start = datetime.now(UTC) - timedelta(days=3)
    feelings = [("frustration", 0.5, -0.3), ("anger", 0.7, -0.6), ("anger", 0.9, -0.9)]
    for hours, feeling in zip((0, 1, 30), feelings, strict=True):
        appended = await say(
            service,
            cid,
            "conv-1",
            "still no parcel",
            channel=SMS,
            at=start + timedelta(hours=hours),
            emotion=feeling,
        )
        assert appended.new_contact == (hours in (0, 30))
    await say(service, cid, "conv-1", "sorry about that", channel=SMS, role=BOT)
    first = await service.stub.RecordIssue(
        pb.RecordIssueRequest(customer_id=cid, conversation_id="conv-1", topic="delivery_period"),
        timeout=5,
    )
    again = await service.stub.RecordIssue(
        pb.RecordIssueRequest(customer_id=cid, conversation_id="conv-2", topic="delivery_period"),
        timeout=5,
    )
    assert again.issue_id == first.issue_id and again.contacts == 2
    await service.stub.UpdateConsent(
        pb.UpdateConsentRequest(customer_id=cid, sms_opted_out=True), timeout=5
    )

    context = await context_of(service, cid, conversation_id="conv-1", max_turns=3)
    assert [t.role for t in context.recent_turns] == [CUSTOMER, CUSTOMER, BOT]
    assert context.contacts_last_7_days == 2
    assert context.conversation.state == pb.CONVERSATION_STATE_BOT
    assert [i.topic for i in context.issues if i.open] == ["delivery_period"]
    assert [p.dominant_emotion for p in context.trajectory.points] == [
        "frustration",
        "anger",
        "anger",
    ]
    assert context.trajectory.trend == pb.TREND_WORSENING
    assert context.consent.sms_opted_out and context.consent.emotion_analysis_allowed
    assert not context.consent.marketing_allowed
    assert "Opted out of SMS" in context.summary and "delivery period" in context.summary

    resolved = await service.stub.SetConversationState(
        pb.SetConversationStateRequest(
            conversation_id="conv-1", state=pb.CONVERSATION_STATE_RESOLVED
        ),
        timeout=5,
    )
    assert resolved.state == pb.CONVERSATION_STATE_RESOLVED
    after = await say(service, cid, "conv-1", "me again", channel=SMS)
    assert after.new_contact  # writing after a resolution is a new contact
    for state, assignee in (
        (pb.CONVERSATION_STATE_WITH_AGENT, "agent-7"),
        (pb.CONVERSATION_STATE_BOT, "agent-7"),
    ):
        conversation = await service.stub.SetConversationState(
            pb.SetConversationStateRequest(
                conversation_id="conv-1", state=state, assignee=assignee
            ),
            timeout=5,
        )
    assert (conversation.assignee, conversation.returned_by) == ("", "agent-7")
    assert conversation.HasField("returned_at")
    assert (
        await status_of(
            service.stub.SetConversationState(
                pb.SetConversationStateRequest(
                    conversation_id="conv-1", state=pb.CONVERSATION_STATE_WITH_AGENT
                ),
                timeout=5,
            )
        )
        == grpc.StatusCode.INVALID_ARGUMENT
    )  # an agent must be named


async def test_an_emotion_opt_out_stores_no_emotion_data(service: Service) -> None:
    customer = await resolve(service, WEB, "visitor-token-1234567")
    consent = await service.stub.UpdateConsent(
        pb.UpdateConsentRequest(customer_id=customer.customer_id, emotion_analysis_allowed=False),
        timeout=5,
    )
    assert not consent.emotion_analysis_allowed
    appended = await say(
        service, customer.customer_id, "conv-1", "I'm upset", emotion=("anger", 0.9, -0.8)
    )
    assert not appended.turn.HasField("emotion")
    context = await context_of(service, customer.customer_id)
    assert not context.trajectory.points
    assert "Emotion analysis is off" in context.summary


async def _every_text_value(engine: AsyncEngine) -> list[str]:
    """Every string stored in every table, to prove an erasure left nothing behind."""
    values: list[str] = []
    async with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            text_columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            for row in await connection.execute(select(*text_columns)):
                values.extend(str(v) for v in row if v is not None)
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= set(tables)
    return values


async def test_export_holds_every_table_and_erasure_leaves_nothing(service: Service) -> None:
    sms = await resolve(service, SMS, "+447911123456")
    web = await resolve(service, WEB, "visitor-token-1234567")
    await say(
        service,
        sms.customer_id,
        "conv-sms",
        "secret words one",
        channel=SMS,
        emotion=("anxiety", 0.4, -0.2),
        attachments=[PHOTO, PLACE],
    )
    await say(service, web.customer_id, "conv-web", "secret words two")
    await remember(service, web.customer_id, slot("email", "secret@example.com", datetime.now(UTC)))
    await service.stub.RecordIssue(
        pb.RecordIssueRequest(
            customer_id=sms.customer_id, conversation_id="conv-sms", topic="refund"
        ),
        timeout=5,
    )
    await service.stub.MergeCustomers(
        pb.MergeCustomersRequest(
            customer_id=sms.customer_id, other_customer_id=web.customer_id, actor="op-1"
        ),
        timeout=5,
    )
    await service.stub.StartIdentityLink(
        pb.StartIdentityLinkRequest(
            customer_id=sms.customer_id, channel=envelope_pb2.CHANNEL_TELEGRAM, address="tg-998877"
        ),
        timeout=5,
    )
    await opt(service, "+447911123456", True)
    other = await resolve(service, WEB, "someone-else-entirely")
    await say(service, other.customer_id, "conv-other", "unrelated", attachments=[VOICE_NOTE])

    exported = json.loads(
        (
            await service.stub.ExportCustomer(
                pb.ExportCustomerRequest(customer_id=web.customer_id, actor="dpo"), timeout=5
            )
        ).json
    )
    for table in (
        "customers",
        "customer_aliases",
        "identities",
        "conversations",
        "contacts",
        "turns",
        "issues",
        "link_challenges",
        "customer_slots",
        "audit_log",
    ):
        assert exported[table], f"export has no {table}"
    assert [s["value"] for s in exported["customer_slots"]] == ["secret@example.com"]
    [number] = [i for i in exported["identities"] if i["channel"] == SMS]
    assert number["opted_out"] is True and number["consent_updated_at"]
    assert {t["text"] for t in exported["turns"]} == {"secret words one", "secret words two"}
    [with_attachments] = [t for t in exported["turns"] if t["attachments"]]
    assert [(a["reference"], a["kind"], a["place"]) for a in with_attachments["attachments"]] == [
        (PHOTO.reference, envelope_pb2.ATTACHMENT_KIND_IMAGE, ""),
        ("", envelope_pb2.ATTACHMENT_KIND_LOCATION, PLACE.place),
    ]
    assert "unrelated" not in json.dumps(exported)
    assert "code_hash" not in json.dumps(exported)
    assert {a["action"] for a in exported["audit_log"]} >= {"merge", "export"}

    erased = await service.stub.EraseCustomer(
        pb.EraseCustomerRequest(customer_id=web.customer_id, actor="dpo", reason="request"),
        timeout=5,
    )
    assert erased.deleted["turns"] == 2 and erased.deleted["customers"] == 1
    assert erased.deleted["customer_slots"] == 1

    stored = " ".join(await _every_text_value(service.engine))
    for secret in (
        sms.customer_id,
        web.customer_id,
        "+447911123456",
        "visitor-token-1234567",
        "tg-998877",
        "conv-sms",
        "conv-web",
        "secret words",
        PHOTO.reference,
        PLACE.place,
        "secret@example.com",
    ):
        assert secret not in stored, f"{secret!r} survived the erasure"
    assert "unrelated" in stored  # other customers are untouched
    assert VOICE_NOTE.reference in stored  # (and attachments are among what is scanned)

    before = datetime.now(UTC) - timedelta(minutes=5)
    assert (
        await status_of(
            service.stub.ResolveCustomer(
                pb.ResolveCustomerRequest(
                    channel=SMS, address="+447911123456", seen_at=stamp(before)
                ),
                timeout=5,
            )
        )
        == grpc.StatusCode.FAILED_PRECONDITION
    )
    assert await status_of(say(service, sms.customer_id, "conv-sms", "late")) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    late_slot = pb.RememberSlotsRequest(
        customer_id=web.customer_id, slots=[slot("email", "x@example.com", datetime.now(UTC))]
    )
    assert await status_of(service.stub.RememberSlots(late_slot, timeout=5)) == (
        grpc.StatusCode.FAILED_PRECONDITION
    )
    audit = await service.stub.ExportCustomer(
        pb.ExportCustomerRequest(customer_id=other.customer_id, actor="dpo"), timeout=5
    )
    assert audit.json
    # Writing again after the erasure is a new customer, with nothing of the old one.
    fresh = await resolve(service, SMS, "+447911123456", seen_at=datetime.now(UTC))
    assert fresh.customer_id not in (sms.customer_id, web.customer_id)
    assert not (await context_of(service, fresh.customer_id)).recent_turns


async def test_retention_removes_exactly_what_is_due(service: Service) -> None:
    customer = await resolve(service, WEB, "visitor-token-1234567")
    now = datetime.now(UTC)
    ages = {"fresh": 1, "emotion-expired": 31, "message-expired": 366}
    for text, days in ages.items():
        await say(
            service,
            customer.customer_id,
            "conv-1",
            text,
            at=now - timedelta(days=days),
            emotion=("sadness", 0.5, -0.4),
        )
    report = await service.stub.RunRetention(pb.RunRetentionRequest(now=stamp(now)), timeout=5)
    assert (report.emotion_readings_removed, report.turns_removed) == (2, 1)
    turns = {
        t.text: t
        for t in (
            await service.stub.ListTurns(pb.ListTurnsRequest(conversation_id="conv-1"), timeout=5)
        ).turns
    }
    assert set(turns) == {"fresh", "emotion-expired"}
    assert turns["fresh"].HasField("emotion")
    assert not turns["emotion-expired"].HasField("emotion")
    again = await service.stub.RunRetention(pb.RunRetentionRequest(now=stamp(now)), timeout=5)
    assert (again.emotion_readings_removed, again.turns_removed) == (0, 0)


async def test_a_bot_turn_keeps_its_decision_record_until_emotion_data_expires(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-token-1234567")
    now = datetime.now(UTC)
    record = pb.DecisionRecord(
        action="reply_and_escalate",
        reasons=[pb.DecisionReasonRecord(code="strong_negative_emotion", explanation="Upset.")],
        priority=0.7,
        model_versions={"emotion": "emotion-en-2026.11.1"},
        facts_json='{"dominant_emotion": "anger", "intensity": 0.9}',
        template="get_refund/high",
        language="en",
    )
    for text, days in (("recent", 1), ("old", 40)):
        turn = pb.Turn(
            event_id=str(uuid.uuid4()),
            conversation_id="conv-1",
            role=BOT,
            text=text,
            channel=WEB,
            occurred_at=stamp(now - timedelta(days=days)),
            decision=record,
        )
        await service.stub.AppendTurn(
            pb.AppendTurnRequest(customer_id=customer.customer_id, turn=turn), timeout=5
        )
    turns = (
        await service.stub.ListTurns(pb.ListTurnsRequest(conversation_id="conv-1"), timeout=5)
    ).turns
    assert all(t.decision == record for t in turns)

    report = await service.stub.RunRetention(pb.RunRetentionRequest(now=stamp(now)), timeout=5)
    assert report.emotion_readings_removed == 1
    kept = {
        t.text: t.HasField("decision")
        for t in (
            await service.stub.ListTurns(pb.ListTurnsRequest(conversation_id="conv-1"), timeout=5)
        ).turns
    }
    assert kept == {"recent": True, "old": False}


def test_emotion_data_may_not_outlive_messages() -> None:
    with pytest.raises(ValueError, match="shorter"):
        ContextSettings(metrics_port=0, emotion_retention_days=400, message_retention_days=365)


def slot(name: str, value: str, given_at: datetime, **fields: object) -> pb.Slot:
    return pb.Slot(name=name, value=value, given_at=stamp(given_at), **fields)  # type: ignore[arg-type]


async def remember(service: Service, customer_id: str, *slots: pb.Slot) -> list[pb.Slot]:
    request = pb.RememberSlotsRequest(customer_id=customer_id, slots=slots)
    return list((await service.stub.RememberSlots(request, timeout=5)).slots)


def values(slots: Sequence[pb.Slot]) -> dict[str, str]:
    return {s.name: s.value for s in slots}


async def test_a_slot_keeps_its_newest_value_and_a_repeat_changes_nothing(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-token-slots-1")
    cid = customer.customer_id
    now = datetime.now(UTC)
    given = slot("email", "ana@example.com", now - timedelta(hours=1), conversation_id="c-1")
    given.channel = WEB
    first = await remember(service, cid, given)
    assert first == [given]
    assert await remember(service, cid, given) == first  # idempotent
    older = slot("email", "old@example.com", now - timedelta(hours=2))
    assert await remember(service, cid, older) == first  # an older write never wins
    newer = slot("email", "  ana@example.org ", now - timedelta(minutes=1))
    after = await remember(service, cid, newer, slot("postal_code", "SW1A 1AA", now))
    assert values(after) == {"email": "ana@example.org", "postal_code": "SW1A 1AA"}

    # Two of one name in one call: the newer wins whatever the order.
    both = await remember(
        service,
        cid,
        slot("order_reference", "#1002", now),
        slot("order_reference", "#1001", now - timedelta(minutes=5)),
    )
    assert values(both)["order_reference"] == "#1002"
    # Without given_at, a slot was given when it arrived: newer than all of the above.
    unstamped = await remember(service, cid, pb.Slot(name="product", value="kettle"))
    assert next(s for s in unstamped if s.name == "product").given_at.ToDatetime(UTC) >= now
    async with service.engine.connect() as connection:
        stored = (await connection.execute(select(SlotRow.name))).scalars().all()
    assert sorted(stored) == ["email", "order_reference", "postal_code", "product"]


async def test_remembered_slots_come_with_every_context_the_service_builds(
    service: Service,
) -> None:
    client = ContextClient(service.channel, deadline_seconds=5)
    customer = await resolve(service, WEB, "visitor-token-slots-2")
    cid = customer.customer_id
    given = slot("order_reference", "#1001", datetime.now(UTC) - timedelta(days=10))
    await client.remember_slots(cid, [given])
    await client.remember_slots(cid, [])  # nothing to remember: no call

    appended = await say(service, cid, "conv-1", "Where is it?", context_turns=5)
    assert list(appended.context.slots) == [given]
    assert list((await context_of(service, cid, conversation_id="conv-1")).slots) == [given]
    batch = await service.stub.AppendTurns(
        pb.AppendTurnsRequest(items=[turn_request(cid, "conv-1", "Hello?", context_turns=5)]),
        timeout=5,
    )
    assert list(batch.results[0].appended.context.slots) == [given]
    turn = turn_request(cid, "conv-1", "Any news?").turn
    assert list((await client.append_turn_and_get_context(cid, turn, 5)).slots) == [given]
    # Another customer sees none of them.
    other = await resolve(service, WEB, "visitor-token-slots-3")
    assert not (await context_of(service, other.customer_id)).slots


async def test_a_merge_keeps_the_newest_slot_per_name_across_channels(service: Service) -> None:
    sms = await resolve(service, SMS, "+447911123456")
    web = await resolve(service, WEB, "visitor-token-slots-4")
    now = datetime.now(UTC)
    on_sms = [
        slot("email", "old@example.com", now - timedelta(hours=3), channel=SMS),
        slot("postal_code", "SW1A 1AA", now - timedelta(hours=2), channel=SMS),
    ]
    on_web = [
        slot("email", "new@example.com", now - timedelta(hours=1), channel=WEB),
        slot("order_reference", "#1001", now - timedelta(hours=4), channel=WEB),
    ]
    await remember(service, sms.customer_id, *on_sms)
    await remember(service, web.customer_id, *on_web)
    # The younger customer is merged into the older one, whose email is the older.
    merged = await service.stub.MergeCustomers(
        pb.MergeCustomersRequest(
            customer_id=web.customer_id, other_customer_id=sms.customer_id, actor="op-1"
        ),
        timeout=5,
    )
    assert merged.customer.customer_id == sms.customer_id
    expected = [on_web[0], on_web[1], on_sms[1]]  # by name
    for known_id in (sms.customer_id, web.customer_id):
        assert list((await context_of(service, known_id)).slots) == expected
    # The absorbed id still writes to the survivor.
    later = slot("product", "kettle", now, channel=WEB)
    assert values(await remember(service, web.customer_id, later))["product"] == "kettle"
    async with service.engine.connect() as connection:
        owners = (await connection.execute(select(SlotRow.customer_id))).scalars().all()
    assert set(owners) == {sms.customer_id} and len(owners) == 4


async def test_slots_are_refused_when_malformed_and_quoted_nowhere(service: Service) -> None:
    customer = await resolve(service, WEB, "visitor-token-slots-5")
    now = datetime.now(UTC)
    good = slot("email", "ana@example.com", now)
    refused = [
        [slot("Email", "x", now)],
        [slot("e-mail", "x", now)],
        [slot("_email", "x", now)],
        [slot("a" * 41, "x", now)],
        [slot("", "x", now)],
        [good, slot("postal_code", "   ", now)],
        [good, slot("postal_code", "9" * 201, now)],
        [good, slot("product", "kettle", now, conversation_id="c" * 65)],
        [],
        [slot("product", f"item {n}", now) for n in range(33)],
    ]
    for slots in refused:
        request = pb.RememberSlotsRequest(customer_id=customer.customer_id, slots=slots)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await service.stub.RememberSlots(request, timeout=5)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "ana@example.com" not in (caught.value.details() or "")
    # Nothing of a refused call was stored, not even its good slots.
    assert not (await context_of(service, customer.customer_id)).slots
    for customer_id, code in (
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("no-such-customer", grpc.StatusCode.NOT_FOUND),
    ):
        request = pb.RememberSlotsRequest(customer_id=customer_id, slots=[good])
        assert await status_of(service.stub.RememberSlots(request, timeout=5)) == code
    # Exactly at the limits is fine.
    edge = slot("a" * 40, "9" * 200, now)
    assert values(await remember(service, customer.customer_id, edge)) == {"a" * 40: "9" * 200}


async def test_slots_past_their_retention_are_not_returned_and_are_deleted(
    service: Service,
) -> None:
    customer = await resolve(service, WEB, "visitor-token-slots-6")
    cid = customer.customer_id
    now = datetime.now(UTC)
    fresh = slot("email", "ana@example.com", now - timedelta(days=29))
    stale = slot("postal_code", "SW1A 1AA", now - timedelta(days=31))
    assert await remember(service, cid, fresh, stale) == [fresh]  # stored, not shown
    assert list((await context_of(service, cid)).slots) == [fresh]

    report = await service.stub.RunRetention(pb.RunRetentionRequest(now=stamp(now)), timeout=5)
    assert report.slots_removed == 1
    exported = json.loads(
        (
            await service.stub.ExportCustomer(
                pb.ExportCustomerRequest(customer_id=cid, actor="dpo"), timeout=5
            )
        ).json
    )
    assert [s["name"] for s in exported["customer_slots"]] == ["email"]
    later = await service.stub.RunRetention(
        pb.RunRetentionRequest(now=stamp(now + timedelta(days=2))), timeout=5
    )
    assert later.slots_removed == 1
    assert not (await context_of(service, cid)).slots


def test_slots_are_kept_thirty_days_unless_configured() -> None:
    assert ContextSettings(metrics_port=0).slot_retention_days == 30
    with pytest.raises(ValueError, match="greater than 0"):
        ContextSettings(metrics_port=0, slot_retention_days=0)


async def test_the_migrations_build_exactly_the_schema_the_models_describe(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


async def test_an_erased_numbers_opt_out_outlives_the_erasure_until_it_opts_back_in(
    service: Service,
) -> None:
    stopped, texted = "+447911123456", "+447911123457"
    customer = (await opt(service, stopped, True)).customer.customer_id
    other = await resolve(service, SMS, texted)
    await service.stub.MergeCustomers(
        pb.MergeCustomersRequest(
            customer_id=customer, other_customer_id=other.customer_id, actor="op-1"
        ),
        timeout=5,
    )

    async def erase(customer_id: str) -> None:
        await service.stub.EraseCustomer(
            pb.EraseCustomerRequest(customer_id=customer_id, actor="dpo", reason="request"),
            timeout=5,
        )

    await erase(customer)
    stored = " ".join(await _every_text_value(service.engine))
    assert stopped not in stored and texted not in stored  # kept as keyed hashes only

    # The person comes back: the number that said STOP is still not to be texted (nor
    # confirmed as opted in until it says START); the other starts opted in.
    again = await resolve(service, SMS, stopped, seen_at=datetime.now(UTC))
    assert again.customer_id != customer
    assert await numbers_out(service, again.customer_id) == {stopped: True}
    later = await resolve(service, SMS, texted, seen_at=datetime.now(UTC))
    assert await numbers_out(service, later.customer_id) == {texted: False}
    # Linked for the first time since (no customer has it), it also comes opted out.
    visitor = await resolve(service, WEB, "visitor-after-erasure")
    await erase(again.customer_id)
    started = await service.stub.StartIdentityLink(
        pb.StartIdentityLinkRequest(customer_id=visitor.customer_id, channel=SMS, address=stopped),
        timeout=5,
    )
    linked = await service.stub.ConfirmIdentityLink(
        pb.ConfirmIdentityLinkRequest(
            challenge_id=started.challenge_id, customer_id=visitor.customer_id, code=started.code
        ),
        timeout=5,
    )
    assert not linked.merged
    assert {i.address: i.opted_out for i in linked.customer.identities if i.channel == SMS} == {
        stopped: True
    }

    # Its own START opts it in; erased once more, nothing of the opt-out is left to keep.
    assert (await opt(service, stopped, False)).changed
    await erase(visitor.customer_id)
    fresh = await resolve(service, SMS, stopped, seen_at=datetime.now(UTC))
    assert await numbers_out(service, fresh.customer_id) == {stopped: False}


async def test_the_migration_gives_every_sms_number_of_an_opted_out_customer_its_opt_out(
    database_url: str,
) -> None:
    """0006 moves SMS consent from customers to their numbers, and back on a downgrade."""
    engine = create_engine(database_url)
    moment = datetime.now(UTC)
    customers = [
        ("c-out", True, [(SMS, "+447911123456"), (SMS, "+447911123457"), (WEB, "v-1")]),
        ("c-in", False, [(SMS, "+447911123458")]),
    ]

    def migrate_to(revision: str, connection: Connection, down: bool = False) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    def seed(connection: Connection) -> None:
        migrate_to("0005", connection)
        for customer_id, opted_out, identities in customers:
            connection.execute(
                sql(
                    "INSERT INTO customers (id, display_name, preferred_language, "
                    "preferred_channel, created_at, emotion_analysis_allowed, "
                    "marketing_allowed, sms_opted_out, consent_updated_at) VALUES "
                    "(:id, '', '', 2, :at, true, false, :out, :at)"
                ),
                {"id": customer_id, "at": moment, "out": opted_out},
            )
            for channel, address in identities:
                connection.execute(
                    sql(
                        "INSERT INTO identities (customer_id, channel, address, verified, "
                        "created_at) VALUES (:id, :channel, :address, true, :at)"
                    ),
                    {"id": customer_id, "channel": channel, "address": address, "at": moment},
                )

    def numbers(connection: Connection) -> dict[str, tuple[bool, bool]]:
        rows = connection.execute(
            sql("SELECT address, opted_out, consent_updated_at FROM identities")
        )
        return {address: (bool(out), since is not None) for address, out, since in rows}

    def customers_out(connection: Connection) -> dict[str, bool]:
        rows = connection.execute(sql("SELECT id, sms_opted_out FROM customers"))
        return {customer_id: bool(out) for customer_id, out in rows}

    try:
        async with engine.begin() as connection:
            await connection.run_sync(seed)
        await migrate(engine)
        async with engine.connect() as connection:
            upgraded = await connection.run_sync(numbers)
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: migrate_to("0005", sync, down=True))
        async with engine.connect() as connection:
            downgraded = await connection.run_sync(customers_out)
    finally:
        await engine.dispose()

    assert upgraded == {
        "+447911123456": (True, True),
        "+447911123457": (True, True),
        "v-1": (False, False),  # the web visitor's address has no SMS consent
        "+447911123458": (False, False),
    }
    assert downgraded == {"c-out": True, "c-in": False}
