"""Account commands: ``python -m services.agent_desk create-admin --email ...``,
``create-user``, ``set-password`` and ``set-agent`` (an account's capacity and
availability); ``set-tier``, a customer's service tier for routing rules; and
``apply-retention``, which removes the customers'
data the desk keeps beyond its retention now (the running desk also does it every
``RETENTION_INTERVAL_MINUTES``), for operators who schedule it or check it; and
``export-corrections``, agents' corrections as training data (``corrections_export.py``).

The first admin can only come from here (there is no default account or password), and
so can a new password for an admin locked out of the console.
The password is read from the terminal without echo, or as one line on standard input
when that is not a terminal (for scripts: ``printf '%s\\n' "$PW" | python -m ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, time
from typing import TextIO, TypeVar

from services.agent_desk.accounts import checked_capacity, checked_email, profile_of
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.corrections_export import export_corrections, write_lines
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Agent, Availability, Role
from services.agent_desk.retention import RetentionReport, retention_of
from services.agent_desk.security import hash_password
from services.agent_desk.store import DeskStore
from services.agent_desk.teams import RoutingError, checked_tier, configured_routing
from shared.errors import InvalidInputError, NotFoundError, RefusedError

T = TypeVar("T")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m services.agent_desk")
    commands = root.add_subparsers(dest="command", required=True)
    admin = commands.add_parser("create-admin", help="create an admin account")
    user = commands.add_parser("create-user", help="create an account with any role")
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    for command in (admin, user):
        command.add_argument("--email", required=True)
        command.add_argument("--name", help="the name customers see (default: the email's name)")
        command.add_argument("--team", help="default: the desk's default team")
        command.add_argument("--languages", default="en", help="comma-separated, e.g. en,fr")
        command.add_argument("--skills", default="", help="comma-separated, e.g. topic:bereavement")
        command.add_argument(
            "--capacity", type=int, help="conversations the desk gives at once (default: 3)"
        )
    reset = commands.add_parser(
        "set-password", help="set an account's password (signs it out everywhere)"
    )
    reset.add_argument("--email", required=True)
    agent = commands.add_parser(
        "set-agent", help="set an account's capacity and/or availability (online, away, offline)"
    )
    agent.add_argument("--email", required=True)
    agent.add_argument("--capacity", type=int, help="conversations the desk gives at once")
    agent.add_argument("--availability", choices=[a.value for a in Availability])
    tier = commands.add_parser("set-tier", help="set a customer's service tier for routing")
    tier.add_argument("--customer-id", required=True, help="as the context service knows them")
    tier.add_argument("--tier", required=True, help='e.g. gold; "" for none')
    commands.add_parser(
        "apply-retention", help="remove the customers' data kept beyond the retention periods"
    )
    corrections = commands.add_parser(
        "export-corrections", help="agents' corrections as training data (JSON Lines)"
    )
    corrections.add_argument("--output", help="a file to write (default: standard output)")
    corrections.add_argument(
        "--since", type=date.fromisoformat, help="only corrections made from this day (UTC)"
    )
    return root


def read_password(stdin: TextIO) -> str:
    """From the terminal (asked twice), or the first line of a piped standard input."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidInputError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


async def on_store(settings: AgentDeskSettings, work: Callable[[DeskStore], Awaitable[T]]) -> T:
    """Run ``work`` on the desk's database, migrated first."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        return await work(DeskStore(engine))
    finally:
        await engine.dispose()


async def create_account(
    settings: AgentDeskSettings, args: argparse.Namespace, password: str
) -> Agent:
    """Create the account ``args`` describe in the desk's database."""
    role = Role.ADMIN if args.command == "create-admin" else Role(args.role)
    email = checked_email(args.email)
    password_hash = hash_password(password, settings.min_password_length)
    return await on_store(
        settings,
        lambda store: store.create_agent(
            email=email,
            name=args.name or email.split("@")[0],
            password_hash=password_hash,
            role=role,
            team=args.team or settings.default_team,
            languages=[s.strip() for s in args.languages.split(",") if s.strip()],
            skills=[s.strip() for s in args.skills.split(",") if s.strip()],
            now=datetime.now(UTC),
            capacity=None if args.capacity is None else checked_capacity(args.capacity),
        ),
    )


