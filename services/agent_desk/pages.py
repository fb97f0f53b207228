"""What the desk's page modules are given by the web console (``http_app.py``), typed once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from services.agent_desk.models import Agent

Page = Callable[..., web.Response]
"""Renders a template for the signed-in account: ``page(request, template, status, **values)``."""
SignedInAgent = Callable[[web.Request], Agent]
"""The account a request is signed in as."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[[Handler], Handler]
"""Wraps a handler with a check (``requires(role)``)."""
