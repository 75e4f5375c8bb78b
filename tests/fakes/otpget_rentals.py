"""A fake OTPGet `rental-handler.php` (seed 001), mounted on a `FakeOtpget` so one fake
serves all four handlers under one base URL, sharing its wallet, key, clock and faults.

    otpget = FakeOtpget(api_key="k", clock=clock)
    rentals = FakeOtpgetRentals(otpget)              # mounts /stubs/rental-handler.php
    client = httpx.AsyncClient(transport=otpget.transport())

Every answer is HTTP 200 with a compact JSON envelope `{"status":"200","message":...}`
(the seed: "Check status === "200" for success"); errors carry the seed's status and
message ("Invalid API key.", "Insufficient balance.", ...).

State: countries, pricing and live stock per server (`provider` 1 or 2), rentals with their
SMS over time (`deliver_sms`), the wallet (`otpget.balance`, PKR).
Switches: `set_stock(provider, country, n)` (0: no stock), `disabled` (503 for a server),
`upstream_error` (502 for a server), `database_error` (500, nothing deducted),
`duplicate_sms` (every SMS listed twice), `fail_with(status, message, action=)` (one
envelope verbatim), `mirror_http_status` (the HTTP status equals the envelope's, as a PHP
`http_response_code` would), `otpget.blocked`, a wrong key, and the base faults
(`otpget.fail_next("html"|"garbage"|"lost"|"slow"|...)`).

Where the seed is silent the fake decides, and says so:
- a success envelope's message ("OK", "Number rented successfully.", "Rental renewed.");
- rentNumber with no stock answers 502 "Server N error: NO_NUMBERS" (OTPGet relays its own
  upstream's refusal, as it does for other upstream errors);
- a rental past its expiry lists as "expired"; renewing one answers 400;
- an SMS's "from" is the server name, as in the seed's only example ("from":"Server 2");
- the HTTP status is 200 unless `mirror_http_status`.
"""

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.fakes.base import Call, Num, Reply, compact_json
from tests.fakes.otpget import FakeOtpget

PATH = "/stubs/rental-handler.php"
DURATIONS = (12, 24, 168, 720, 4320, 8640)
MONTHLY = (720, 4320, 8640)  # "Server 2: only 720, 4320, 8640 accepted"
COUNTRIES = [  # (id, provider, name, country_code): the seed's two Server 2 rows first
    ("1", 2, "Canada", "ca"),
    ("6", 2, "United States of America", "us"),
    ("3", 1, "United Kingdom", "gb"),
    ("4", 1, "Canada", "ca"),
]
PRICING = {  # (provider, country_code) -> [(id, duration_hours, price PKR)]
    (2, "ca"): [("1", 720, "840.00"), ("2", 4320, "5040.00")],
    (2, "us"): [("3", 720, "960.00"), ("4", 8640, "11000.00")],
    (1, "gb"): [("5", 12, "150.00"), ("6", 24, "250.00"), ("7", 168, "1200.00")],
    (1, "ca"): [("8", 24, "260.00"), ("9", 720, "900.00")],
}
STOCK = {  # (provider, country_code) -> (area_title, available, min_month)
    (2, "ca"): ("Canada", 3338, 1),
    (2, "us"): ("United States of America", 1200, 1),
    (1, "gb"): ("United Kingdom", 40, 0),
    (1, "ca"): ("Canada", 12, 0),
}
PHONE_BASE = {"ca": 3434337545, "us": 2025550100, "gb": 7700900100}


@dataclass
class FakeRental:
    id: str  # what renewRental takes as rental_id
    order_id: str  # what getRentalSMS takes
    provider: int
    country_code: str
    phone: str
    expires_at: float
    messages: list[dict[str, str]] = field(default_factory=list)
    status: str = "active"


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


