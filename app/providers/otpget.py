"""OTPGet activations through `handler_api.php` (seed 001), provider types 1-6.

Catalog: `getCountries&type=N` per type sold (SMSGATE_OTPGET_TYPES), then
`getServices&country=C&type=N` per country, whose labels are `"WhatsApp - 60 PKR"`.
A tier is (type, country id, service id) and its `upstream_key` is `"N:C:S"`.

Ids: OTPGet does not say whether country ids mean the same country for every type, and a
service id ("Numeric DB ID from getServices") may be per country. So a country's own code is
`"N:C"` (never attaches one type's tier to another type's country; the sync maps it by name
or by an ops mapping) and a service's own code is its name (the only identity that holds
across countries; mapped by slugified name). Prices are PKR.

Stock is not published: a listed tier is offered with `LISTED_STOCK` numbers, and a tier
that is really sold out answers NO_NUMBERS, which routing treats as "next candidate".
"""

import asyncio
import logging
import re
from decimal import Decimal
from typing import Any

import httpx

from app.providers.base import (
    CountryInfo,
    Indeterminate,
    Offer,
    ProviderCatalog,
    Purchase,
    Rejected,
    ServiceInfo,
    Unavailable,
)
from app.providers.http import Timeouts
from app.providers.otpget_common import (
    CURRENCY,
    OtpgetConfig,
    OtpgetHandler,
    OtpgetSettings,
    id_name,
    parse_money,
    phone_e164,
    refusal,
)

log = logging.getLogger(__name__)

LISTED_STOCK = 100  # OTPGet publishes no stock; what a listed tier is assumed to have
CATALOG_CONCURRENCY = 4  # getServices calls in flight during a catalog read
# "WhatsApp - 60 PKR", "Google / Gmail - 1,250.50 PKR": the last " - <amount> PKR" is the price.
_LABEL = re.compile(r"^(?P<name>.+?)\s+[-–—]\s+(?P<price>[0-9][0-9,]*(?:\.[0-9]+)?)\s*PKR\s*$")


def parse_service_label(label: str) -> tuple[str, Decimal] | None:
    match = _LABEL.match(label.strip())
    if not match:
        return None
    try:
        return match.group("name").strip(), parse_money(match.group("price"))
    except ValueError:
        return None


class OtpgetProvider(OtpgetHandler):
    name = "OTPGet (activations)"
    path = "handler_api.php"

    def __init__(
        self,
        settings: OtpgetConfig,
        *,
        code: str = "otpget",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            settings, code=code, rental_seconds=settings.rental_seconds, transport=transport
        )

    async def catalog(self) -> ProviderCatalog:
        countries: dict[str, CountryInfo] = {}
        pending: list[tuple[int, str]] = []
        for kind in self.settings.types:
            data = await self._json("getCountries", type=str(kind))
            listed = data.get(str(kind), []) if isinstance(data, dict) else []
            if not isinstance(listed, list):
                raise Unavailable(f"{self.code} getCountries: unexpected shape for type {kind}")
            for entry in listed:
                country_id, name = id_name(entry)
                if country_id is None or name is None:
                    log.warning("%s: skipping country entry %r", self.code, entry)
                    continue
                countries[f"{kind}:{country_id}"] = CountryInfo(f"{kind}:{country_id}", name)
                pending.append((kind, country_id))

        gate = asyncio.Semaphore(CATALOG_CONCURRENCY)

        async def services_of(kind: int, country_id: str) -> tuple[int, str, Any]:
            async with gate:
                try:
                    data = await self._json("getServices", country=country_id, type=str(kind))
                except Rejected as exc:  # BAD_COUNTRY / NO_SERVICES: nothing sold there now
                    log.info("%s: type %s country %s: %s", self.code, kind, country_id, exc)
                    data = {}
                return kind, country_id, data

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(services_of(k, c)) for k, c in pending]
        services: dict[str, ServiceInfo] = {}
        offers: list[Offer] = []
        for task in tasks:
            kind, country_id, data = task.result()
            for service_id, label in data.items() if isinstance(data, dict) else ():
                parsed = parse_service_label(str(label)) if isinstance(label, str) else None
                if parsed is None:
                    log.warning("%s: skipping service %s label %r", self.code, service_id, label)
                    continue
                name, price = parsed
                services.setdefault(name, ServiceInfo(name, name))
                offers.append(
                    Offer(
                        upstream_key=f"{kind}:{country_id}:{service_id}",
                        country_code=f"{kind}:{country_id}",
                        service_code=name,
                        operator_code=None,
                        cost=price,
                        available=LISTED_STOCK,
                        currency=CURRENCY,
                    )
                )
        return ProviderCatalog(
            tuple(countries.values()), tuple(services.values()), (), tuple(offers)
        )

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        try:
            kind, country_id, service_id = upstream_key.split(":")
        except ValueError:
            raise Rejected(f"{self.code}: not a tier key {upstream_key!r}") from None
        if not kind.isdigit() or int(kind) not in self.settings.types:
            raise Rejected(f"{self.code}: type {kind} is not sold here (SMSGATE_OTPGET_TYPES)")
        text = await self._write("getNumber", service=service_id, country=country_id, type=kind)
        word, _, rest = text.partition(":")
        if word != "ACCESS_NUMBER":
            raise refusal(text, f"{self.code} getNumber")
        order_id, _, phone = rest.partition(":")
        try:
            if not order_id.strip():
                raise ValueError(text)
            return Purchase(order_id.strip(), phone_e164(phone))
        except ValueError:
            # Something was sold but we cannot tell what: the reconciler settles the order.
            raise Indeterminate(f"{self.code} getNumber: malformed {text!r}") from None


def build(settings: OtpgetSettings, timeouts: Timeouts) -> OtpgetProvider:
    return OtpgetProvider(settings.config(timeouts))
