"""Account commands: ``python -m services.agent_desk create-admin --email ...``,
``create-user`` and ``set-password``.

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
from datetime import UTC, datetime
from typing import TextIO, TypeVar

from services.agent_desk.accounts import checked_email
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Agent, Role
from services.agent_desk.security import hash_password
from services.agent_desk.store import DeskStore
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
    reset = commands.add_parser(
        "set-password", help="set an account's password (signs it out everywhere)"
    )
    reset.add_argument("--email", required=True)
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


def main(argv: list[str], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    settings = AgentDeskSettings()
    try:
        password = read_password(stdin)
        if args.command == "set-password":
            agent = asyncio.run(set_password(settings, checked_email(args.email), password))
            done = f"new password for {agent.email}; its sessions are ended"
        else:
            agent = asyncio.run(create_account(settings, args, password))
            done = f"created {agent.role} {agent.email} ({agent.id}) in team {agent.team}"
    except (InvalidInputError, NotFoundError, RefusedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(done, file=stdout)
    return 0
