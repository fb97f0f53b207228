"""``python -m services.orchestrator decide --jsonl FILE [--channel web] [--policy PATH]``:
what the bot would do with each message were it a new customer's first message on that
channel, in this process (no broker, no context or emotion service).

Each message is read by the emotion service's models in this process (as the service's
gRPC ``AnalyzeBatch`` answers the orchestrator, without drivers), and decided and answered
by the functions the inbound handler uses (``planning``), on the service's policy (or
the one ``--policy`` names, to try a change before deploying it), the brand voice and the
bot's name. A new customer is taken to have the default consent to emotion analysis.

One JSON line per message, keys in alphabetical order: ``id``; ``channel``; ``action``;
``priority``; ``reasons`` (``code``, ``confidence``, ``explanation``); ``reply`` as the
channel's adapter would send it, ``reply_language`` and the voice's ``template`` (all
three null when the bot stays quiet); ``facts``, what the policy's rules read; and
``model_versions``. Input and errors: ``shared.message_lines``.

``calibrate --jsonl DEV [--beta B] [--policy PATH]`` chooses the policy's numeric
thresholds on development messages labelled ``needs_person`` (``calibration``) and prints
them as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapport.emotion.v1 import emotion_service_pb2 as emotion_pb
from rapport.events.v1 import messages_pb2

from services.channels import BUILTIN_CHANNELS
from services.emotion.analyzer import Analyzer, Request
from services.emotion.config import EmotionSettings
from services.emotion.in_process import analyze_batch, load_analyzer
from services.orchestrator.calibration import calibrate, facts_of, read_labelled
from services.orchestrator.channel_forms import as_sent, capabilities_of
from services.orchestrator.config import OrchestratorSettings
from services.orchestrator.crisis import CrisisResources, country_of
from services.orchestrator.knowledge import cli as knowledge_cli
from services.orchestrator.knowledge.articles import KnowledgeError, read_folder
from services.orchestrator.knowledge.cli import embedded_index
from services.orchestrator.knowledge.index import KnowledgeIndex, Scoring
from services.orchestrator.planning import FIRST_MESSAGE, Reading, knowledge_match, plan_reply
from services.orchestrator.policy import Policy
from shared.channel_names import channel_number
from shared.channels.adapter import Capabilities
from shared.message_lines import (
    MalformedLine,
    MessageLine,
    add_source_argument,
    run_on_standard_streams,
)

PROGRAM = "python -m services.orchestrator"
# A needless hand-over costs an agent's time and keeps a customer waiting for a person; a
# missed one is still answered by the bot, and the customer can ask for a person.
DEFAULT_BETA = 0.5


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog=PROGRAM, description="Without a command, run the orchestrator."
    )
    commands = root.add_subparsers(dest="command", required=True)
    decide = commands.add_parser(
        "decide", help="what the bot would do with each message, a new customer's first"
    )
    add_source_argument(decide)
    decide.add_argument(
        "--channel",
        choices=[spec.name for spec in BUILTIN_CHANNELS],
        default="web",
        help="the channel it arrives on",
    )
    decide.add_argument(
        "--knowledge",
        type=Path,
        metavar="DIR",
        help="the articles to answer from (RAPPORT_KNOWLEDGE_DIR, default knowledge/ if present)",
    )
    calibrate = commands.add_parser(
        "calibrate",
        help="choose the policy's numeric thresholds on messages labelled needs_person",
    )
    calibrate.add_argument(
        "--jsonl", required=True, type=Path, metavar="FILE", help="development messages"
    )
    calibrate.add_argument(
        "--beta",
        type=float,
        default=DEFAULT_BETA,
        help="F-beta to maximise: below 1 favours precision (fewer needless hand-overs)",
    )
    commands.add_parser(
        "knowledge",
        add_help=False,
        help="check a knowledge folder, or measure answering from it (knowledge --help)",
    )
    for command in (decide, calibrate):
        command.add_argument(
            "--policy",
            type=Path,
            metavar="PATH",
            help="a policy file instead of the service's (RAPPORT_ORCHESTRATOR_POLICY_FILE)",
        )
    return root


@dataclass(frozen=True, slots=True)
class FirstMessages:
    """Decides first messages as the service would, on one channel."""

    policy: Policy
    analyzer: Analyzer
    bot_name: str
    channel: str
    capabilities: Capabilities | None
    knowledge: KnowledgeIndex | None = None
    crisis: CrisisResources = field(default_factory=CrisisResources.load)

    def decide(self, messages: Sequence[MessageLine]) -> list[dict[str, Any]]:
        """One JSON object per message; the batch is analysed together."""
        embed = bool(self.knowledge and self.knowledge.articles)
        skipped = self.policy.knowledge_excluded_intents  # as the service asks
        requests = [
            Request(
                m.text, m.language_hint, include_embedding=embed, no_embedding_for_intents=skipped
            )
            for m in messages
        ]
        analyses = analyze_batch(self.analyzer, requests, include_drivers=False)
        return [self.outcome(m, a) for m, a in zip(messages, analyses, strict=True)]

    def outcome(self, message: MessageLine, analysis: emotion_pb.AnalyzeResponse) -> dict[str, Any]:
        """The decision on one message, its reasons and the reply as the channel shows it."""
        event = messages_pb2.MessageReceived(text=message.text, locale_hint=message.language_hint)
        match = knowledge_match(self.knowledge, analysis)
        country = country_of(channel_number(self.channel), "", (), message.language_hint)
        reading = Reading(event, analysis, FIRST_MESSAGE, match, self.crisis.for_country(country))
        plan = plan_reply(self.policy, reading, self.bot_name)
        facts, decision = plan.facts, plan.decision
        planned = None if plan.quiet else plan.planned
        return {
            "id": message.id,
            "channel": self.channel,
            "action": decision.action.value,
            "priority": decision.priority,
            "reasons": [asdict(reason) for reason in decision.reasons],
            "reply": as_sent(planned.reply.text, self.capabilities) if planned else None,
            "reply_language": planned.reply.language if planned else None,
            "template": planned.template if planned else None,
            "facts": facts.values(),
            "model_versions": dict(analysis.model_versions),
        }


def run_calibration(path: Path, policy: Policy, beta: float, program: str) -> int:
    """Print the calibration report of ``calibration`` as JSON; 1 on a bad file."""
    try:
        with path.open("rb") as stream:
            labelled = read_labelled(stream)
    except (OSError, MalformedLine) as exc:
        print(f"{program}: {path}: {exc}", file=sys.stderr)
        return 1
    messages = [message for message, _ in labelled]
    facts = facts_of(policy, load_analyzer(EmotionSettings()), messages)
    _, report = calibrate(policy, facts, [label for _, label in labelled], beta)
    print(json.dumps(report, indent=1, sort_keys=True))
    return 0


def main(argv: Sequence[str]) -> int:
    """Run the command ``argv`` names; the exit status (2 for a bad argument, from argparse)."""
    if argv and argv[0] == "knowledge":
        return knowledge_cli.main(argv[1:], PROGRAM)
    args = parser().parse_args(argv)
    program = f"{PROGRAM} {args.command}"
    settings = OrchestratorSettings()
    policy_file = args.policy or settings.policy_file
    try:
        policy = Policy.load(policy_file)
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        print(f"{program}: cannot use the policy {policy_file}: {problem}", file=sys.stderr)
        return 1
    if args.command == "calibrate":
        if args.beta <= 0:
            print(f"{program}: --beta must be above 0", file=sys.stderr)
            return 2
        return run_calibration(args.jsonl, policy, args.beta, program)
    folder = args.knowledge or settings.knowledge_dir
    try:
        articles = read_folder(folder) if args.knowledge or folder.exists() else ()
    except KnowledgeError as error:
        print(f"{program}: cannot use the knowledge {folder}:\n{error}", file=sys.stderr)
        return 1
    analyzer = load_analyzer(EmotionSettings())
    first_messages = FirstMessages(
        policy=policy,
        analyzer=analyzer,
        bot_name=settings.bot_name,
        channel=args.channel,
        capabilities=capabilities_of(args.channel),
        knowledge=embedded_index(analyzer, articles, Scoring.load()) if articles else None,
    )
    return run_on_standard_streams(args.jsonl, first_messages.decide, program=program)
