"""What every upstream adapter offers, in our vocabulary.

Adapters receive their configuration and the shared HTTP client in `__init__`; they never
read Settings or touch the database. Everything they return is a frozen DTO below.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CountryInfo:
    """A country as the provider names it. `code` is the provider's own id for it (OTPGet
    "61", smscode "ID"); the catalog sync maps it to an ISO code: an ops mapping first,
    then `iso_code` when the provider states it, then an exact country-name lookup."""

    code: str
    name: str
    dial_code: str | None = None  # digits only, when the provider tells
    emoji: str | None = None
    iso_code: str | None = None  # ISO 3166-1 alpha-2, when the provider states it


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A service as the provider names it. `code` is the provider's own id; the sync maps
    it to a canonical slug: an ops mapping first, then `slug`, then the slugified name."""

    code: str
    name: str
    slug: str | None = None


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    country_code: str  # the provider's country id (CountryInfo.code)
    code: str
    name: str
    local_name: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """One tier the provider sells: identified by `upstream_key`, stable across syncs.

    `country_code` and `service_code` are the provider's own ids (CountryInfo.code,
    ServiceInfo.code). `cost` is in the provider's `currency`; the sync converts it to IDR
    through the stored exchange rates.
    """

    upstream_key: str
    country_code: str
    service_code: str
    operator_code: str | None
    cost: Decimal
    available: int
    currency: str = "IDR"


@dataclass(frozen=True, slots=True)
class ProviderCatalog:
    countries: tuple[CountryInfo, ...]
    services: tuple[ServiceInfo, ...]
    operators: tuple[OperatorInfo, ...]
    offers: tuple[Offer, ...]


# --- Ordering -----------------------------------------------------------------------------


class UpstreamError(Exception):
    """Base of the normalized taxonomy. Nothing else leaves an adapter."""

    retry_after: float | None = None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class Unavailable(UpstreamError):
    """Timeouts before sending, 5xx, garbage: nothing happened upstream. Retry or fail over."""


class Indeterminate(UpstreamError):
    """The request may have been carried out (a timeout after sending, a reset): look it up."""


class Rejected(UpstreamError):
    """The provider refused this request (no numbers, bad service): try the next candidate."""


class OutOfFunds(UpstreamError):
    """Our account at the provider cannot pay."""


class ConfigError(UpstreamError):
    """Wrong key or configuration: the provider must be disabled until fixed."""


class CancelTooEarly(UpstreamError):
    """The provider will not cancel yet (its minimum window)."""


class NotSupported(UpstreamError):
    """The provider does not offer this operation."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    resend: bool
    reactivate: bool
    min_cancel_seconds: int  # no cancel before this long after purchase
    rental_seconds: int  # how long a number is ours
    resend_cooldown_seconds: int = 60


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a provider's currency (converted to IDR by the caller)."""

    amount: Decimal
    currency: str = "IDR"


@dataclass(frozen=True, slots=True)
class Purchase:
    upstream_order_id: str
    phone_number: str  # E.164, with '+'


class UpstreamState(StrEnum):
    WAITING = "waiting"  # no SMS yet, or waiting for another after a resend
    RECEIVED = "received"
    CANCELED = "canceled"  # the provider ended it (refunded by them)
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    state: UpstreamState
    messages: tuple[str, ...] = ()  # every SMS text so far, oldest first


class Provider(Protocol):
    """An upstream seller of virtual numbers.

    `code` is the stable identifier used in settings, in the providers table and by
    clients' `prefer_provider`; `name` is for people. `reference` is our order id: adapters
    that can pass it upstream, so `find_purchase` can tell whether a purchase whose answer
    was lost happened. Every method raises only `UpstreamError` subclasses.
    """

    code: str
    name: str
    capabilities: Capabilities

    async def catalog(self) -> ProviderCatalog:
        """Everything the provider sells now, in the provider's own ids and currency."""
        ...

    async def balance(self) -> Money | None:
        """Our balance at the provider, in its currency, when it tells."""
        ...

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        """Buy one number of the tier `upstream_key`."""
        ...

    async def find_purchase(self, reference: str) -> Purchase | None:
        """The purchase made under `reference`, if the provider has it."""
        ...

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        """Where the activation is, with every SMS so far."""
        ...

    async def cancel(self, upstream_order_id: str) -> None:
        """Give the number back before any SMS (the provider refunds us)."""
        ...

    async def finish(self, upstream_order_id: str) -> None:
        """Release the number after use."""
        ...

    async def resend(self, upstream_order_id: str) -> bool:
        """Ask for another SMS; False when the provider does not support it."""
        ...

    async def reactivation_cost(self, upstream_order_id: str) -> Money:
        """What the provider charges to reactivate this number now; Rejected if it can't."""
        ...

    async def reactivate(self, upstream_order_id: str, reference: str) -> Purchase:
        """Another activation on the same number."""
        ...
