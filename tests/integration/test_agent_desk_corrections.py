"""Agents' corrections over HTTP, on a real context service (callers' tokens checked) and
the desk's database on SQLite and on a real PostgreSQL server: an agent corrects what the
models read in a customer's message from the conversation page, the correction is in the
training export the command line writes (without the customer's ids) and in the
customer's data export, and it is gone once the customer is erased."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk import cli
from services.agent_desk.corrections import BOT_REPLY
from shared.kafka.codec import derived_event_id
from tests.integration.test_agent_desk_rights import (  # noqa: F401
    SMS,
    TOKENS,
    Desk,
    Story,
    csrf_of,
    customer_story,
    desk,
    desk_database,
)
from tests.store_scan import every_row, holding

pytestmark = pytest.mark.integration

QUESTION = "Where is my parcel?? It was due on Monday"
VERSIONS = {"emotion": "encoder-2026.11.1", "intent": "encoder-2026.11.1"}


async def asked_and_answered(desk: Desk, story: Story, language: str = "en") -> str:  # noqa: F811
    """The customer asks, read as angry and tracking an order; the bot answers with its
    decision record. The customer turn's event id."""
    now = desk.clock()
    asked = context_pb.Turn(
        event_id=str(uuid.uuid4()),
        conversation_id=story.conversation_id,
        role=context_pb.ROLE_CUSTOMER,
        text=QUESTION,
        channel=SMS,
        language=language,
        emotion=context_pb.EmotionSnapshot(dominant_emotion="anger", intensity=0.7),
    )
    asked.occurred_at.FromDatetime(now - timedelta(seconds=1))
    answer = context_pb.Turn(
        event_id=derived_event_id(asked.event_id, BOT_REPLY),
        conversation_id=story.conversation_id,
        role=context_pb.ROLE_BOT,
        text="Let me look at your order.",
        channel=SMS,
        decision=context_pb.DecisionRecord(
            action="auto_reply",
            model_versions=VERSIONS,
            facts_json=json.dumps({"intent": "track_order", "dominant_emotion": "anger"}),
        ),
    )
    answer.occurred_at.FromDatetime(now)
    for turn in (asked, answer):
        await desk.context.AppendTurn(
            context_pb.AppendTurnRequest(customer_id=story.customer_id, turn=turn), timeout=5
        )
    return asked.event_id


async def correct(
    browser: aiohttp.ClientSession, story: Story, turn_id: str, **form: str
) -> tuple[int, str]:
    async with browser.post(
        f"/conversations/{story.ticket_id}/turns/{turn_id}/correction",
        data=form,
        allow_redirects=False,
    ) as answer:
        return answer.status, await answer.text()


