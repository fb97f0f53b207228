"""The canned responses' table: who may see, write and remove which (``canned.py`` checks
their content).

A team's responses are written and removed by its supervisors (an admin: any team's);
an agent writes and removes their own. Everyone sees their team's and their own. A
shortcut is unique within its team, or among an agent's own responses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.agent_desk.canned import (
    MacroAction,
    Response,
    check_shortcut,
    check_text,
    check_title,
    parse_actions,
)
from services.agent_desk.desk import AccessDenied
from services.agent_desk.models import Agent, CannedResponse, Role
from shared.errors import InvalidInputError, NotFoundError


class ResponseRefused(AccessDenied):
    """Not this account's to write or remove (403)."""


def team_scope(team: str) -> str:
    return f"team:{team}"


def agent_scope(agent_id: str) -> str:
    return f"agent:{agent_id}"


def scope_of(response: Response) -> str:
    return agent_scope(response.owner_id) if response.personal else team_scope(response.team)


def may_write(agent: Agent, scope: str) -> bool:
    role = Role(agent.role)
    if scope == agent_scope(agent.id):
        return True
    if role is Role.ADMIN:
        return scope.startswith("team:")
    return role is Role.SUPERVISOR and scope == team_scope(agent.team)


def response_of(row: CannedResponse) -> Response:
    kind, _, who = row.scope.partition(":")
    return Response(
        id=row.id,
        title=row.title,
        shortcut=row.shortcut,
        texts=dict(row.texts),
        actions=tuple(MacroAction.stored(line) for line in row.actions),
        team=who if kind == "team" else "",
        owner_id=who if kind == "agent" else "",
    )


class CannedResponses:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def visible_to(self, agent: Agent) -> list[Response]:
        """The agent's team's responses and their own, by title."""
        query = (
            select(CannedResponse)
            .where(
                or_(
                    CannedResponse.scope == team_scope(agent.team),
                    CannedResponse.scope == agent_scope(agent.id),
                )
            )
            .order_by(CannedResponse.title)
        )
        async with self._sessions() as session:
            return [response_of(row) for row in await session.scalars(query)]

    async def get(self, agent: Agent, response_id: str) -> Response:
        """One the agent may see; anything else is not found to them."""
        async with self._sessions() as session:
            row = await session.get(CannedResponse, response_id)
        if row is None or row.scope not in (team_scope(agent.team), agent_scope(agent.id)):
            raise NotFoundError("no such response")
        return response_of(row)

    async def create(
        self,
        author: Agent,
        *,
        scope: str,
        title: str,
        shortcut: str,
        texts: Mapping[str, str],
        actions: Sequence[str],
        teams: Sequence[str],
        now: datetime,
    ) -> Response:
        """A new response, its content checked; a taken shortcut is refused by name."""
        if not may_write(author, scope):
            raise ResponseRefused("You may write only your own responses or your team's.")
        if not texts:
            raise InvalidInputError("The response needs a text in at least one language.")
        for text in texts.values():
            check_text(text)
        row = CannedResponse(
            id=str(uuid.uuid4()),
            scope=scope,
            shortcut=check_shortcut(shortcut),
            title=check_title(title),
            texts=dict(texts),
            actions=[str(a) for a in parse_actions(actions, teams)],
            created_by=author.id,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise InvalidInputError(f"The shortcut /{row.shortcut} is taken already.") from None
        return response_of(row)

    async def remove(self, agent: Agent, response_id: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.get(CannedResponse, response_id)
            if row is None:
                raise NotFoundError("no such response")
            if not may_write(agent, row.scope):
                raise ResponseRefused("You may remove only your own responses or your team's.")
            await session.delete(row)
