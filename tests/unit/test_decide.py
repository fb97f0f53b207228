"""``decide`` in this process: a new customer's first message decided and answered with the
shipped models, policy and voice, the reply in each channel's form, and a policy tried."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.emotion.analyzer import Analyzer
from services.emotion.config import EmotionSettings
from services.emotion.in_process import load_analyzer
from services.orchestrator.channel_forms import capabilities_of
from services.orchestrator.cli import FirstMessages
from services.orchestrator.policy import DEFAULT_POLICY, Facts, Policy
from shared.channels import gsm
from shared.message_lines import MessageLine
from tests.expected_models import MODEL_VERSION_KEYS

DISCLOSURE = "an automated assistant"
HEADS = {"language", "emotion", "sentiment", "sarcasm", "intent"}
KEYS = {
    "id",
    "channel",
    "action",
    "priority",
    "reasons",
    "reply",
    "reply_language",
    "template",
    "facts",
    "model_versions",
}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return load_analyzer(EmotionSettings(metrics_port=0))


def _decide(
    analyzer: Analyzer,
    *texts: str,
    channel: str = "web",
    policy: Policy | None = None,
    hint: str = "",
) -> list[dict[str, Any]]:
    first = FirstMessages(
        policy=policy or Policy.load(),
        analyzer=analyzer,
        bot_name="Robin",
        channel=channel,
        capabilities=capabilities_of(channel),
    )
    return first.decide([MessageLine(n, f"m{n}", t, hint) for n, t in enumerate(texts, 1)])


def _codes(outcome: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in outcome["reasons"]]


def test_every_field_is_there_with_its_type(analyzer: Analyzer) -> None:
    [outcome] = _decide(analyzer, "I want to talk to a real person")
    assert set(outcome) == KEYS
    assert outcome["id"] == "m1" and outcome["channel"] == "web"
    assert isinstance(outcome["priority"], float) and 0 <= outcome["priority"] <= 1
    for reason in outcome["reasons"]:
        assert set(reason) == {"code", "confidence", "explanation"}
        assert isinstance(reason["explanation"], str) and reason["explanation"]
        assert 0 <= reason["confidence"] <= 1
    assert isinstance(outcome["reply"], str) and isinstance(outcome["reply_language"], str)
    assert set(outcome["facts"]) == {f.name for f in fields(Facts)}
    assert set(outcome["model_versions"]) == MODEL_VERSION_KEYS


def test_a_request_for_a_person_is_escalated_with_a_holding_reply(analyzer: Analyzer) -> None:
    [outcome] = _decide(analyzer, "I want to talk to a real person")
    assert outcome["action"] == "escalate"
    assert "human_requested" in _codes(outcome)
    assert outcome["facts"]["human_requested"] is True
    assert outcome["template"] == "holding/ordinary"
    assert outcome["priority"] > 0
    assert "Robin" in outcome["reply"] and DISCLOSURE in outcome["reply"]


def test_a_sensitive_topic_is_escalated_with_care_and_comes_first(analyzer: Analyzer) -> None:
    grief, person = _decide(
        analyzer,
        "My mother passed away and I need to close her account",
        "I want to talk to a real person",
    )
    assert grief["action"] == "escalate"
    assert _codes(grief)[0] == "sensitive_topic"
    assert "bereavement" in grief["reasons"][0]["explanation"]
    assert grief["template"] == "holding/caring"
    assert grief["priority"] > person["priority"]


def test_a_plain_question_is_answered_by_a_bot_that_says_it_is_one(analyzer: Analyzer) -> None:
    [outcome] = _decide(analyzer, "How can I get a refund for my order?")
    assert outcome["action"] == "auto_reply"
    assert outcome["priority"] == 0.0
    assert outcome["template"] == "answer/get_refund"
    assert outcome["reply"].startswith(f"Hi, I'm Robin, {DISCLOSURE}.")
    assert "refund" in outcome["reply"]


def test_the_reply_is_in_the_customers_language(analyzer: Analyzer) -> None:
    [outcome] = _decide(analyzer, "Me gustaría cancelar mi pedido", hint="es-ES")
    assert outcome["reply_language"] == "es"
    assert "asistente automático" in outcome["reply"]


def test_the_channel_changes_the_form_of_the_reply_not_its_words(analyzer: Analyzer) -> None:
    text = "I want to track my order"
    [web] = _decide(analyzer, text, channel="web")
    [telegram] = _decide(analyzer, text, channel="telegram")
    [whatsapp] = _decide(analyzer, text, channel="whatsapp")
    assert telegram["channel"] == "telegram"
    assert telegram["reply"] != web["reply"]
    assert "\\." in telegram["reply"]  # MarkdownV2 escapes every reserved character
    assert telegram["reply"].replace("\\", "") == web["reply"]
    assert whatsapp["reply"] == web["reply"]  # no markup to convert in this reply
    assert {o["action"] for o in (web, telegram, whatsapp)} == {"auto_reply"}


def test_sms_replies_keep_within_the_sms_adapters_segment_budget(
    analyzer: Analyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "My mother passed away and I need to close her account"
    [web] = _decide(analyzer, text)
    monkeypatch.setenv("RAPPORT_SMS_MAX_SEGMENTS", "1")
    [sms] = _decide(analyzer, text, channel="sms")
    assert len(web["reply"]) > 160
    assert gsm.segments(sms["reply"]).count == 1
    assert web["reply"].startswith(sms["reply"].removesuffix("...").rstrip())


def _policy(tmp_path: Path, change: Any) -> Policy:
    document = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return Policy.load(path)


def test_a_changed_policy_changes_the_decision(analyzer: Analyzer, tmp_path: Path) -> None:
    def answer_and_escalate(document: dict[str, Any]) -> None:
        [rule] = [r for r in document["rules"] if r["code"] == "human_requested"]
        rule["action"] = "reply_and_escalate"

    text = "I want to talk to a real person"
    [shipped] = _decide(analyzer, text)
    [changed] = _decide(analyzer, text, policy=_policy(tmp_path, answer_and_escalate))
    assert (shipped["action"], changed["action"]) == ("escalate", "reply_and_escalate")
    assert changed["template"] == "answer/contact_human_agent"
    assert changed["reply"] != shipped["reply"]


def test_a_policy_that_keeps_the_bot_quiet_gives_no_reply(
    analyzer: Analyzer, tmp_path: Path
) -> None:
    def quiet_on_refunds(document: dict[str, Any]) -> None:
        document["rules"].append(
            {
                "code": "refunds_by_people",
                "when": {"intent": "get_refund"},
                "action": "stay_quiet",
                "explanation": "Refunds are answered by the refunds team.",
            }
        )

    refund, track = _decide(
        analyzer,
        "How can I get a refund for my order?",
        "I want to track my order",
        policy=_policy(tmp_path, quiet_on_refunds),
    )
    assert refund["action"] == "stay_quiet" and _codes(refund) == ["refunds_by_people"]
    assert (refund["reply"], refund["reply_language"], refund["template"]) == (None, None, None)
    assert track["action"] == "auto_reply" and track["reply"]
