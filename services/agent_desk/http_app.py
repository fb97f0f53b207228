"""The desk's web console: server-rendered pages, form posts, and a live event stream.

Why this shape: aiohttp is already the project's HTTP stack; Jinja2 (through
aiohttp-jinja2) renders every page with autoescaping on, so customer text and names
can never become markup; forms post with a CSRF token and redirect (no client-side
rendering of untrusted data); the queue and the open conversation refresh themselves
from a Server-Sent Events stream (aiohttp-sse) instead of polling: a ticket change
makes the page refetch server-rendered HTML, and a customer's new message arrives as
a server-rendered (escaped) timeline entry; a message of the desk's that got further or
did not get through makes the open conversation refetch its timeline, and an agent of
the team changing their availability (``/availability``) makes the queue refetch. A strict
Content-Security-Policy (scripts only from /static) is the second line against injected
markup.

Attachments open through the desk (``media.py`` says why it proxies rather than
redirects): ``/conversations/<ticket>/turns/<turn>/attachments/<index>`` for an agent who
may see the ticket. An agent's image or PDF comes with the reply form (multipart, the
same CSRF token and action id) and is served to the adapters at ``/media``.
Customers' data rights have their own pages (``rights_http.py``, supervisors and admins).

Every route but the login page, the health check, static files, the icon browsers ask
at ``/favicon.ico`` and ``/media`` (signed links only) needs a session, and each handler
states the least role it needs with ``@requires``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.web_request import FileField
from aiohttp_sse import sse_response
from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk import attachments as media_views
from services.agent_desk import history as views
from services.agent_desk import queue_rows
from services.agent_desk.accounts import (
    AccountRefused,
    audit_lines,
    email_from_form,
    profile_from_form,
)
from services.agent_desk.canned import PLACEHOLDERS
from services.agent_desk.canned_store import CannedResponses
from services.agent_desk.charts import draw
from services.agent_desk.charts_http import board_of, chart_routes, trajectory_of
from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.corrections_http import correction_routes, corrections_panel
from services.agent_desk.corrections_store import Corrections
from services.agent_desk.desk import AccessDenied, Desk
from services.agent_desk.empathy_http import empathy_routes
from services.agent_desk.empathy_store import EmpathySources
from services.agent_desk.feedback_store import FeedbackStore
from services.agent_desk.history import HistoryPort
from services.agent_desk.kpi_charts import dashboard_charts
from services.agent_desk.kpis import period_of
from services.agent_desk.live import Change, LiveUpdates, TeamChanged
from services.agent_desk.media import DeskMedia
from services.agent_desk.metrics import LIVE_CLIENTS, LOGINS, REFUSED_REQUESTS
from services.agent_desk.models import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    Agent,
    Availability,
    Role,
    Ticket,
)
from services.agent_desk.pages import Handler
from services.agent_desk.responses_http import response_routes
from services.agent_desk.rights import CustomerRights
from services.agent_desk.rights_http import rights_routes
from services.agent_desk.routing import can_see, viewer_of
from services.agent_desk.security import (
    LoginThrottle,
    check_password_async,
    client_address,
    hash_password,
    new_token,
    same_token,
    token_digest,
)
from services.agent_desk.store import DeskStore, SignedIn, entry_of, packet_of
from services.channels import channel_label
from shared.channel_names import CHANNEL_NAMES, channel_name
from shared.channels.media import MediaError, stream_media
from shared.errors import (
    DependencyUnavailableError,
    InvalidInputError,
    NotFoundError,
    RapportError,
    RefusedError,
)
from shared.media_links import MEDIA_PATH
from shared.observability.http import http_metrics
from shared.observability.metrics import MEDIA_REQUESTS
from shared.voice.replies import VOICE

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
ICON = HERE / "static" / "icon.svg"
SESSION_COOKIE = "rapport_desk_session"
LOGIN_COOKIE = "rapport_desk_login"
CSRF_FIELD = "csrf_token"
# Each rendered conversation page gives its forms one new id: posting a form twice (a
# double click, a browser retry) repeats the same action, which the desk does once.
ACTION_FIELD = "action_id"
CSRF_HEADER = "X-CSRF-Token"
MIN_TOKEN_CHARS = 32
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/favicon.ico", MEDIA_PATH})
# The customer's latest turns the queue reads per waiting row: enough to find their last
# message, far fewer than the conversation page reads.
QUEUE_TURNS = 20
# A form's fields besides an agent's upload (whose limit is the desk's setting); all a
# request without a session may send.
FORM_BYTES = 256 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

SIGNED_IN = web.RequestKey("signed_in", SignedIn)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeskParts:
    settings: AgentDeskSettings
    desk: Desk
    store: DeskStore
    history: HistoryPort
    throttle: LoginThrottle
    live: LiveUpdates
    clock: Clock
    media: DeskMedia
    responses: CannedResponses
    rights: CustomerRights
    corrections: Corrections
    empathy: EmpathySources
    feedback: FeedbackStore


def csrf_refusal(origin: str | None, host: str, expected: str, given: str | None) -> str | None:
    """Why a state-changing request must be refused, or None.

    It must carry the expected token (the session's; on the login form, its own
    cookie's), and, when the browser names its origin, come from this host.
    """
    if origin is not None and urlsplit(origin).netloc != host:
        return "origin"
    if not same_token(expected, given):
        return "csrf"
    return None


def template_options() -> dict[str, Any]:
    """The Jinja2 environment's options: autoescaping on for every template."""
    return {
        "loader": jinja2.FileSystemLoader(HERE / "templates"),
        "autoescape": True,
        "undefined": jinja2.StrictUndefined,
    }


def requires(role: Role) -> Callable[[Handler], Handler]:
    """Refuse (403) an account below ``role``; the auth middleware already signed it in."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if not Role(request[SIGNED_IN].agent.role).at_least(role):
                REFUSED_REQUESTS.labels("role").inc()
                raise AccessDenied(f"{request.path} needs the {role.value} role")
            return await handler(request)

        return checked

    return wrap


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def duration(seconds: float | None) -> str:
    """``75`` → ``1m 15s``; ``–`` when there is nothing to average."""
    if seconds is None:
        return "–"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


def number(value: float | None, places: int = 2, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{places}f}" if signed else f"{value:.{places}f}"


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "percent": percent,
    "duration": duration,
    "number": number,
    "size": media_views.human_size,
    "channel_label": channel_label,
}


def create_app(parts: DeskParts) -> web.Application:
    settings, desk, store = parts.settings, parts.desk, parts.store
    trusted_networks = settings.trusted_networks

    def set_cookie(response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=settings.secure_cookies,
        )

    def page(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
        signed = request.get(SIGNED_IN)
        values.setdefault("me", signed.agent if signed else None)
        values.setdefault("csrf", signed.csrf_token if signed else "")
        role = Role(signed.agent.role) if signed else None
        values["is_supervisor"] = role is not None and role.at_least(Role.SUPERVISOR)
        values["is_admin"] = role is Role.ADMIN
        response = aiohttp_jinja2.render_template(template, request, values, status=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Rapport's errors as pages with the matching status."""
        try:
            return await handler(request)
        except AccessDenied as exc:
            log.info("refused %s %s: %s", request.method, request.path, exc)
            return page(request, "error.html", 403, message="You do not have access to this.")
        except NotFoundError:
            return page(request, "error.html", 404, message="There is nothing here.")
        except InvalidInputError as exc:
            return page(request, "error.html", 400, message=str(exc))
        except AccountRefused as exc:
            return page(request, "error.html", 409, message=str(exc))
        except RefusedError:
            return page(
                request,
                "error.html",
                409,
                message="Someone else changed this conversation first; reload and try again.",
            )

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.cookies.get(SESSION_COOKIE)
        signed = await store.signed_in(token_digest(token), parts.clock()) if token else None
        if signed is not None:
            request[SIGNED_IN] = signed
        elif request.path not in PUBLIC_PATHS and not request.path.startswith("/static/"):
            if request.method == "GET" and request.path != "/events":
                raise web.HTTPSeeOther("/login")
            raise web.HTTPUnauthorized(text="sign in first")
        return await handler(request)

    @web.middleware
    async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in SAFE_METHODS:
            return await handler(request)
        if SIGNED_IN not in request and (request.content_length or 0) > FORM_BYTES:
            # Only signed-in agents upload: the sign-in form is not read at that size.
            raise web.HTTPRequestEntityTooLarge(FORM_BYTES, request.content_length or 0)
        given = request.headers.get(CSRF_HEADER)
        if given is None:
            field = (await request.post()).get(CSRF_FIELD)
            given = field if isinstance(field, str) else None
        signed = request.get(SIGNED_IN)
        if request.path == "/login":
            expected = request.cookies.get(LOGIN_COOKIE, "")
        else:
            expected = signed.csrf_token if signed else ""
        refusal = csrf_refusal(request.headers.get("Origin"), request.host, expected, given)
        if refusal is not None:
            REFUSED_REQUESTS.labels(refusal).inc()
            raise web.HTTPForbidden(text=f"refused ({refusal}): reload the page and try again")
        return await handler(request)

    async def login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
        if SIGNED_IN in request and not error:
            raise web.HTTPSeeOther("/")
        # Reused while the browser has one: a second login tab must not invalidate the
        # form already shown.
        kept = request.cookies.get(LOGIN_COOKIE, "")
        token = kept if len(kept) >= MIN_TOKEN_CHARS else new_token()
        response = page(request, "login.html", status, login_csrf=token, error=error)
        set_cookie(response, LOGIN_COOKIE, token, max_age=3600)
        return response

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        email = str(form.get("email", "")).strip().lower()[:254]
        password = str(form.get("password", ""))
        address = client_address(
            request.remote,
            ",".join(request.headers.getall("X-Forwarded-For", [])),
            trusted_networks,
        )
        wait = math.ceil(parts.throttle.wait(email, address))
        if wait:
            LOGINS.labels("rate_limited").inc()
            message = f"Too many failed attempts from here. Try again in {wait} seconds."
            response = await login_page(request, message, 429)
            response.headers["Retry-After"] = str(wait)
            return response
        # Counted as failed before the check, taken back on success: guesses sent at
        # once are each counted, not all checked before the first failure is recorded.
        parts.throttle.failed(email, address)
        agent = await store.agent_by_email(email) if email else None
        usable = agent if agent is not None and agent.active else None
        if usable is None or not await check_password_async(
            usable.password_hash if usable else None, password
        ):
            LOGINS.labels("refused").inc()
            return await login_page(request, "Wrong email or password.", 401)
        parts.throttle.succeeded(email, address)
        token = new_token()
        now = parts.clock()
        lifetime = timedelta(hours=settings.session_hours)
        await store.open_session(usable.id, token_digest(token), new_token(), now + lifetime, now)
        LOGINS.labels("success").inc()
        response = see_other("/")
        set_cookie(response, SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
        response.del_cookie(LOGIN_COOKIE, path="/")
        return response

    @requires(Role.AGENT)
    async def logout(request: web.Request) -> web.StreamResponse:
        await store.close_session(request[SIGNED_IN].token_hash)
        response = see_other("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        return response

    async def waiting_rows(tickets: list[Ticket]) -> list[queue_rows.WaitingRow]:
        """The waiting tickets as rows, each customer's context read at once."""
        contexts = await asyncio.gather(*(desk.context_of(t, QUEUE_TURNS) for t in tickets))
        now = parts.clock()
        return [
            queue_rows.waiting_row(ticket, context, now)
            for ticket, context in zip(tickets, contexts, strict=True)
        ]

    async def queue_values(agent: Agent) -> dict[str, Any]:
        waiting, held = await desk.queue(agent)
        agents = {a.id: a.name for a in await store.agents()}
        workloads = await desk.workloads(agent)
        work = [queue_rows.work_row(a, load) for a, load in workloads]
        return {
            "waiting": await waiting_rows(waiting),
            "held": [queue_rows.held_row(t, agents.get(t.assignee_id or "", "")) for t in held],
            # The agent's own availability and load; a supervisor's team, an admin's all.
            "mine": next(row for row in work if row.agent_id == agent.id),
            "workloads": work if Role(agent.role).at_least(Role.SUPERVISOR) else [],
            "availabilities": [a.value for a in Availability],
            # What each of them carried lately (``load.py``, ``_care.html``).
            "carried": await desk.recent_loads([a for a, _load in workloads]),
        }

    @requires(Role.AGENT)
    async def index(request: web.Request) -> web.Response:
        return page(request, "queue.html", **await queue_values(request[SIGNED_IN].agent))

    @requires(Role.AGENT)
    async def queue_fragment(request: web.Request) -> web.Response:
        """The queue's lists alone, fetched by the page when the event stream says so."""
        return page(request, "_queue.html", **await queue_values(request[SIGNED_IN].agent))

    @requires(Role.AGENT)
    async def set_availability(request: web.Request) -> web.StreamResponse:
        """The agent says whether they take new conversations (online, away, offline)."""
        try:
            availability = Availability(await form_value(request, "availability"))
        except ValueError:
            raise InvalidInputError("pick online, away or offline") from None
        await desk.set_availability(request[SIGNED_IN].agent, availability)
        return see_other("/")

    @requires(Role.AGENT)
    async def events(request: web.Request) -> web.StreamResponse:
        """One event per ticket change the account may see; the page refetches the queue."""
        token_hash = request[SIGNED_IN].token_hash
        async with parts.live.subscribe() as changes, sse_response(request) as stream:

            async def forward() -> None:
                try:
                    while (change := await changes.get()) is not None:
                        # The session is read again: a signed-out, deactivated or reset
                        # account hears nothing more, and a new team applies at once.
                        signed = await store.signed_in(token_hash, parts.clock())
                        if signed is None:
                            break
                        if await may_hear(signed.agent, change):
                            data, name = live_event(request, change)
                            await stream.send(data, event=name)
                except ConnectionError:
                    pass
                stream.stop_streaming()

            LIVE_CLIENTS.inc()
            forwarder = asyncio.create_task(forward())
            try:
                await stream.wait()
            finally:
                forwarder.cancel()
                LIVE_CLIENTS.dec()
        return stream

    async def may_hear(agent: Agent, change: Change) -> bool:
        """Ticket ids and agents' availability go to the team; what a customer wrote
        only to those who may open the ticket."""
        if Role(agent.role) is not Role.ADMIN and change.team != agent.team:
            return False
        if isinstance(change, TeamChanged) or change.message is None:
            return True
        try:
            await desk.visible_ticket(agent, change.ticket_id)
        except (AccessDenied, NotFoundError):
            return False
        return True

    def live_event(request: web.Request, change: Change) -> tuple[str, str]:
        """(data, event name) of one change: a ticket id, a team whose agents changed, or
        a customer's message as its escaped timeline entry for the page that shows that
        ticket."""
        if isinstance(change, TeamChanged):
            return change.team, "team"
        if change.delivery:
            return change.ticket_id, "delivery"
        if change.message is None:
            return change.ticket_id, "ticket"
        message = change.message
        entry = views.customer_entry(
            change.ticket_id,
            message.event_id,
            message.text,
            message.channel,
            message.sent_at,
            message.attachments,
            message.subject,
            message.whole_email,
        )
        html = aiohttp_jinja2.render_string(
            "_turn.html", request, {"entry": entry, "ticket_id": change.ticket_id}
        )
        return html, "message"

    @requires(Role.AGENT)
    async def conversation(request: web.Request) -> web.Response:
        agent = request[SIGNED_IN].agent
        ticket = await desk.visible_ticket(agent, request.match_info["ticket_id"])
        packet = packet_of(ticket)
        unavailable = ""
        try:
            context, listed = await parts.history.history(
                ticket.customer_id, ticket.conversation_id, settings.history_turns
            )
        except RapportError as exc:
            log.warning("no history for %s: %s", ticket.conversation_id, exc)
            context, listed = context_pb.GetContextResponse(), []
            unavailable = "The customer's history could not be read just now; reload to retry."
        holder = await store.agent(ticket.assignee_id) if ticket.assignee_id else None
        closes = views.reply_window(packet)
        channel = channel_name(ticket.channel)  # type: ignore[arg-type]
        shown_identities = views.identities(context, packet)
        consent = views.consent(context, packet)
        supervising = Role(agent.role).at_least(Role.SUPERVISOR)
        may_assign = supervising or ticket.assignee_id == agent.id
        emotion, intensity = views.latest_feeling(listed, packet)
        drafts = VOICE.agent_drafts(
            language=ticket.language,
            agent_name=agent.name,
            emotion=emotion,
            intensity=intensity,
            intent=packet.intent or "unknown",
            introduce=ticket.first_reply_at is None,
        )
        return page(
            request,
            "conversation.html",
            ticket=ticket,
            packet=packet,
            channel=channel,
            customer_name=context.customer.display_name or ticket.customer_name,
            holder=holder,
            mine=ticket.assignee_id == agent.id,
            reasons=views.reasons(packet),
            timeline=views.timeline(
                list(context.recent_turns),
                listed,
                ticket.conversation_id,
                ticket.id,
                await desk.messages_of(ticket),
                views.ticket_entries(
                    await desk.history_of(ticket), {a.id: a.name for a in await store.agents()}
                ),
                await desk.emails_of(ticket),
            ),
            chart=views.chart_of(context, packet),
            trajectory=trajectory_of(context, packet),
            identities=shown_identities,
            resend_targets=[i for i in shown_identities if i.verified],
            consent=consent,
            corrections=await corrections_panel(
                parts.corrections,
                agent,
                [*context.recent_turns, *listed],
                packet,
                consent.emotion_analysis_allowed,
            ),
            sms=views.sms_line(shown_identities, consent),
            reply_window=closes,
            window_closed=closes is not None and closes <= parts.clock(),
            summary=context.summary or packet.summary,
            unavailable=unavailable,
            colleagues=(
                [a for a in await store.agents(ticket.team) if a.active and a.id != agent.id]
                if may_assign
                else []
            ),
            max_reply_chars=settings.max_reply_chars,
            takes_attachments=media_views.takes_attachments(channel),
            max_upload_bytes=parts.media.max_upload_bytes,
            upload_types=",".join(sorted(media_views.UPLOAD_TYPES)),
            max_caption_chars=media_views.MAX_CAPTION_CHARS,
            drafts=[draft.text for draft in drafts],
            placeholders=list(PLACEHOLDERS),
            action_id=str(uuid.uuid4()),
        )

    @requires(Role.AGENT)
    async def open_attachment(request: web.Request) -> web.StreamResponse:
        """An attachment shown on a ticket's page, its bytes passed on from where they are
        kept (a customer's through their channel's adapter, an agent's from the desk)."""
        ticket = await desk.visible_ticket(
            request[SIGNED_IN].agent, request.match_info["ticket_id"]
        )
        turn_id, index = request.match_info["turn_id"], int(request.match_info["index"])
        try:
            source = await parts.media.open(ticket, turn_id, index)
            return await stream_media(request, source, f"{turn_id}#{index}")
        except DependencyUnavailableError as exc:
            log.warning("attachment %s#%d not looked up: %s", turn_id, index, exc)
            message = "The customer's history could not be read just now; try again."
            return page(request, "error.html", 503, message=message)
        except MediaError as exc:
            log.info("attachment %s#%d not opened: %s", turn_id, index, exc)
            MEDIA_REQUESTS.labels(exc.problem).inc()
            message = f"This attachment could not be opened ({exc.problem}): {exc}"
            return page(request, "error.html", exc.status, message=message)

    @requires(Role.SUPERVISOR)
    async def dashboard(request: web.Request) -> web.Response:
        """The empathy KPIs of the last days, per channel and per day (one channel's or all)."""
        period = period_of(request.query, settings.dashboard_days)
        board = await board_of(store, period, parts.clock())
        return page(
            request,
            "dashboard.html",
            board=board,
            drawings=[draw(chart) for chart in dashboard_charts(board)],
            pain_points=await parts.feedback.pain_points(board.days[0]),
            periods=settings.dashboard_days,
            period=period.days,
            channels=CHANNEL_NAMES,
        )

    def action(act: Callable[[Agent, str, web.Request], Awaitable[Ticket]]) -> Handler:
        """A form post acting on a ticket; back to it, or to the queue once it is gone
        from the agent's view (transferred to a colleague)."""

        @requires(Role.AGENT)
        async def handle(request: web.Request) -> web.StreamResponse:
            agent = request[SIGNED_IN].agent
            ticket = await act(agent, request.match_info["ticket_id"], request)
            visible = can_see(viewer_of(agent), entry_of(ticket))
            return see_other(f"/conversations/{ticket.id}" if visible else "/")

        return handle

    async def form_value(request: web.Request, name: str) -> str:
        value = (await request.post()).get(name, "")
        return value if isinstance(value, str) else ""

    async def do_claim(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        return await desk.claim(agent, ticket_id, await form_value(request, ACTION_FIELD))

    async def do_reply(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        """The reply, with its file if one came; then the macro of the canned response it
        was written from (``response_id``), if that response has one."""
        text, action_id = await form_value(request, "text"), await form_value(request, ACTION_FIELD)
        response_id = await form_value(request, "response_id")
        macro = (await parts.responses.get(agent, response_id)).actions if response_id else ()
        upload = (await request.post()).get("attachment")
        if not isinstance(upload, FileField):  # no file chosen: an empty, unnamed part
            ticket = await desk.reply(agent, ticket_id, text, action_id)
        else:
            await desk.visible_ticket(agent, ticket_id)  # nothing is kept for a stranger
            data = await asyncio.to_thread(upload.file.read)
            kept = await parts.media.keep(data, upload.filename)
            ticket = await desk.reply(agent, ticket_id, text, action_id, kept)
        return await desk.run_macro(agent, ticket_id, macro, action_id) if macro else ticket

    async def do_assign(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        target, action_id = (
            await form_value(request, "agent_id"),
            await form_value(request, ACTION_FIELD),
        )
        return await desk.assign(agent, ticket_id, target, action_id)

    async def do_resend(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        target, action_id = (
            await form_value(request, "identity"),
            await form_value(request, ACTION_FIELD),
        )
        send_event_id = request.match_info["send_event_id"]
        return await desk.resend(agent, ticket_id, send_event_id, target, action_id)

    async def do_return(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        return await desk.give_back(agent, ticket_id, await form_value(request, ACTION_FIELD))

    async def do_resolve(agent: Agent, ticket_id: str, request: web.Request) -> Ticket:
        return await desk.resolve(agent, ticket_id, await form_value(request, ACTION_FIELD))

    async def text_form(request: web.Request) -> dict[str, str]:
        return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}

    async def new_password_hash(form: dict[str, str]) -> str:
        """The hash of the form's password, at the length rule accounts are created with."""
        return await asyncio.to_thread(
            hash_password, form.get("password", ""), settings.min_password_length
        )

    @requires(Role.ADMIN)
    async def users(request: web.Request) -> web.Response:
        accounts = await store.agents()
        return page(
            request,
            "users.html",
            users=accounts,
            roles=list(Role),
            audit=audit_lines(await store.audit_trail(), accounts),
            max_capacity=MAX_CAPACITY,
            default_capacity=DEFAULT_CAPACITY,
        )

    @requires(Role.ADMIN)
    async def create_user(request: web.Request) -> web.StreamResponse:
        form = await text_form(request)
        email = email_from_form(form)
        profile = profile_from_form(form, settings.default_team)
        await store.create_agent(
            email=email,
            name=profile.name,
            password_hash=await new_password_hash(form),
            role=profile.role,
            team=profile.team,
            languages=profile.languages,
            skills=profile.skills,
            now=parts.clock(),
            actor_id=request[SIGNED_IN].agent.id,
            capacity=profile.capacity,
        )
        return see_other("/admin/users")

    @requires(Role.ADMIN)
    async def user(request: web.Request) -> web.Response:
        """One account: its edit form, its state, a password reset, and its own trail."""
        shown = await store.agent(request.match_info["agent_id"])
        if shown is None:
            raise NotFoundError("no such account")
        return page(
            request,
            "user.html",
            user=shown,
            roles=list(Role),
            audit=audit_lines(await store.audit_trail(shown.id), await store.agents()),
            max_capacity=MAX_CAPACITY,
        )

    @requires(Role.ADMIN)
    async def edit_user(request: web.Request) -> web.StreamResponse:
        profile = profile_from_form(await text_form(request), settings.default_team)
        await desk.change_account(
            request[SIGNED_IN].agent, request.match_info["agent_id"], profile=profile
        )
        return see_other("/admin/users")

    def set_active(active: bool) -> Handler:
        """Deactivate (signed out, tickets back to the queue) or reactivate an account."""

        @requires(Role.ADMIN)
        async def handle(request: web.Request) -> web.StreamResponse:
            await desk.change_account(
                request[SIGNED_IN].agent, request.match_info["agent_id"], active=active
            )
            return see_other("/admin/users")

        return handle

    @requires(Role.ADMIN)
    async def reset_password(request: web.Request) -> web.StreamResponse:
        """Set a new password; every session of the account ends (the admin's own too)."""
        await store.set_password(
            request.match_info["agent_id"],
            await new_password_hash(await text_form(request)),
            actor_id=request[SIGNED_IN].agent.id,
            now=parts.clock(),
        )
        return see_other("/admin/users")

    @requires(Role.ADMIN)
    async def unlock(request: web.Request) -> web.StreamResponse:
        """Forget the account's failed sign-ins everywhere, so it may try again at once."""
        unlocked = await store.record_unlock(
            request.match_info["agent_id"], actor_id=request[SIGNED_IN].agent.id, now=parts.clock()
        )
        parts.throttle.unlock(unlocked.email)
        return see_other("/admin/users")

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def favicon(_request: web.Request) -> web.FileResponse:
        """What browsers ask for on every page, whatever the pages link: the desk's icon."""
        return web.FileResponse(ICON, headers={"Content-Type": "image/svg+xml"})

    async def add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
        """The pages' headers; media keep their own stricter policy (sandboxed, no referrer)."""
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    async def end_streams(_app: web.Application) -> None:
        parts.live.close()

    async def close_media(_app: web.Application) -> None:
        await parts.media.close()

    app = web.Application(
        middlewares=[http_metrics, errors, authenticate, csrf],
        client_max_size=parts.media.max_upload_bytes + FORM_BYTES,
    )
    aiohttp_jinja2.setup(app, filters=FILTERS, **template_options())
    app.on_response_prepare.append(add_security_headers)
    app.on_shutdown.append(end_streams)
    app.on_cleanup.append(close_media)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", index)
    app.router.add_get("/queue", queue_fragment)
    app.router.add_get("/events", events)
    app.router.add_post("/availability", set_availability)
    app.router.add_get("/conversations/{ticket_id}", conversation)
    app.router.add_post("/conversations/{ticket_id}/claim", action(do_claim))
    app.router.add_post("/conversations/{ticket_id}/reply", action(do_reply))
    app.router.add_get(
        r"/conversations/{ticket_id}/turns/{turn_id}/attachments/{index:\d{1,3}}",
        open_attachment,
    )
    app.add_routes([parts.media.endpoint()])
    app.router.add_post("/conversations/{ticket_id}/assign", action(do_assign))
    app.router.add_post(
        "/conversations/{ticket_id}/messages/{send_event_id}/resend", action(do_resend)
    )
    app.router.add_post("/conversations/{ticket_id}/return", action(do_return))
    app.router.add_post("/conversations/{ticket_id}/resolve", action(do_resolve))
    app.router.add_get("/dashboard", dashboard)
    app.add_routes(
        response_routes(
            desk, parts.responses, page, lambda r: r[SIGNED_IN].agent, desk.known_teams, parts.clock
        )
    )
    app.add_routes(
        rights_routes(parts.rights, page, lambda r: r[SIGNED_IN].agent, requires(Role.SUPERVISOR))
    )
    app.add_routes(
        chart_routes(store, page, requires(Role.SUPERVISOR), settings.dashboard_days, parts.clock)
    )
    app.add_routes(
        empathy_routes(
            parts.empathy,
            page,
            lambda r: r[SIGNED_IN].agent,
            requires(Role.SUPERVISOR),
            settings.dashboard_days,
            parts.clock,
        )
    )
    app.add_routes(
        correction_routes(parts, page, lambda r: r[SIGNED_IN].agent, requires(Role.AGENT))
    )
    app.router.add_get("/admin/users", users)
    app.router.add_post("/admin/users", create_user)
    app.router.add_get("/admin/users/{agent_id}", user)
    app.router.add_post("/admin/users/{agent_id}", edit_user)
    app.router.add_post("/admin/users/{agent_id}/deactivate", set_active(False))
    app.router.add_post("/admin/users/{agent_id}/reactivate", set_active(True))
    app.router.add_post("/admin/users/{agent_id}/password", reset_password)
    app.router.add_post("/admin/users/{agent_id}/unlock", unlock)
    app.router.add_get("/healthz", health)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static", HERE / "static")
    return app


def see_other(location: str) -> web.Response:
    """The redirect after a form post (303: the browser follows it with a GET)."""
    return web.Response(status=303, headers={"Location": location})
