"""What can go wrong in the context store, in the store's own words.

The gRPC layer maps each to a status code: unknown → NOT_FOUND, invalid → INVALID_ARGUMENT,
erased / expired → FAILED_PRECONDITION, already linked → ALREADY_EXISTS.
"""

from __future__ import annotations

from shared.errors import InvalidInputError, RapportError


class UnknownError(RapportError):
    """No customer, conversation, issue or challenge has this id."""


class ErasedError(RapportError):
    """The customer or address was erased; an older event must not bring it back."""


class InvalidAddressError(InvalidInputError):
    """An address that is empty, too long, or not a valid phone number for a phone channel."""


class InvalidSlotError(InvalidInputError):
    """A slot whose name is not a short identifier, or whose value is empty or too long."""


class ConsentChangeError(InvalidInputError):
    """A consent change nobody may make for the customer: opting an SMS number back in
    is for the number itself (its START)."""


class ChallengeError(RapportError):
    """A link challenge that expired, was used, or had too many wrong attempts."""


class WrongCodeError(InvalidInputError):
    """The one-time code does not match."""


class AlreadyLinkedError(RapportError):
    """The identity already belongs to the customer asking."""