class FakeOtpgetRentals:
    def __init__(self, otpget: FakeOtpget) -> None:
        self.otpget = otpget
        self.rentals: dict[str, FakeRental] = {}  # by order_id
        self.stock = {k: v[1] for k, v in STOCK.items()}
        self.disabled: set[int] = set()
        self.upstream_error: dict[int, str] = {}
        self.database_error = False
        self.duplicate_sms = False
        self.mirror_http_status = False
        self._envelopes: list[tuple[str | None, str, str]] = []
        self._ids = itertools.count(27)
        self._order_ids = itertools.count(2673093356180000583)
        self._phones = itertools.count()
        otpget.mount(PATH, self.handle)

    # --- switches and drivers ---------------------------------------------------------

    def set_stock(self, provider: int, country_code: str, count: int) -> None:
        self.stock[(provider, country_code)] = count

    def fail_with(self, status: str, message: str, *, action: str | None = None) -> None:
        """The next request (of `action`) answers this envelope instead of its real one."""
        self._envelopes.append((action, status, message))

    def deliver_sms(
        self, order_id: str, text: str, *, code: str = "", at: float | None = None
    ) -> None:
        rental = self.rentals[order_id]
        when = datetime.fromtimestamp(self.otpget.clock() if at is None else at, UTC)
        rental.messages.append(
            {"from": f"Server {rental.provider}", "text": text, "code": code,
             "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
        )  # fmt: skip

    def calls(self) -> list[Call]:
        return [c for c in self.otpget.calls if c.path == PATH]

    # --- protocol ---------------------------------------------------------------------

    def handle(self, call: Call) -> Reply:
        for i, (action, status, message) in enumerate(self._envelopes):
            if action in (None, call.action):
                del self._envelopes[i]
                return self._error(status, message)
        if not call.authorized:
            return self._error("401", "Invalid API key.")
        if self.otpget.blocked:
            return self._error("403", "Account is blocked or inactive.")
        p = call.params
        handler = getattr(self, f"_{call.action}", None) if call.action else None
        if handler is None:
            return self._error("400", f"Unknown action: {call.action}")
        reply: Reply = handler(p)
        return reply

    def _getRentalCountries(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        wanted = p.get("provider", "")
        rows = [
            {"id": i, "provider": str(prov), "name": name, "country_code": cc}
            for i, prov, name, cc in COUNTRIES
            if not wanted or str(prov) == wanted
        ]
        return self._ok("OK", countries=rows)

    def _getRentalPricing(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        where = self._where(p)
        if isinstance(where, Reply):
            return where
        name = STOCK.get(where, ("", 0, 0))[0]
        rows = [
            {"id": i, "duration_hours": str(h), "price": price, "country_name": name}
            for i, h, price in PRICING.get(where, [])
        ]
        if not rows:
            return self._error("404", "No pricing found for this country/provider.")
        return self._ok("OK", pricing=rows)

    def _getAvailableRentals(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        where = self._where(p)
        if isinstance(where, Reply):
            return where
        if where not in STOCK:
            return self._ok("OK", available=[])
        title, _, min_month = STOCK[where]
        return self._ok(
            "OK",
            available=[{"area_code": where[1], "area_title": title,
                        "available": self.stock[where], "min_month": min_month}],
        )  # fmt: skip

    def _rentNumber(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        where = self._where(p, "duration_hours")
        if isinstance(where, Reply):
            return where
        provider, country = where
        hours, bad = self._duration(provider, p["duration_hours"])
        if bad:
            return bad
        price = self._price(provider, country, hours)
        if price is None:
            return self._error("404", "No pricing found for this country/provider/duration.")
        refused = self._charge(provider, price, where)
        if refused:
            return refused
        self.stock[where] -= 1
        now = self.otpget.clock()
        rental = FakeRental(
            str(next(self._ids)), str(next(self._order_ids)), provider, country,
            str(PHONE_BASE.get(country, 5550000000) + next(self._phones)), now + hours * 3600,
        )  # fmt: skip
        self.rentals[rental.order_id] = rental
        return self._ok(
            "Number rented successfully.",
            phone=rental.phone, order_id=rental.order_id, duration_hours=Num(str(hours)),
            price_paid=f"{price:.2f}", new_balance=f"{self.otpget.balance:.2f}",
            expires=stamp(rental.expires_at),
        )  # fmt: skip

    def _getMyRentals(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        rows = []
        for r in self.rentals.values():
            self._age(r)
            rows.append(
                {"id": r.id, "server": f"Server {r.provider}", "phone_number": r.phone,
                 "order_id": r.order_id, "status": r.status, "country_code": r.country_code,
                 "expiry_time": stamp(r.expires_at)}
            )  # fmt: skip
        return self._ok("OK", rentals=rows)

    def _getRentalSMS(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        if not p.get("order_id"):
            return self._error("400", "order_id is required.")
        rental = self.rentals.get(p["order_id"])
        if rental is None:
            return self._error("404", "Rental not found or does not belong to you.")
        messages = [m for m in rental.messages for _ in range(2 if self.duplicate_sms else 1)]
        return self._ok("OK", messages=messages)

    def _renewRental(self, p: dict[str, Any]) -> Reply:  # noqa: N802
        for name in ("rental_id", "duration_hours"):
            if not p.get(name):
                return self._error("400", f"{name} is required.")
        rental = next((r for r in self.rentals.values() if r.id == p["rental_id"]), None)
        if rental is None:
            return self._error("404", "Rental not found or does not belong to you.")
        if rental.provider in self.disabled:
            return self._error("503", f"Server {rental.provider} is currently unavailable.")
        hours, bad = self._duration(rental.provider, p["duration_hours"])
        if bad:
            return bad
        self._age(rental)
        if rental.status != "active":
            return self._error("400", "Only active rentals can be renewed.")
        price = self._price(rental.provider, rental.country_code, hours)
        if price is None:
            return self._error("404", "No pricing found for this country/provider/duration.")
        refused = self._charge(rental.provider, price)
        if refused:
            return refused
        rental.expires_at += hours * 3600
        return self._ok(
            "Rental renewed.",
            phone_number=rental.phone, duration_hours=Num(str(hours)),
            price_paid=f"{price:.2f}", new_balance=f"{self.otpget.balance:.2f}",
            new_expiry=stamp(rental.expires_at),
        )  # fmt: skip

    # --- helpers ----------------------------------------------------------------------

    def _where(self, p: dict[str, Any], *more: str) -> tuple[int, str] | Reply:
        for name in ("country_code", "provider", *more):
            if not p.get(name):
                return self._error("400", f"{name} is required.")
        if p["provider"] not in ("1", "2"):
            return self._error("400", "provider must be 1 or 2.")
        provider = int(p["provider"])
        if provider in self.disabled:
            return self._error("503", f"Server {provider} is currently unavailable.")
        return provider, p["country_code"].lower()

    def _duration(self, provider: int, raw: str) -> tuple[int, Reply | None]:
        hours = int(raw) if raw.isdigit() else 0
        if provider == 2 and hours not in MONTHLY:
            message = "Server 2 only supports monthly durations (720, 4320, 8640 hours)."
            return hours, self._error("400", message)
        if hours not in DURATIONS:
            return hours, self._error("400", "Invalid duration_hours.")
        return hours, None

    @staticmethod
    def _price(provider: int, country: str, hours: int) -> Decimal | None:
        rows = PRICING.get((provider, country), [])
        return next((Decimal(price) for _, h, price in rows if h == hours), None)

    def _charge(
        self, provider: int, price: Decimal, where: tuple[int, str] | None = None
    ) -> Reply | None:
        if self.otpget.balance < price:
            return self._error("402", "Insufficient balance.")
        if self.database_error:
            return self._error("500", "Database error: deadlock found when trying to get lock")
        if provider in self.upstream_error:
            return self._error("502", f"Server {provider} error: {self.upstream_error[provider]}")
        if where is not None and self.stock.get(where, 0) <= 0:
            return self._error("502", f"Server {provider} error: NO_NUMBERS")
        self.otpget.balance -= price
        return None

    def _age(self, rental: FakeRental) -> None:
        if rental.status == "active" and self.otpget.clock() >= rental.expires_at:
            rental.status = "expired"

    def _ok(self, message: str, **data: Any) -> Reply:
        return Reply(200, compact_json({"status": "200", "message": message, **data}),
                     "application/json")  # fmt: skip

    def _error(self, status: str, message: str) -> Reply:
        http = int(status) if self.mirror_http_status and status.isdigit() else 200
        body = compact_json({"status": status, "message": message})
        return Reply(http, body, "application/json")
