"""``python -m services.emotion analyze`` and ``python -m services.orchestrator decide`` run
as operators run them: their answers are those of the real services, bad lines stop them
with the line's number, an empty input answers nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import json_format
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb
from rapport.context.v1 import context_service_pb2_grpc as context_grpc
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.emotion.v1 import emotion_service_pb2_grpc as emotion_grpc
from rapport.events.v1 import messages_pb2

from services.context.__main__ import build as build_context
from services.context.config import ContextSettings
from services.context.database import create_engine, migrate
from services.emotion.__main__ import build_servicer
from services.emotion.config import EmotionSettings
from services.orchestrator.clients import EmotionClient
from services.orchestrator.handlers import InboundHandler
from services.orchestrator.knowledge.index import Scoring
from services.orchestrator.knowledge.library import KnowledgeLibrary
from services.orchestrator.policy import DEFAULT_POLICY, Policy
from shared.grpc.context_client import ContextClient
from shared.kafka.codec import new_envelope
from tests.conftest import unique
from tests.e2e.stack import REPO_ROOT
from tests.expected_models import MODEL_VERSION_KEYS
from tests.fakes.ports import FakePublisher
from tests.grpc_probe import running

pytestmark = pytest.mark.integration

EMOTION = emotion_pb.DESCRIPTOR.services_by_name["EmotionService"].full_name
CONTEXT = context_pb.DESCRIPTOR.services_by_name["ContextService"].full_name
BOT_NAME = "Robin"
MESSAGES = [
    {"id": "person", "text": "I want to talk to a real person"},
    {"id": "grief", "text": "My mother passed away and I need to close her account"},
    {"id": "refund", "text": "How can I get a refund for my order?"},
    {"id": "es", "text": "¿Dónde está mi pedido? Todavía no ha llegado.", "language_hint": "es-ES"},
    {"id": "sarcasm", "text": "Great, thanks for cancelling my order without asking!!!"},
    {"text": "Hi"},
]


def _jsonl(*documents: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in documents)


def run_command(
    module: str, *args: str, stdin: bytes = b"", timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """The command as an operator runs it, the bot's name set as the service's would be."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        env={**os.environ, "RAPPORT_ORCHESTRATOR_BOT_NAME": BOT_NAME},
        timeout=timeout,
        check=False,
    )


def answers(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]


@dataclass
class Services:
    emotion: grpc.aio.Channel
    context: grpc.aio.Channel


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """The real emotion and context services (SQLite) over gRPC."""
    url = f"sqlite:///{tmp_path / 'context.sqlite3'}"
    engine = create_engine(url)
    await migrate(engine)
    context = build_context(ContextSettings(metrics_port=0, grpc_port=0, database_url=url), engine)
    emotion = build_servicer(EmotionSettings(metrics_port=0, grpc_port=0))
    try:
        async with (
            running(
                lambda s: emotion_grpc.add_EmotionServiceServicer_to_server(emotion, s), EMOTION
            ) as emotion_address,
            running(
                lambda s: context_grpc.add_ContextServiceServicer_to_server(context.servicer, s),
                CONTEXT,
            ) as context_address,
            grpc.aio.insecure_channel(emotion_address) as emotion_channel,
            grpc.aio.insecure_channel(context_address) as context_channel,
        ):
            yield Services(emotion_channel, context_channel)
    finally:
        await context.store.close()
        await engine.dispose()


async def _bot_turn_for_a_first_message(
    context: ContextClient, handler: InboundHandler, message: dict[str, Any]
) -> context_pb.Turn:
    """What the orchestrator stores, then sends, when ``message`` is a new visitor's first."""
    conversation = unique("conv")
    customer = envelope_pb2.CustomerRef(channel=envelope_pb2.CHANNEL_WEB, address=unique("web"))
    await handler(
        messages_pb2.MessageReceived(
            envelope=new_envelope(
                conversation_id=conversation, channel=envelope_pb2.CHANNEL_WEB, customer=customer
            ),
            text=message["text"],
            locale_hint=message.get("language_hint", ""),
        )
    )
    [bot_turn] = [
        t for t in await context.list_turns(conversation) if t.role == context_pb.ROLE_BOT
    ]
    return bot_turn


