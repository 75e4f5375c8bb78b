"""What every upstream adapter offers, in our vocabulary.

Adapters receive their configuration and the shared HTTP client in `__init__`; they never
read Settings or touch the database. Everything they return is a frozen DTO below.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CountryInfo:
    code: str  # ISO 3166-1 alpha-2, upper case
    name: str
    dial_code: str  # digits only
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    code: str  # canonical slug, e.g. "whatsapp"
    name: str


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    country_code: str
    code: str
    name: str
    local_name: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """One tier the provider sells: identified by `upstream_key`, stable across syncs."""

    upstream_key: str
    country_code: str
    service_code: str
    operator_code: str | None
    cost: int  # IDR the provider charges per number
    available: int


@dataclass(frozen=True, slots=True)
class ProviderCatalog:
    countries: tuple[CountryInfo, ...]
    services: tuple[ServiceInfo, ...]
    operators: tuple[OperatorInfo, ...]
    offers: tuple[Offer, ...]


class Provider(Protocol):
    """An upstream seller of virtual numbers.

    `code` is the stable identifier used in settings, in the providers table and by
    clients' `prefer_provider`; `name` is for people.
    """

    code: str
    name: str

    async def catalog(self) -> ProviderCatalog:
        """Everything the provider sells now, with costs converted to IDR."""
        ...
