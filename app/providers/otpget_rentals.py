"""OTPGet long-term rentals through `rental-handler.php` (seed 001): pure protocol
translation, no database, no settings.

A rental is bought per (server, country, duration): `provider` 1 or 2 ("Server 1/2"),
`country_code` ISO alpha-2 in lower case, `duration_hours` ∈ 12, 24, 168, 720, 4320, 8640
(Server 2: 720, 4320, 8640 only; OTPGet answers 400 otherwise, which is Rejected). A rental
has two ids: `order_id` (from rentNumber, what getRentalSMS takes) and `rental_id` (the
`id` of getMyRentals, what renewRental takes): `find_rental(order_id)` gives the latter.

OTPGet has no cancel and no early release for rentals (`can_cancel`/`can_finish` False).
A rentNumber or renewRental whose answer was lost is Indeterminate and is never retried:
getMyRentals lists what we hold, so the caller can look for a new order_id there.
getRentalSMS lists every SMS each time: `RentalSms.key` identifies one SMS however often it
is listed (and duplicates inside one answer are dropped here). Phones are kept as OTPGet
gives them (the seed's Canadian rental is "3434337545", with no country prefix): building
E.164 needs the country's dial code, which the catalog has and this module does not.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx

from app.providers.base import Indeterminate, Rejected, Unavailable
from app.providers.otpget_json import (
    CURRENCY,
    Envelope,
    OtpgetJsonHandler,
    decimal,
    integer,
    local_time,
    text,
)

log = logging.getLogger(__name__)

DURATIONS = (12, 24, 168, 720, 4320, 8640)
MONTHLY_ONLY = {2: (720, 4320, 8640)}  # "Server 2 only supports monthly durations"
MONTH_HOURS = 720  # getAvailableRentals' `min_month` counts 30-day months


@dataclass(frozen=True, slots=True)
class RentalCountry:
    provider: int
    country_code: str  # ISO 3166-1 alpha-2, lower case, as OTPGet gives it
    name: str
    upstream_id: str


@dataclass(frozen=True, slots=True)
class RentalPrice:
    provider: int
    country_code: str
    country_name: str
    duration_hours: int
    price: Decimal
    tier_id: str
    currency: str = CURRENCY


@dataclass(frozen=True, slots=True)
class RentalStock:
    provider: int
    area_code: str
    area_title: str
    available: int
    min_month: int  # shortest term sold, in 30-day months (0: any)


@dataclass(frozen=True, slots=True)
class RentalOffer:
    """One (server, country, duration) tier; `upstream_key` is `"P:cc:hours"`."""

    upstream_key: str
    provider: int
    country_code: str
    country_name: str
    duration_hours: int
    cost: Decimal
    available: int
    currency: str = CURRENCY


@dataclass(frozen=True, slots=True)
class RentalPurchase:
    order_id: str
    phone_number: str  # digits as OTPGet gives them
    duration_hours: int
    price_paid: Decimal
    new_balance: Decimal
    expires_at: datetime
    currency: str = CURRENCY


class RentalState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    OTHER = "other"  # a status the seed does not document: see `raw_status`


@dataclass(frozen=True, slots=True)
class RentalRecord:
    rental_id: str  # what renewRental takes
    order_id: str  # what getRentalSMS takes
    provider: int | None  # from "Server 2"; None when the server name says no number
    phone_number: str
    state: RentalState
    raw_status: str
    country_code: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RentalSms:
    key: str  # stable per SMS across listings: store each SMS once by it
    sender: str
    text: str
    code: str | None  # OTPGet's own code when it gives one (often ""): classify the text
    received_at: datetime | None


@dataclass(frozen=True, slots=True)
class RentalRenewal:
    phone_number: str
    duration_hours: int
    price_paid: Decimal
    new_balance: Decimal
    expires_at: datetime  # the new expiry
    currency: str = CURRENCY


def _rows(envelope: Envelope, field: str, what: str) -> list[Any]:
    rows = envelope.data.get(field)
    if not isinstance(rows, list):
        raise Unavailable(f"{what}: no {field!r} list in the answer")
    return rows


def _provider_of(server: Any) -> int | None:
    digits = "".join(ch for ch in str(server) if ch.isdigit())
    return int(digits) if digits else None


def sms_key(sender: str, body: str, code: str, timestamp: str) -> str:
    raw = "\x1f".join((timestamp, sender, body, code)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class OtpgetRentals(OtpgetJsonHandler):
    """OTPGet's rentals at `<base_url>/rental-handler.php`; every method raises only
    `UpstreamError` subclasses."""

    path = "rental-handler.php"
    can_cancel = False  # OTPGet documents no cancel or release for rentals
    can_finish = False
    renewable = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        client: httpx.AsyncClient,
        *,
        code: str = "otpget_rentals",
        zone: tzinfo = UTC,  # the zone of OTPGet's "YYYY-MM-DD HH:MM:SS" stamps
        read_retries: int = 2,
        retry_backoff: float = 0.2,
    ) -> None:
        super().__init__(
            base_url, api_key, client, code=code,
            read_retries=read_retries, retry_backoff=retry_backoff,
        )  # fmt: skip
        self.zone = zone

    # --- catalog ----------------------------------------------------------------------

    async def countries(self, provider: int | None = None) -> tuple[RentalCountry, ...]:
        extra = {"provider": str(provider)} if provider is not None else {}
        return await self._read("getRentalCountries", self._countries, **extra)

    def _countries(self, envelope: Envelope) -> tuple[RentalCountry, ...]:
        what = f"{self.code} getRentalCountries"
        if envelope.status != 200:
            raise self.refusal(envelope, what)
        found = []
        for row in _rows(envelope, "countries", what):
            try:
                found.append(
                    RentalCountry(integer(row["provider"]), text(row["country_code"]).lower(),
                                  text(row["name"]), text(row["id"]))
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                log.warning("%s: skipping country %r", what, row)
        return tuple(found)

    async def pricing(self, country_code: str, provider: int) -> tuple[RentalPrice, ...]:
        def recognise(envelope: Envelope) -> tuple[RentalPrice, ...]:
            what = f"{self.code} getRentalPricing"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            found = []
            for row in _rows(envelope, "pricing", what):
                try:
                    found.append(
                        RentalPrice(provider, country_code, str(row.get("country_name", "")),
                                    integer(row["duration_hours"]), decimal(row["price"]),
                                    text(row["id"]))
                    )  # fmt: skip
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("%s: skipping price %r", what, row)
            return tuple(found)

        return await self._read(
            "getRentalPricing", recognise, country_code=country_code, provider=str(provider)
        )

    async def stock(self, country_code: str, provider: int) -> tuple[RentalStock, ...]:
        def recognise(envelope: Envelope) -> tuple[RentalStock, ...]:
            what = f"{self.code} getAvailableRentals"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            found = []
            for row in _rows(envelope, "available", what):
                try:
                    found.append(
                        RentalStock(provider, text(row["area_code"]).lower(),
                                    str(row.get("area_title", "")), integer(row["available"]),
                                    integer(row.get("min_month", 0)))
                    )  # fmt: skip
                except (KeyError, TypeError, ValueError, AttributeError):
                    log.warning("%s: skipping stock %r", what, row)
            return tuple(found)

        return await self._read(
            "getAvailableRentals", recognise, country_code=country_code, provider=str(provider)
        )

    async def offers(self, provider: int | None = None) -> tuple[RentalOffer, ...]:
        """Every tier sold now: countries, then each one's pricing and live stock. A tier
        shorter than an area's `min_month` gets none of that area's stock."""
        result: list[RentalOffer] = []
        for country in await self.countries(provider):
            try:
                prices = await self.pricing(country.country_code, country.provider)
            except Rejected as exc:  # 404 "No pricing found": nothing sold there now
                log.info("%s: %s %s: %s", self.code, country.provider, country.country_code, exc)
                continue
            stock = await self.stock(country.country_code, country.provider)
            for price in prices:
                # Every area listed for the country counts (the seed's one area is the
                # country itself); an area whose minimum term is longer sells none of this.
                available = sum(
                    s.available for s in stock if price.duration_hours >= s.min_month * MONTH_HOURS
                )
                key = f"{country.provider}:{country.country_code}:{price.duration_hours}"
                result.append(
                    RentalOffer(key, country.provider, country.country_code,
                                price.country_name or country.name, price.duration_hours,
                                price.price, available)
                )  # fmt: skip
        return tuple(result)

    # --- rentals ----------------------------------------------------------------------

    async def rent(self, country_code: str, provider: int, duration_hours: int) -> RentalPurchase:
        """Buy a rental. Never retried: a lost answer is Indeterminate (see getMyRentals)."""

        def recognise(envelope: Envelope) -> RentalPurchase:
            what = f"{self.code} rentNumber"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            d = envelope.data
            try:
                phone = text(d["phone"]).removeprefix("+")
                if not phone.isdigit():
                    raise ValueError(phone)
                return RentalPurchase(
                    text(d["order_id"]), phone, integer(d.get("duration_hours", duration_hours)),
                    decimal(d["price_paid"]), decimal(d["new_balance"]),
                    local_time(d["expires"], self.zone),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                # Status 200: something was sold, but we cannot tell what. Look it up.
                raise Indeterminate(f"{what}: malformed success {self._scrubbed(d)}") from None

        return await self._write(
            "rentNumber", recognise, country_code=country_code, provider=str(provider),
            duration_hours=str(duration_hours),
        )  # fmt: skip

    async def rentals(self) -> tuple[RentalRecord, ...]:
        return await self._read("getMyRentals", self._rentals)

    def _rentals(self, envelope: Envelope) -> tuple[RentalRecord, ...]:
        what = f"{self.code} getMyRentals"
        if envelope.status != 200:
            raise self.refusal(envelope, what)
        found = []
        for row in _rows(envelope, "rentals", what):
            try:
                raw = text(row["status"]).lower()
                try:
                    state = RentalState(raw)
                except ValueError:
                    state = RentalState.OTHER
                expiry = row.get("expiry_time")
                found.append(
                    RentalRecord(
                        text(row["id"]), text(row["order_id"]), _provider_of(row.get("server")),
                        text(row["phone_number"]), state, raw,
                        str(row.get("country_code", "")).lower(),
                        local_time(expiry, self.zone) if expiry else None,
                    )
                )  # fmt: skip
            except (KeyError, TypeError, ValueError, AttributeError):
                log.warning("%s: skipping rental %r", what, self._scrubbed(row))
        return tuple(found)

    async def find_rental(self, order_id: str) -> RentalRecord | None:
        """The getMyRentals row of `order_id` (its `rental_id` is what renew takes)."""
        return next((r for r in await self.rentals() if r.order_id == order_id), None)

    async def messages(self, order_id: str) -> tuple[RentalSms, ...]:
        """Every SMS on the rental, oldest first, each once."""

        def recognise(envelope: Envelope) -> tuple[RentalSms, ...]:
            what = f"{self.code} getRentalSMS"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            seen: dict[str, RentalSms] = {}
            for row in _rows(envelope, "messages", what):
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    log.warning("%s: skipping message %r", what, row)
                    continue
                sender, body = str(row.get("from") or ""), row["text"]
                code, stamp = str(row.get("code") or "").strip(), str(row.get("timestamp") or "")
                try:
                    received = local_time(stamp, self.zone) if stamp else None
                except ValueError:
                    received = None
                key = sms_key(sender, body, code, stamp)
                seen.setdefault(key, RentalSms(key, sender, body, code or None, received))
            oldest = datetime.min.replace(tzinfo=UTC)
            return tuple(sorted(seen.values(), key=lambda m: m.received_at or oldest))

        return await self._read("getRentalSMS", recognise, order_id=order_id)

    async def renew(self, rental_id: str, duration_hours: int) -> RentalRenewal:
        """Extend a rental by `duration_hours`; `rental_id` is getMyRentals' `id`, not the
        order_id. Never retried: a lost answer is Indeterminate (compare the expiry)."""

        def recognise(envelope: Envelope) -> RentalRenewal:
            what = f"{self.code} renewRental"
            if envelope.status != 200:
                raise self.refusal(envelope, what)
            d = envelope.data
            try:
                return RentalRenewal(
                    str(d.get("phone_number", "")),
                    integer(d.get("duration_hours", duration_hours)),
                    decimal(d["price_paid"]), decimal(d["new_balance"]),
                    local_time(d["new_expiry"], self.zone),
                )  # fmt: skip
            except (KeyError, TypeError, ValueError):
                raise Indeterminate(f"{what}: malformed success {self._scrubbed(d)}") from None

        return await self._write(
            "renewRental", recognise, rental_id=rental_id, duration_hours=str(duration_hours)
        )

    def _scrubbed(self, value: Any) -> str:
        return self._http.scrub(repr(value))
