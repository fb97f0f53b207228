"""Reading a record's value as the event its ``event-type`` header names, with the generated
stubs in ``shared/gen``, for people to read."""

from __future__ import annotations

import functools
import importlib
import pkgutil

import rapport
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message


class UndecodableError(ValueError):
    """The value is not the event its header says; the message says why."""


@functools.cache
def _load_generated_modules() -> None:
    """Register every generated message in the default pool (importing is registering)."""
    for module in pkgutil.walk_packages(rapport.__path__, f"{rapport.__name__}."):
        if module.name.endswith("_pb2"):
            importlib.import_module(module.name)


def decode_event(event_type: str | None, value: bytes | None) -> Message:
    """``value`` parsed as the message ``event_type`` names."""
    if not event_type:
        raise UndecodableError("the record has no event-type header")
    if value is None:
        raise UndecodableError("the record has no value")
    _load_generated_modules()
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(event_type)
    except KeyError:
        raise UndecodableError(f"{event_type} is not a message of Rapport's contracts") from None
    event = message_factory.GetMessageClass(descriptor)()
    try:
        event.ParseFromString(value)
    except DecodeError as error:
        raise UndecodableError(f"the value does not parse as {event_type}: {error}") from error
    return event


def event_json(event: Message) -> str:
    """The event as indented JSON, with the field names of the ``.proto`` files."""
    return json_format.MessageToJson(event, preserving_proto_field_name=True, indent=2)
