"""Decision records: stored as JSON, served as protobuf, each converted once.

The bot's decision records are stored as JSON so that an auditor can read them in the
database, and travel as protobuf. Protobuf's JSON parser is slow pure Python, and the
same records are read again and again: the turn an append has just stored is sent
back to its caller, and every context carries the conversation's recent turns. So the
wire form of recently seen records is kept by their JSON text, which names one record.
"""

from __future__ import annotations

from collections import OrderedDict

from google.protobuf import json_format
from rapport.context.v1 import context_service_pb2 as pb


class DecisionRecords:
    """The JSON of decision records and their wire form, the ``size`` latest remembered."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._wire: OrderedDict[str, bytes] = OrderedDict()

    def to_json(self, record: pb.DecisionRecord) -> str:
        """The record as it is stored."""
        text = json_format.MessageToJson(record, indent=None)
        self._remember(text, record.SerializeToString())
        return text

    def read_into(self, text: str, record: pb.DecisionRecord) -> None:
        """Fill ``record`` from its stored JSON."""
        wire = self._wire.get(text)
        if wire is None:
            wire = json_format.Parse(text, pb.DecisionRecord()).SerializeToString()
            self._remember(text, wire)
        else:
            self._wire.move_to_end(text)
        record.MergeFromString(wire)

    def _remember(self, text: str, wire: bytes) -> None:
        self._wire[text] = wire
        self._wire.move_to_end(text)
        while len(self._wire) > self._size:
            self._wire.popitem(last=False)
