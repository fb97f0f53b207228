"""Rapport's exception tree. Adapters translate library errors into these at the boundary.

    RapportError                 (retriable = False)
    ├── ContractError            a record or request does not match its contract
    ├── InvalidInputError        a person or platform sent something we refuse
    ├── NotFoundError            the customer, conversation... does not exist
    ├── RefusedError             refused because of the state of things (an erased customer)
    └── DependencyUnavailableError  (retriable = True) a broker, service or store is down or slow

The Kafka consumer loop reads ``retriable`` to choose between retrying a record and
sending it to the dead-letter topic.
"""

from __future__ import annotations

from typing import ClassVar


class RapportError(Exception):
    """Root of every error Rapport raises on purpose."""

    retriable: ClassVar[bool] = False


class ContractError(RapportError):
    """A Kafka record or RPC payload that cannot be decoded or breaks its contract."""


class InvalidInputError(RapportError):
    """Input from outside (a customer, a platform) that Rapport refuses, with the reason."""


class NotFoundError(RapportError):
    """What was asked for does not exist."""


class RefusedError(RapportError):
    """Refused because of the state of things, e.g. the customer's data was erased."""


class DependencyUnavailableError(RapportError):
    """A service Rapport depends on did not answer in time; trying again may succeed."""

    retriable: ClassVar[bool] = True
