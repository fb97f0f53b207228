"""The desk's pages for customers' data rights (supervisors and admins): search, the
customer's page (what each store holds, consent), the export download, and the erasure
with its confirmation page. Forms post with the session's CSRF token like every other
(the middleware refuses them otherwise); ``rights.py`` does the work and the auditing.

The export is a POST too: it is an audited action, so another site must not be able to
make a signed-in supervisor's browser ask for one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date

from aiohttp import web
from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk.pages import Guard, Page, SignedInAgent
from services.agent_desk.rights import (
    CONFIRMATION,
    CONSENT_FLAGS,
    ERASURE_REASONS,
    CustomerRights,
)
from shared.channel_names import channel_name
from shared.errors import DependencyUnavailableError, InvalidInputError

log = logging.getLogger(__name__)

UNAVAILABLE = "The customer service's records could not be reached just now; try again."


@dataclass(frozen=True)
class CustomerView:
    """A customer as the pages show them (every string escaped by the templates)."""

    customer_id: str
    former_ids: list[str]
    name: str
    since: date
    identities: list[tuple[str, str, bool, bool]]
    """(channel, address, verified, opted out of SMS)"""
    conversations: int
    consent: context_pb.Consent

    @property
    def sms_numbers_texted(self) -> bool:
        """Whether one of their SMS numbers may still be texted (so may be opted out)."""
        return any(channel == "sms" and not out for channel, _, _, out in self.identities)


def customer_view(record: context_pb.CustomerRecord) -> CustomerView:
    customer = record.customer
    return CustomerView(
        customer_id=record.customer_ids[0],
        former_ids=list(record.customer_ids[1:]),
        name=customer.display_name,
        since=customer.created_at.ToDatetime(tzinfo=UTC).date(),
        identities=[
            (channel_name(i.channel), i.address, i.verified, i.opted_out)
            for i in customer.identities
        ],
        conversations=len(record.conversation_ids),
        consent=customer.consent,
    )


def consent_form(form: dict[str, str]) -> dict[str, bool]:
    """The consent the form asks for: a ticked box is True. SMS is only ever opted out
    from here, so an unticked SMS box asks for nothing."""
    wanted = {flag: form.get(flag) == "on" for flag in CONSENT_FLAGS}
    if not wanted["sms_opted_out"]:
        del wanted["sms_opted_out"]
    return wanted


def rights_routes(
    rights: CustomerRights, page: Page, signed_in: SignedInAgent, guard: Guard
) -> list[web.RouteDef]:
    """The routes, each behind ``guard`` (the supervisor role)."""

    def unavailable(request: web.Request, exc: DependencyUnavailableError) -> web.Response:
        log.warning("customer data rights: a store is unavailable: %s", exc)
        return page(request, "error.html", 503, message=UNAVAILABLE)

    async def text_form(request: web.Request) -> dict[str, str]:
        return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}

    @guard
    async def search(request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()
        found: list[context_pb.CustomerRecord] = []
        error = ""
        if query:
            try:
                found = await rights.find(signed_in(request), query)
            except InvalidInputError as exc:
                error = str(exc)
            except DependencyUnavailableError as exc:
                return unavailable(request, exc)
        return page(
            request,
            "customers.html",
            query=query,
            customers=[customer_view(r) for r in found],
            searched=bool(query) and not error,
            error=error,
            erased=request.query.get("erased") == "1",
        )

    @guard
    async def customer(request: web.Request) -> web.Response:
        try:
            record = await rights.record(signed_in(request), request.match_info["customer_id"])
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        rows = await rights.desk_rows(record)
        return page(
            request,
            "customer.html",
            customer=customer_view(record),
            desk_counts=rows.counts(),
            tickets=rows.tickets,
        )

    @guard
    async def export(request: web.Request) -> web.StreamResponse:
        try:
            done = await rights.export(signed_in(request), request.match_info["customer_id"])
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return web.Response(
            body=done.data,
            content_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{done.file_name}"',
                "Cache-Control": "no-store",
            },
        )

    @guard
    async def confirm_erasure(request: web.Request) -> web.Response:
        try:
            record = await rights.record(signed_in(request), request.match_info["customer_id"])
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return page(
            request,
            "erase.html",
            customer=customer_view(record),
            desk_counts=(await rights.desk_rows(record)).counts(),
            reasons=ERASURE_REASONS,
            confirmation=CONFIRMATION,
        )

    @guard
    async def erase(request: web.Request) -> web.StreamResponse:
        form = await text_form(request)
        try:
            await rights.erase(
                signed_in(request),
                request.match_info["customer_id"],
                form.get("reason", ""),
                form.get("confirmation", ""),
            )
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return web.Response(status=303, headers={"Location": "/customers?erased=1"})

    @guard
    async def change_consent(request: web.Request) -> web.StreamResponse:
        customer_id = request.match_info["customer_id"]
        wanted = consent_form(await text_form(request))
        try:
            await rights.change_consent(signed_in(request), customer_id, wanted)
        except DependencyUnavailableError as exc:
            return unavailable(request, exc)
        return web.Response(status=303, headers={"Location": f"/customers/{customer_id}"})

    return [
        web.get("/customers", search),
        web.get("/customers/{customer_id}", customer),
        web.post("/customers/{customer_id}/export", export),
        web.get("/customers/{customer_id}/erase", confirm_erasure),
        web.post("/customers/{customer_id}/erase", erase),
        web.post("/customers/{customer_id}/consent", change_consent),
    ]
