"""Account commands: ``python -m services.agent_desk create-admin --email ...``.

The first admin can only come from here (there is no default account or password).
The password is read from the terminal without echo, or as one line on standard input
when that is not a terminal (for scripts: ``printf '%s\\n' "$PW" | python -m ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import TextIO

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.database import create_engine, migrate
from services.agent_desk.models import Agent, Role
from services.agent_desk.security import hash_password
from services.agent_desk.store import DeskStore
from shared.errors import InvalidInputError, RefusedError


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
    return root


def read_password(stdin: TextIO) -> str:
    """From the terminal (asked twice), or the first line of a piped standard input."""
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidInputError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


async def create_account(
    settings: AgentDeskSettings, args: argparse.Namespace, password: str
) -> Agent:
    """Create the account ``args`` describe in the desk's database (migrated first)."""
    role = Role.ADMIN if args.command == "create-admin" else Role(args.role)
    password_hash = hash_password(password, settings.min_password_length)
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        return await DeskStore(engine).create_agent(
            email=args.email,
            name=args.name or args.email.split("@")[0],
            password_hash=password_hash,
            role=role,
            team=args.team or settings.default_team,
            languages=[s.strip() for s in args.languages.split(",") if s.strip()],
            skills=[s.strip() for s in args.skills.split(",") if s.strip()],
            now=datetime.now(UTC),
        )
    finally:
        await engine.dispose()


def main(argv: list[str], stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    try:
        password = read_password(stdin)
        agent = asyncio.run(create_account(AgentDeskSettings(), args, password))
    except (InvalidInputError, RefusedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created {agent.role} {agent.email} ({agent.id}) in team {agent.team}", file=stdout)
    return 0