async def set_password(settings: AgentDeskSettings, email: str, password: str) -> Agent:
    """Replace the password of the account with ``email``; its sessions end (audited as
    done from the command line)."""
    password_hash = hash_password(password, settings.min_password_length)

    async def work(store: DeskStore) -> Agent:
        agent = await store.agent_by_email(email)
        if agent is None:
            raise NotFoundError(f"no account for {email}")
        return await store.set_password(
            agent.id, password_hash, actor_id=None, now=datetime.now(UTC)
        )

    return await on_store(settings, work)


async def set_agent(
    settings: AgentDeskSettings,
    email: str,
    capacity: int | None,
    availability: Availability | None,
) -> Agent:
    """Change the capacity (audited as done from the command line) and/or the
    availability of the account with ``email``; the running desk acts on it at its next
    sweep."""
    if capacity is None and availability is None:
        raise InvalidInputError("give --capacity, --availability or both")
    checked = None if capacity is None else checked_capacity(capacity)

    async def work(store: DeskStore) -> Agent:
        agent = await store.agent_by_email(email)
        if agent is None:
            raise NotFoundError(f"no account for {email}")
        now = datetime.now(UTC)
        if checked is not None:
            profile = replace(profile_of(agent), capacity=checked)
            agent = (
                await store.update_agent(agent.id, actor_id=None, now=now, profile=profile)
            ).agent
        if availability is not None:
            agent = await store.set_availability(agent.id, availability, now)
        return agent

    return await on_store(settings, work)


async def set_tier(settings: AgentDeskSettings, customer_id: str, tier: str) -> str:
    """Give a customer a tier (``""``: none) for their next handoff's routing; what was
    done, with a warning when no routing rule names the tier."""
    try:
        tier = checked_tier(tier) if tier else ""
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if not 0 < len(customer_id) <= 36:
        raise InvalidInputError(f"{customer_id!r} is not a customer id")
    routing = configured_routing(settings.routing_file, settings.default_team)
    named = sorted({t for rule in routing.rules for t in rule.when.tier or ()})
    await on_store(settings, lambda store: store.set_tier(customer_id, tier, datetime.now(UTC)))
    if not tier:
        return f"customer {customer_id} has no tier now"
    done = f"customer {customer_id} is {tier} now"
    if tier not in named:
        done += f" (note: no routing rule names {tier}; rules name: {', '.join(named) or 'none'})"
    return done


async def apply_retention(settings: AgentDeskSettings) -> RetentionReport:
    """One retention run over every ticket, on the migrated database."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        return await retention_of(settings, engine).apply(datetime.now(UTC))
    finally:
        await engine.dispose()


def main(argv: list[str], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    settings = AgentDeskSettings()
    if args.command == "apply-retention":
        report = asyncio.run(apply_retention(settings))
        print(" ".join(f"{name}={count}" for name, count in asdict(report).items()), file=stdout)
        return 0
    if args.command == "export-corrections":
        since = datetime.combine(args.since, time(), tzinfo=UTC) if args.since else None
        records = asyncio.run(export_corrections(settings, since))
        if args.output is None:
            write_lines(records, stdout)
        else:
            with open(args.output, "w", encoding="utf-8", newline="\n") as out:
                written = write_lines(records, out)
            print(f"{written} corrections written to {args.output}", file=stdout)
        return 0
    try:
        if args.command == "set-agent":
            availability = Availability(args.availability) if args.availability else None
            agent = asyncio.run(
                set_agent(settings, checked_email(args.email), args.capacity, availability)
            )
            done = f"{agent.email}: {agent.availability}, capacity {agent.capacity}"
        elif args.command == "set-tier":
            done = asyncio.run(set_tier(settings, args.customer_id, args.tier))
        else:
            password = read_password(stdin)
            if args.command == "set-password":
                agent = asyncio.run(set_password(settings, checked_email(args.email), password))
                done = f"new password for {agent.email}; its sessions are ended"
            else:
                agent = asyncio.run(create_account(settings, args, password))
                done = f"created {agent.role} {agent.email} ({agent.id}) in team {agent.team}"
    except (InvalidInputError, NotFoundError, RefusedError, RoutingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(done, file=stdout)
    return 0