async def exported(
    desk: Desk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> list[dict[str, Any]]:
    """What ``python -m services.agent_desk export-corrections --output FILE`` writes."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("RAPPORT_AGENT_DESK_DATABASE_URL", desk.settings.database_url)
    monkeypatch.setenv("CONTEXT_ADDRESS", desk.context_address)
    monkeypatch.setenv("RAPPORT_GRPC_TOKEN", TOKENS["agent_desk"])
    target = tmp_path / "corrections.jsonl"
    said = io.StringIO()
    # The command runs its own event loop, as from a shell.
    argv = ["export-corrections", "--output", str(target)]
    assert await asyncio.to_thread(cli.main, argv, io.StringIO(), said) == 0
    lines = target.read_text(encoding="utf-8").splitlines()
    assert said.getvalue() == f"{len(lines)} corrections written to {target}\n"
    return [json.loads(line) for line in lines]


async def test_a_correction_is_exported_for_training_and_goes_with_the_erased_customer(
    desk: Desk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    story = await customer_story(desk, "Zoë Quill", "+447911123456", "parcel 7731", False)
    other = await customer_story(desk, "Otto Keep", "+447911123457", "invoice 5512", False)
    turn_id = await asked_and_answered(desk, story)
    other_turn = await asked_and_answered(desk, other)
    maria = await desk.signed_in("maria@example.org")
    async with maria:
        async with maria.get(f"/conversations/{story.ticket_id}") as page:
            html = await page.text()
        token = csrf_of(html)
        assert f'id="correct-{turn_id}"' in html
        assert (
            "Read as: anger, track_order · emotion model encoder-2026.11.1 · intent model" in html
        )
        assert '<option value="frustration">' in html and '<option value="get_refund">' in html

        wanted = {"emotion": "frustration", "intent": "get_refund"}
        assert (await correct(maria, story, turn_id, **wanted))[0] == 403  # no CSRF token
        status, page_text = await correct(maria, story, turn_id, csrf_token=token, emotion="rage")
        assert status == 400 and "pick an emotion from the list" in page_text
        assert (await correct(maria, story, "no-such-turn", csrf_token=token, **wanted))[0] == 404
        # A first thought, then the agent's final word: one correction, the latter.
        for corrected, turn, form in [
            (story, turn_id, {"intent": "complaint"}),
            (story, turn_id, wanted),
            (other, other_turn, {"intent": "review"}),
        ]:
            assert (await correct(maria, corrected, turn, csrf_token=token, **form))[0] == 303
        async with maria.get(f"/conversations/{story.ticket_id}") as page:
            assert "you said: frustration, get_refund" in await page.text()

    records = await exported(desk, monkeypatch, tmp_path)
    mine = next(r for r in records if r["text"] == QUESTION and r["intent"] == "get_refund")
    assert {k: v for k, v in mine.items() if k not in ("id", "created_at")} == {
        "text": QUESTION,
        "language": "en",
        "emotion": "frustration",
        "intent": "get_refund",
        "detected_emotion": "anger",
        "detected_intent": "track_order",
        "model_versions": VERSIONS,
    }
    assert sorted(r["intent"] for r in records) == ["get_refund", "review"]
    flat = json.dumps(records, ensure_ascii=False)
    for identifying in (story.customer_id, story.conversation_id, turn_id, "Zoë"):
        assert identifying not in flat

    sue = await desk.signed_in("sue@example.org")
    async with sue:
        async with sue.get(f"/customers/{story.customer_id}") as page:
            token = csrf_of(await page.text())
        async with sue.post(
            f"/customers/{story.customer_id}/export", data={"csrf_token": token}
        ) as download:
            archive = zipfile.ZipFile(io.BytesIO(await download.read()))
        held = json.loads(archive.read("desk/corrections.json"))
        assert [(c["turn_event_id"], c["emotion"]) for c in held] == [(turn_id, "frustration")]
        async with sue.post(
            f"/customers/{story.customer_id}/erase",
            data={"csrf_token": token, "reason": "customer_request", "confirmation": "erase"},
            allow_redirects=False,
        ) as erased:
            assert erased.status == 303

    rows = await every_row(desk.engine)
    assert holding(rows, (turn_id, story.customer_id)) == {}
    assert holding(rows, (other_turn, QUESTION)).keys() == {"corrections"}  # the other's
    assert [r["intent"] for r in await exported(desk, monkeypatch, tmp_path)] == ["review"]


async def test_an_opted_out_customer_keeps_only_intent_corrections_in_the_export(
    desk: Desk,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    story = await customer_story(desk, "Zoë Quill", "+447911123456", "parcel 7731", False)
    turn_id = await asked_and_answered(desk, story)
    maria = await desk.signed_in("maria@example.org")
    async with maria:
        async with maria.get(f"/conversations/{story.ticket_id}") as page:
            token = csrf_of(await page.text())
        form = {"csrf_token": token, "emotion": "frustration", "intent": "get_refund"}
        assert (await correct(maria, story, turn_id, **form))[0] == 303
        # Consent withdrawn after the correction (its box left unticked): the export asks
        # again.
        sue = await desk.signed_in("sue@example.org")
        async with sue:
            async with sue.get(f"/customers/{story.customer_id}") as page:
                sue_token = csrf_of(await page.text())
            async with sue.post(
                f"/customers/{story.customer_id}/consent",
                data={"csrf_token": sue_token},
                allow_redirects=False,
            ) as changed:
                assert changed.status == 303
        async with maria.get(f"/conversations/{story.ticket_id}") as page:
            html = await page.text()
        assert 'name="emotion"' not in html  # no emotion to correct any more
        status, page_text = await correct(maria, story, turn_id, **form)
        assert status == 400 and "no emotion reading to correct" in page_text

    [record] = await exported(desk, monkeypatch, tmp_path)
    assert (record["intent"], record["emotion"], record["detected_emotion"]) == (
        "get_refund",
        None,
        None,
    )
