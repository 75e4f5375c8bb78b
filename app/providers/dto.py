"""What adapters hand back, in our vocabulary: frozen DTOs, never raw provider JSON or text.

Ids and codes inside them are the provider's own (`upstream_*`, `country_code` …); money is
in the provider's currency and converted to IDR by the caller through the stored rates.
One section per family; the rental, e-mail and message DTOs are the contract their issues
implement (no adapter fills them yet).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# --- Catalog (shared by every family) -------------------------------------------------------


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
    """Everything one provider sells; `offers` are activation tiers, the other kinds' offers
    stay empty until their families are implemented (one catalog read serves every kind)."""

    countries: tuple[CountryInfo, ...]
    services: tuple[ServiceInfo, ...]
    operators: tuple[OperatorInfo, ...]
    offers: tuple[Offer, ...]
    rentals: tuple["RentalOffer", ...] = ()
    emails: tuple["EmailOffer", ...] = ()


# --- Activations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivationCapabilities:
    """What an activation source can do beyond buy/status/cancel/finish."""

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


Capabilities = ActivationCapabilities  # the name the orders code has always used


# --- Rentals: long-term numbers that receive many SMS ---------------------------------------


@dataclass(frozen=True, slots=True)
class RentalCapabilities:
    cancelable: bool  # can a rental be given back early (OTPGet: never)
    cancel_window_seconds: int = 0  # how long after the start a cancel is accepted
    renewable: bool = True


@dataclass(frozen=True, slots=True)
class RentalOffer:
    """One rental the provider sells: a country for a duration, at `cost` in `currency`."""

    upstream_key: str
    country_code: str  # the provider's country id (CountryInfo.code)
    duration_hours: int
    cost: Decimal
    available: int
    currency: str = "IDR"


@dataclass(frozen=True, slots=True)
class Rental:
    upstream_rental_id: str
    phone_number: str  # E.164, with '+'
    expires_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class RentalMessage:
    """One SMS a rented number received; a source returns the whole list every time."""

    sender: str
    text: str
    received_at: datetime | None
    code: str | None = None  # when the provider extracted one; else the gateway classifies


@dataclass(frozen=True, slots=True)
class RentalRenewal:
    expires_at: datetime  # UTC
    cost: Money


# --- E-mail activations --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmailOffer:
    """An address for one service (`service_code`) or on one domain, at `cost`."""

    upstream_key: str
    domain: str
    service_code: str | None
    cost: Decimal
    available: int
    currency: str = "IDR"


@dataclass(frozen=True, slots=True)
class EmailPurchase:
    upstream_email_id: str
    address: str


class EmailState(StrEnum):
    WAITING = "waiting"
    RECEIVED = "received"  # a code arrived: the activation is complete
    CANCELED = "canceled"  # ended upstream and refunded by them


@dataclass(frozen=True, slots=True)
class EmailStatus:
    state: EmailState
    codes: tuple[str, ...] = ()


# --- Outbound messages ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SenderCapabilities:
    status_lookup: bool  # can a message's status be asked for (SMSC yes, Ginota no)
    pushes_reports: bool  # does the provider push delivery reports to us
    max_reference_length: int = 20  # our reference as the provider accepts it


class DeliveryState(StrEnum):
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    UNDELIVERED = "UNDELIVERED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    reference: str  # ours, passed upstream so a lost answer can be looked up
    destination: str  # E.164, with '+'
    text: str
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class MessageQuote:
    cost: Money
    segments: int


@dataclass(frozen=True, slots=True)
class SentMessage:
    upstream_message_id: str
    segments: int
    cost: Money | None  # None when the provider reports no price (Ginota)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A pushed report, parsed; untrusted input, never trusted for money."""

    upstream_message_id: str | None
    reference: str | None
    state: DeliveryState
