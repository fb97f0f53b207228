"""``python -m infra.deadletters list|show|replay``: the operator's view of dead letters.

    list    [--topic T] [--offsets 7-12] [--event-id ID]   one line per dead letter
    show    OFFSET                                          one dead letter in full
    replay  [--topic T] [--offsets 7-12] [--event-id ID] [--dry-run]

Offsets are those of ``rapport.dead-letter.v1`` (the first column of ``list``). ``replay``
publishes each chosen record's original key, value and headers (so its original event id)
to the topic it came from, in offset order, and says where each landed; every consumer
group of that topic gets it again and drops what it has already handled. Exit status: 0
done, 1 the broker or the records did not allow it, 2 a bad argument.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from aiokafka.errors import KafkaError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.deadletters import render
from infra.deadletters.broker import BrokerError, DeadLetterBroker, connect
from infra.deadletters.letters import (
    DeadLetter,
    NotReplayableError,
    OffsetRange,
    Selection,
    replay_targets,
)
from shared.config import shared_name
from shared.kafka.topics import DEAD_LETTER


class ToolSettings(BaseSettings):
    """The broker, read as every service reads it (environment or ``.env``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field("127.0.0.1:9092", validation_alias=shared_name("KAFKA_BOOTSTRAP"))


class CommandFailed(Exception):
    """What stopped a command, for the operator; exit status 1."""


def _offset_range(text: str) -> OffsetRange:
    try:
        return OffsetRange.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _offset(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an offset (a whole number, 0 or more)")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--bootstrap", help="Kafka host:port (default: KAFKA_BOOTSTRAP, else 127.0.0.1:9092)"
    )
    choosing = argparse.ArgumentParser(add_help=False)
    choosing.add_argument("--topic", help="only dead letters that came from this topic")
    choosing.add_argument(
        "--offsets",
        type=_offset_range,
        help=f"only these offsets of {DEAD_LETTER}: 7, 7-12 (inclusive) or 7- (7 onwards)",
    )
    choosing.add_argument("--event-id", help="only dead letters of this event id")

    parser = argparse.ArgumentParser(
        prog="python -m infra.deadletters",
        description=f"List, show and replay the dead letters of {DEAD_LETTER}.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "list", parents=[common, choosing], help="one line per dead letter (oldest first)"
    )
    show = commands.add_parser("show", parents=[common], help="one dead letter in full")
    show.add_argument("offset", type=_offset, help=f"its offset in {DEAD_LETTER}")
    replay = commands.add_parser(
        "replay",
        parents=[common, choosing],
        help="publish the chosen records again to the topics they came from",
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="say what would be replayed, publish nothing"
    )
    return parser


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(topic=args.topic, offsets=args.offsets, event_id=args.event_id)


async def _chosen(broker: DeadLetterBroker, selection: Selection) -> list[DeadLetter]:
    """The dead letters ``selection`` means, reading only its offsets when it names some."""
    return [letter for letter in await broker.read(selection.offsets) if selection.matches(letter)]


async def _list(broker: DeadLetterBroker, selection: Selection) -> None:
    letters = await _chosen(broker, selection)
    if not letters:
        print("no dead letters" + ("" if selection.is_everything else " match"))
        return
    print(render.table(letters))


async def _show(broker: DeadLetterBroker, offset: int) -> None:
    letters = await broker.read(OffsetRange(offset, offset))
    if not letters:
        raise CommandFailed(f"no dead letter at offset {offset} of {DEAD_LETTER}")
    print(render.full(letters[0], DEAD_LETTER))


async def _replay(broker: DeadLetterBroker, selection: Selection, dry_run: bool) -> None:
    letters = await _chosen(broker, selection)
    if not letters:
        raise CommandFailed("no dead letter matches; nothing replayed")
    try:
        targets = replay_targets(letters, await broker.topics())
    except NotReplayableError as error:
        raise CommandFailed(f"{error}; nothing replayed") from None
    for done, (topic, letter) in enumerate(targets):
        what = f"dead letter {letter.offset} ({letter.event_type or '?'} {letter.event_id or '?'})"
        if dry_run:
            print(f"would replay {what} to {topic}")
            continue
        try:
            landed = await broker.publish(topic, letter)
        except KafkaError as error:
            raise CommandFailed(
                f"replaying {what} to {topic} failed after {done} replayed: {error}"
            ) from error
        print(f"replayed {what} to {landed.topic}[{landed.partition}]@{landed.offset}")
    verb = "would replay" if dry_run else "replayed"
    print(f"{verb} {len(letters)} dead letter{'s' if len(letters) != 1 else ''}")


async def _run(args: argparse.Namespace, bootstrap: str) -> None:
    async with connect(bootstrap) as broker:
        if args.command == "list":
            await _list(broker, _selection(args))
        elif args.command == "show":
            await _show(broker, args.offset)
        else:
            await _replay(broker, _selection(args), args.dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "replay" and _selection(args).is_everything:
        parser.error(
            "replay needs --topic, --offsets or --event-id (replaying all is not a default)"
        )
    bootstrap = args.bootstrap or ToolSettings().kafka_bootstrap
    # aiokafka logs each failed connection; the error it then raises is reported below.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(_run(args, bootstrap))
    except CommandFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (KafkaError, BrokerError, OSError, TimeoutError) as error:
        print(f"error: cannot use Kafka at {bootstrap}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
