"""The corrections as training data: ``python -m services.agent_desk export-corrections
[--output FILE] [--since DATE]`` writes one JSON object a line (``corrections.training_record``):
the text, the agent's labels, what was detected and by which models; no customer, agent,
conversation or turn id.

Consent is asked of the context service at export time, once per customer, rather than
trusted from when the correction was made: a customer may opt out of emotion analysis
later, and the export is what leaves the desk. One who opted out keeps only their intent
corrections (intent is not emotion data); one the context service no longer knows (erased
there, or never known) is left out whole. The desk's own erasure already deleted their
corrections; this covers an erasure made elsewhere. When the context service cannot be
reached the export fails rather than guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol, TextIO

from rapport.context.v1 import context_service_pb2 as context_pb

from services.agent_desk.config import AgentDeskSettings
from services.agent_desk.corrections import training_record
from services.agent_desk.corrections_store import Corrections
from services.agent_desk.database import create_engine, migrate
from shared.grpc.client import open_channel
from shared.grpc.context_client import ContextClient


class ConsentPort(Protocol):
    async def find_customers(self, query: str) -> list[context_pb.CustomerRecord]: ...


async def emotion_consent(context: ConsentPort, customer_id: str) -> bool | None:
    """Whether the customer allows emotion analysis now; None when they are not known
    (erased)."""
    for record in await context.find_customers(customer_id):
        if customer_id in record.customer_ids:
            return record.customer.consent.emotion_analysis_allowed
    return None


async def training_records(
    corrections: Corrections, context: ConsentPort, since: datetime | None
) -> list[dict[str, Any]]:
    """Every correction since ``since`` that may be trained on, as its export record."""
    consents: dict[str, bool | None] = {}
    records: list[dict[str, Any]] = []
    for correction in await corrections.since(since):
        customer = correction.customer_id
        if customer not in consents:
            consents[customer] = await emotion_consent(context, customer)
        allowed = consents[customer]
        if allowed is None:
            continue
        record = training_record(correction, allowed)
        if record is not None:
            records.append(record)
    return records


def write_lines(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """JSON Lines, UTF-8 as written; how many lines."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


async def export_corrections(
    settings: AgentDeskSettings, since: datetime | None
) -> list[dict[str, Any]]:
    """The training records, read from the migrated database with the context service's
    consent."""
    engine = create_engine(settings.database_url)
    channel = open_channel(settings.context_address, token=settings.grpc_token)
    try:
        await migrate(engine)
        context = ContextClient(channel, settings.grpc_deadline_seconds)
        return await training_records(Corrections(engine), context, since)
    finally:
        await channel.close()
        await engine.dispose()
