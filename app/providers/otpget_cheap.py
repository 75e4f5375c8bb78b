"""OTPGet cheap numbers through `cheap_handler.php` (seed 001): 15-minute numbers, full
refund on cancel (after 2 minutes, before any SMS).

A "server" is what is bought (`buyNumber` takes only `server` and `type`), so a tier is one
server and its `upstream_key` is `"1:S"` (type 1 is the only one OTPGet supports). Its
country is the part of the server name before " - " ("Pakistan - Server 2" → "Pakistan"),
its service the label `getServices` gives it ("Pakistan Server 2 — ₨50.00"): neither is
an id OTPGet commits to, so the sync maps them by name or reports them for an ops mapping.
Prices are PKR; stock is not published (see `LISTED_STOCK`).
"""

import logging
import re
from decimal import Decimal

import httpx

from app.providers.base import (
    CountryInfo,
    Indeterminate,
    Offer,
    ProviderCatalog,
    Purchase,
    Rejected,
    ServiceInfo,
)
from app.providers.http import Timeouts
from app.providers.otpget import LISTED_STOCK
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

CHEAP_TYPE = "1"  # "type=1 = Server 1 (currently supported)"
RENTAL_SECONDS = 900  # "Numbers are valid for 15 minutes"
# "Pakistan Server 2 — ₨50.00", "X - Rs 1,200", "Y — Free"
_LABEL = re.compile(
    r"^(?P<name>.+?)\s+[-–—]\s+(?:(?:₨|Rs\.?|PKR)\s*(?P<price>[0-9][0-9,]*(?:\.[0-9]+)?)"
    r"|(?P<free>free))\s*$",
    re.IGNORECASE,
)


def parse_cheap_label(label: str) -> tuple[str, Decimal] | None:
    match = _LABEL.match(label.strip())
    if not match:
        return None
    if match.group("free"):
        return match.group("name").strip(), Decimal(0)
    try:
        return match.group("name").strip(), parse_money(match.group("price"))
    except ValueError:
        return None


class OtpgetCheapProvider(OtpgetHandler):
    name = "OTPGet (cheap 15-minute numbers)"
    path = "cheap_handler.php"

    def __init__(
        self,
        settings: OtpgetConfig,
        *,
        code: str = "otpget_cheap",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, code=code, rental_seconds=RENTAL_SECONDS, transport=transport)

    async def catalog(self) -> ProviderCatalog:
        try:
            data = await self._json("getServers", type=CHEAP_TYPE)
        except Rejected as exc:  # NO_SERVERS
            log.info("%s: %s", self.code, exc)
            data = {}
        listed = data.get(CHEAP_TYPE, []) if isinstance(data, dict) else []
        countries: list[CountryInfo] = []
        services: dict[str, ServiceInfo] = {}
        offers: list[Offer] = []
        for entry in listed if isinstance(listed, list) else ():
            server_id, server_name = id_name(entry)
            if server_id is None or server_name is None:
                log.warning("%s: skipping server entry %r", self.code, entry)
                continue
            try:
                labels = await self._json("getServices", server=server_id, type=CHEAP_TYPE)
            except Rejected as exc:  # NO_SERVICES / BAD_SERVER: nothing to buy there now
                log.info("%s: server %s: %s", self.code, server_id, exc)
                continue
            parsed = [
                p
                for p in (
                    parse_cheap_label(v) if isinstance(v, str) else None
                    for v in (labels.values() if isinstance(labels, dict) else ())
                )
                if p is not None
            ]
            if not parsed:
                log.warning("%s: server %s has no priced service: %r", self.code, server_id, labels)
                continue
            # buyNumber cannot choose among several labels: charge the dearest, never less.
            service_name = parsed[0][0]
            cost = max(price for _, price in parsed)
            country_name = server_name.split(" - ")[0].strip()
            countries.append(CountryInfo(server_id, country_name))
            services.setdefault(service_name, ServiceInfo(service_name, service_name))
            offers.append(
                Offer(
                    upstream_key=f"{CHEAP_TYPE}:{server_id}",
                    country_code=server_id,
                    service_code=service_name,
                    operator_code=None,
                    cost=cost,
                    available=LISTED_STOCK,
                    currency=CURRENCY,
                )
            )
        return ProviderCatalog(tuple(countries), tuple(services.values()), (), tuple(offers))

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        kind, _, server_id = upstream_key.partition(":")
        if kind != CHEAP_TYPE or not server_id:
            raise Rejected(f"{self.code}: not a tier key {upstream_key!r}")
        text = await self._write("buyNumber", server=server_id, type=CHEAP_TYPE)
        if "," not in text:
            raise refusal(text, f"{self.code} buyNumber")
        parts = [p.strip() for p in text.split(",")]
        try:
            if len(parts) != 3 or not parts[0] or not parts[2].isdigit():
                raise ValueError(text)
            return Purchase(parts[0], phone_e164(parts[1]))
        except ValueError:
            # Something was sold but we cannot tell what: the reconciler settles the order.
            raise Indeterminate(f"{self.code} buyNumber: malformed {text!r}") from None


def build(settings: OtpgetSettings, timeouts: Timeouts) -> OtpgetCheapProvider:
    return OtpgetCheapProvider(settings.config(timeouts))