async def test_decide_answers_a_first_message_as_the_orchestrator_does(
    services: Services, tmp_path: Path
) -> None:
    path = tmp_path / "messages.jsonl"
    path.write_bytes(_jsonl(*MESSAGES))
    result = run_command("services.orchestrator", "decide", "--jsonl", str(path))
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    decided = answers(result)
    assert [d["id"] for d in decided] == ["person", "grief", "refund", "es", "sarcasm", 6]

    context = ContextClient(services.context, 5)
    publisher = FakePublisher()
    emotion = EmotionClient(services.emotion, 5)
    # decide answers from knowledge/ by default, as the service does.
    knowledge = KnowledgeLibrary(REPO_ROOT / "knowledge", emotion.embed, Scoring.load())
    knowledge.read()
    await knowledge.refresh()
    handler = InboundHandler(
        emotion=emotion,
        context=context,
        publisher=publisher,
        policy=Policy.load(),
        bot_name=BOT_NAME,
        context_turns=20,
        knowledge=knowledge,
    )
    for message, outcome in zip(MESSAGES, decided, strict=True):
        bot_turn = await _bot_turn_for_a_first_message(context, handler, message)
        record = bot_turn.decision
        assert outcome["reply"] == bot_turn.text
        assert outcome["action"] == record.action
        assert [(r["code"], r["explanation"]) for r in outcome["reasons"]] == [
            (r.code, r.explanation) for r in record.reasons
        ]
        assert outcome["priority"] == pytest.approx(record.priority, abs=1e-6)
        assert outcome["facts"] == json.loads(record.facts_json)
        assert outcome["template"] == record.template
        assert outcome["reply_language"] == record.language
        assert outcome["model_versions"] == dict(record.model_versions)
    actions = {d["id"]: d["action"] for d in decided}
    assert actions["person"] == actions["grief"] == "escalate"
    assert actions["refund"] == "auto_reply"
    sent = [e.text for _, e in publisher.published if isinstance(e, messages_pb2.SendMessage)]
    assert sent == [d["reply"] for d in decided]  # web: sent as written


async def test_analyze_answers_what_the_emotion_service_answers(services: Services) -> None:
    texts = [m for m in MESSAGES if "id" in m]
    result = run_command(
        "services.emotion",
        "analyze",
        "--jsonl",
        "-",
        "--drivers",
        "--embedding",
        stdin=_jsonl(*texts),
    )
    assert result.returncode == 0, result.stderr.decode()
    served = await emotion_grpc.EmotionServiceStub(services.emotion).AnalyzeBatch(
        emotion_pb.AnalyzeBatchRequest(
            items=[
                emotion_pb.AnalyzeRequest(
                    text=m["text"], language_hint=m.get("language_hint", ""), include_embedding=True
                )
                for m in texts
            ],
            include_drivers=True,
        ),
        timeout=10,
    )
    expected = [
        {
            "id": m["id"],
            **json_format.MessageToDict(
                r, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            ),
        }
        for m, r in zip(texts, served.results, strict=True)
    ]
    analysed = answers(result)
    assert analysed == expected
    first = analysed[0]
    assert isinstance(first["language"]["code"], str) and 0 < first["language"]["confidence"] <= 1
    assert first["dominant_emotion"] in {e["label"] for e in first["emotions"]}
    assert first["sentiment"]["label"].startswith("SENTIMENT_LABEL_")
    assert isinstance(first["sarcasm"]["score"], float)
    assert first["intent"]["name"] == "contact_human_agent"
    assert 0 <= first["needs_person"]["score"] <= 1
    assert set(first["model_versions"]) == MODEL_VERSION_KEYS
    assert any(a["drivers"] for a in analysed)


def test_another_policy_file_changes_the_decision(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    [rule] = [r for r in document["rules"] if r["code"] == "human_requested"]
    rule["action"] = "reply_and_escalate"
    changed = tmp_path / "policy.yaml"
    changed.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    stdin = _jsonl(MESSAGES[0])

    shipped = run_command("services.orchestrator", "decide", "--jsonl", "-", stdin=stdin)
    tried = run_command(
        "services.orchestrator", "decide", "--jsonl", "-", "--policy", str(changed), stdin=stdin
    )
    assert [a["action"] for a in answers(shipped)] == ["escalate"]
    assert [a["action"] for a in answers(tried)] == ["reply_and_escalate"]

    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [", encoding="utf-8")
    refused = run_command(
        "services.orchestrator", "decide", "--jsonl", "-", "--policy", str(broken), stdin=stdin
    )
    assert refused.returncode == 1 and refused.stdout == b""
    assert f"cannot use the policy {broken}" in refused.stderr.decode()


def test_the_channel_decides_the_form_of_the_reply() -> None:
    stdin = _jsonl(MESSAGES[2])
    [web] = answers(run_command("services.orchestrator", "decide", "--jsonl", "-", stdin=stdin))
    [telegram] = answers(
        run_command(
            "services.orchestrator", "decide", "--jsonl", "-", "--channel", "telegram", stdin=stdin
        )
    )
    assert telegram["channel"] == "telegram" and "\\." in telegram["reply"]
    assert telegram["reply"].replace("\\", "") == web["reply"]


@pytest.mark.parametrize(
    ("module", "command"), [("services.emotion", "analyze"), ("services.orchestrator", "decide")]
)
def test_a_bad_line_stops_the_command_with_its_number(module: str, command: str) -> None:
    stdin = _jsonl(MESSAGES[0], MESSAGES[2]) + b'{"id": "bad", "text": 5}\n' + _jsonl(MESSAGES[1])
    result = run_command(module, command, "--jsonl", "-", stdin=stdin)
    assert result.returncode == 1
    assert [a["id"] for a in answers(result)] == ["person", "refund"]
    assert "line 3: text must be a string, not a number" in result.stderr.decode()


@pytest.mark.parametrize(
    ("module", "command"), [("services.emotion", "analyze"), ("services.orchestrator", "decide")]
)
def test_an_empty_input_answers_nothing_and_succeeds(module: str, command: str) -> None:
    result = run_command(module, command, "--jsonl", "-", stdin=b"")
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
