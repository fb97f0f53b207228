"""The email adapter's part in a customer's export and erasure, called from the desk.

The email adapter keeps threads (the customer's address, the subjects they wrote),
Message-IDs and the files customers attached. The desk tells it whom to export or erase
(``shared.channels.customer_rights``): the customer's email addresses, their
conversations and the references of the email attachments in their turns, as the
context service knows them. The request is signed with the stack-wide media key
(``shared.signed_requests``).

A customer who never wrote by email (no email address, no turn on the email channel)
involves no call at all, so an email adapter that is absent or down never holds up
their erasure; for one who did, an adapter that cannot be reached fails the step with
:class:`DependencyUnavailableError`, and the erasure can be done again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import aiohttp
from pydantic import SecretStr
from rapport.common.v1 import envelope_pb2
from rapport.context.v1 import context_service_pb2 as context_pb

from shared.channels.customer_rights import ERASE_PATH, EXPORT_PATH, CustomerSubject
from shared.errors import ContractError, DependencyUnavailableError
from shared.signed_requests import signed_headers

log = logging.getLogger(__name__)

EMAIL = envelope_pb2.CHANNEL_EMAIL


def email_subject(
    record: context_pb.CustomerRecord, turns: Iterable[context_pb.Turn]
) -> CustomerSubject:
    """What the email adapter may hold about the customer (the files are those of their
    email turns); empty when they never wrote by email, and there is nothing to ask it."""
    addresses = [i.address for i in record.customer.identities if i.channel == EMAIL]
    by_email = [t for t in turns if t.channel == EMAIL]
    files = [a.reference for t in by_email for a in t.attachments if a.reference]
    if not (addresses or by_email):
        return CustomerSubject()
    return CustomerSubject(
        addresses=tuple(dict.fromkeys(addresses)),
        conversation_ids=tuple(dict.fromkeys(record.conversation_ids)),
        attachments=tuple(dict.fromkeys(files)),
    )


class EmailRightsClient:
    """``POST /rights/export`` and ``/rights/erase`` on the email adapter at ``base_url``."""

    def __init__(self, base_url: str, signing_key: SecretStr, *, timeout_seconds: float) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = signing_key.get_secret_value().encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def export(self, subject: CustomerSubject) -> dict[str, Any]:
        """Every row and file the adapter holds about the subject, by table."""
        return await self._post(EXPORT_PATH, subject)

    async def erase(self, subject: CustomerSubject) -> dict[str, int]:
        """Delete them; what was deleted, by kind."""
        answer = await self._post(ERASE_PATH, subject)
        return {kind: int(count) for kind, count in answer["deleted"].items()}

    async def _post(self, path: str, subject: CustomerSubject) -> dict[str, Any]:
        body = subject.body()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(self._key, "POST", path, body),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(self._base_url + path, data=body, headers=headers) as response,
            ):
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DependencyUnavailableError(
                f"the email adapter at {self._base_url} is unreachable: {exc!r}"
            ) from exc
        if status >= 500:
            raise DependencyUnavailableError(f"the email adapter answered {status} to {path}")
        if status != 200:  # a refused signature: the two keys differ, no retry mends it
            raise ContractError(f"the email adapter refused {path} ({status}): {text[:200]}")
        document: dict[str, Any] = json.loads(text)
        return document
