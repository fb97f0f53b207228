"""Where a customer who writes of harming themselves can get help now: the business's
list of crisis services by country (``crisis_resources.yaml``), and the country a
customer is most likely in. Pure apart from reading the file once at start.

The country comes from a phone number the customer wrote from (its calling code says
where it was issued), else from the region of the locale their browser or app sent
("pt-BR" → BR); with neither, the list's ``default`` serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import phonenumbers
import yaml
from rapport.common.v1 import envelope_pb2

from shared.channel_names import PHONE_CHANNELS

DEFAULT_CRISIS_RESOURCES = Path(__file__).resolve().parent / "crisis_resources.yaml"
DEFAULT = "default"


class CrisisResourcesError(ValueError):
    """The crisis resources file is malformed; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class Helplines:
    emergency: str  # the number to call when life is in danger right now
    resources: tuple[str, ...]  # services to talk to now: "Samaritans: 116 123"


@dataclass(frozen=True, slots=True)
class CrisisResources:
    by_country: Mapping[str, Helplines]  # ISO 3166 alpha-2, and "default"

    @classmethod
    def load(cls, path: Path = DEFAULT_CRISIS_RESOURCES) -> CrisisResources:
        """Read and check the file; a mistake in it stops the service at start-up."""
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or DEFAULT not in document:
            raise CrisisResourcesError(f"{path}: needs a '{DEFAULT}' entry")
        return cls({str(k): _helplines(path, str(k), v) for k, v in document.items()})

    def for_country(self, country: str) -> Helplines:
        return self.by_country.get(country.upper(), self.by_country[DEFAULT])


def _helplines(path: Path, country: str, raw: Any) -> Helplines:
    where = f"{path}: {country}"
    if country != DEFAULT and (len(country) != 2 or not country.isupper()):
        raise CrisisResourcesError(f"{where}: a country is a two-letter ISO code such as FR")
    if not isinstance(raw, dict):
        raise CrisisResourcesError(f"{where}: must have 'emergency' and 'resources'")
    emergency = raw.get("emergency")
    resources = raw.get("resources")
    if not isinstance(emergency, str) or not emergency.strip():
        raise CrisisResourcesError(f"{where}.emergency: must be a phone number as text")
    if (
        not isinstance(resources, list)
        or not resources
        or not all(isinstance(r, str) and r.strip() for r in resources)
    ):
        raise CrisisResourcesError(f"{where}.resources: must be a non-empty list of text")
    return Helplines(emergency.strip(), tuple(r.strip() for r in resources))


def _region_of_phone(address: str) -> str:
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return ""
    # A number the metadata cannot place exactly still names its country by calling code.
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    return region if region.isalpha() and region != phonenumbers.UNKNOWN_REGION else ""


def _region_of_locale(locale: str) -> str:
    """ "pt-BR" and "pt_BR" → "BR"; a bare language ("fr") says no country."""
    parts = locale.replace("_", "-").split("-")
    region = parts[-1] if len(parts) > 1 else ""
    return region.upper() if len(region) == 2 and region.isalpha() else ""


def country_of(
    channel: envelope_pb2.Channel,
    address: str,
    identities: Iterable[tuple[envelope_pb2.Channel, str]],
    locale_hint: str,
) -> str:
    """The customer's most likely country ("" unknown): the phone they write from, a
    phone identity they have, else the region of their locale."""
    phones = [address] if channel in PHONE_CHANNELS else []
    phones += [a for c, a in identities if c in PHONE_CHANNELS]
    for phone in phones:
        region = _region_of_phone(phone)
        if region:
            return region
    return _region_of_locale(locale_hint)
