"""A fake OTPGet `email_handler.php` (seed 001), mounted on a `FakeOtpget` so one fake
serves all four handlers under one base URL, sharing its wallet, key, clock and faults.

    otpget = FakeOtpget(api_key="k", clock=clock)
    emails = FakeOtpgetEmail(otpget)                 # mounts /stubs/email_handler.php
    client = httpx.AsyncClient(transport=otpget.transport())

Every answer is HTTP 200 with a compact JSON envelope `{"status":"200","message":...}`;
money is a JSON number with two decimals (`"price":120.00`), as in the seed. Server 1 sells
per-service Gmail addresses (`service_id` + `domain`), Server 2 addresses of a domain
(`domain` + optional `site`).

State: Server 1's services per domain and Server 2's domains (price, count), activations
(`activations`, by email_id), the wallet (`otpget.balance`, PKR).
Drivers: `deliver_code(email_id, code)` makes the code arrive when the test says so.
Switches: `set_count(server, key, n)` (key: a service code on Server 1, a domain on
Server 2; 0 answers 404 "No stock available"), `disabled` (503), `api_down` (500 "API
connection error"), `no_email` (500 "No email available"), `database_error` (500),
`substitute` (Server 2 sells another domain than asked, as the seed's example does: asked
gmail.com, got gmx.com), `fail_with(status, message, action=)`, `numeric_status` (status
as a JSON number), `mirror_http_status`, `otpget.blocked`, a wrong key, and the base faults.

Where the seed is silent the fake decides, and says so:
- success messages; a code's message entry is `{"code","text","from","date"}` (the seed
  reads only `messages[0]['code']`);
- cancelEmail with no code: 200 "Email activation cancelled and refunded."; with a code:
  200 "OTP already received" carrying `code` (the activation is complete, nothing
  refunded); on a canceled one: 300 "Cancelled";
- an activation is found only under the server it was bought from;
- history rows are `{"email_id","email_address","service","domain","price","code",
  "status","server","created_at"}`, newest first, with status waiting | received |
  cancelled | completed.
"""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.fakes.base import Call, Num, Reply, compact_json
from tests.fakes.otpget import FakeOtpget

PATH = "/stubs/email_handler.php"
PAGE_SIZE = 20
SERVER1 = {  # domain -> [(service_code, service_name, price, count)]
    "gmail.com": [("ig", "Instagram", "120.00", 48), ("tg", "Telegram", "95.00", 120)],
}
SERVER2 = [
    ("gmail.com", "15.60", 82000),
    ("mail.com", "1.17", 990125),
    ("gmx.com", "1.17", 1615245),
]
LOCAL_PARTS = ["cudaqibeve", "mopilexa", "tiruvanok", "belqosimu"]


@dataclass
class FakeEmail:
    email_id: str
    server: int
    email: str
    service: str
    domain: str
    site: str | None
    price: Decimal
    created_at: float
    code: str | None = None
    status: str = "waiting"  # waiting | received | cancelled | completed


class FakeOtpgetEmail:
    def __init__(self, otpget: FakeOtpget) -> None:
        self.otpget = otpget
        self.activations: dict[str, FakeEmail] = {}
        self.counts: dict[tuple[int, str], int] = {}
        for services in SERVER1.values():
            self.counts.update({(1, code): count for code, _, _, count in services})
        self.counts.update({(2, domain): count for domain, _, count in SERVER2})
        self.disabled = False
        self.api_down = False
        self.no_email = False
        self.database_error = False
        self.numeric_status = False
        self.mirror_http_status = False
        self.substitute: dict[str, str] = {}
        self._envelopes: list[tuple[str | None, str, str]] = []
        self._ids = {1: itertools.count(7291834), 2: itertools.count(48291034)}
        self._names = {1: itertools.count(), 2: itertools.count()}
        otpget.mount(PATH, self.handle)

    # --- switches and drivers ---------------------------------------------------------

    def set_count(self, server: int, key: str, count: int) -> None:
        self.counts[(server, key)] = count

    def fail_with(self, status: str, message: str, *, action: str | None = None) -> None:
        """The next request (of `action`) answers this envelope instead of its real one."""
        self._envelopes.append((action, status, message))

    def deliver_code(self, email_id: str, code: str) -> None:
        activation = self.activations[email_id]
        activation.code, activation.status = code, "received"

    def calls(self) -> list[Call]:
        return [c for c in self.otpget.calls if c.path == PATH]

    # --- protocol ---------------------------------------------------------------------

    def handle(self, call: Call) -> Reply:
        for i, (action, status, message) in enumerate(self._envelopes):
            if action in (None, call.action):
                del self._envelopes[i]
                return self._reply(status, message)
        if not call.authorized:
            return self._reply("401", "BAD_KEY")
        if self.otpget.blocked:
            return self._reply("403", "ACCOUNT_BLOCKED")
        handler = getattr(self, f"_{call.action}", None) if call.action else None
        if handler is None:
            return self._reply("400", "BAD_ACTION")
        if self.disabled and call.action != "getEmailHistory":
            return self._reply("503", "Email service disabled")
        p = call.params
        server = p.get("server") or "1"  # "server=1 (default)"
        if server not in ("1", "2") and call.action != "getEmailHistory":
            return self._reply("400", "Invalid server.")
        reply: Reply = handler(int(server) if server in ("1", "2") else 1, p)
        return reply

    def _getEmailServices(self, server: int, p: dict[str, Any]) -> Reply:  # noqa: N802
        if server == 2:
            rows = [{"domain": d, "price": Num(price), "count": self.counts[(2, d)]}
                    for d, price, _ in SERVER2]  # fmt: skip
            return self._reply("200", "OK", domains=rows)
        services = SERVER1.get(p.get("domain") or "gmail.com")
        if services is None:
            return self._reply("404", "Service not available")
        rows = [
            {"service_code": code, "service_name": name, "price": Num(price),
             "count": self.counts[(1, code)]}
            for code, name, price, _ in services
        ]  # fmt: skip
        return self._reply("200", "OK", services=rows)

    def _buyEmail(self, server: int, p: dict[str, Any]) -> Reply:  # noqa: N802
        site = p.get("site") or None
        if server == 1:
            if not p.get("service_id"):
                return self._reply("400", "service_id is required")
            domain = p.get("domain") or "gmail.com"
            offer = next((s for s in SERVER1.get(domain, []) if s[0] == p["service_id"]), None)
            if offer is None:
                return self._reply("404", "Service not available")
            key, service, price = offer[0], offer[1], Decimal(offer[2])
        else:
            if not p.get("domain"):
                return self._reply("400", "domain is required")
            domain = self.substitute.get(p["domain"], p["domain"])
            row = next((d for d in SERVER2 if d[0] == domain), None)
            if row is None:
                return self._reply("404", "Service not available")
            key, service, price = domain, "Email Activation", Decimal(row[1])
        if self.counts.get((server, key), 0) <= 0:
            return self._reply("404", "No stock available")
        if self.otpget.balance < price:
            return self._reply(
                "402", f"Insufficient balance. Need: {price:.2f} — Have: {self.otpget.balance:.2f}"
            )
        for broken, message in ((self.api_down, "API connection error"),
                                (self.no_email, "No email available"),
                                (self.database_error, "Database error")):  # fmt: skip
            if broken:
                return self._reply("500", message)
        self.counts[(server, key)] -= 1
        self.otpget.balance -= price
        n = next(self._names[server])
        local = f"temp.abc{123 + n}" if server == 1 else LOCAL_PARTS[n % len(LOCAL_PARTS)]
        activation = FakeEmail(
            str(next(self._ids[server])), server, f"{local}@{domain}", service, domain, site,
            price, self.otpget.clock(),
        )  # fmt: skip
        self.activations[activation.email_id] = activation
        return self._reply(
            "200", "Email purchased successfully.",
            email_id=activation.email_id, email=activation.email, service=service,
            domain=domain, price=Num(f"{price:.2f}"),
            balance=Num(f"{self.otpget.balance:.2f}"), server=server,
        )  # fmt: skip

    def _getEmailCode(self, server: int, p: dict[str, Any]) -> Reply:  # noqa: N802
        found = self._find(server, p)
        if isinstance(found, Reply):
            return found
        if found.status == "cancelled":
            return self._reply("300", "Cancelled")
        if found.code is None:
            return self._reply("202", "Waiting for code...")
        return self._reply("200", "Code received", messages=[self._message(found)])

    def _cancelEmail(self, server: int, p: dict[str, Any]) -> Reply:  # noqa: N802
        found = self._find(server, p)
        if isinstance(found, Reply):
            return found
        if found.status == "cancelled":
            return self._reply("300", "Cancelled")
        if found.code is not None:
            found.status = "completed"
            return self._reply("200", "OTP already received", code=found.code)
        found.status = "cancelled"
        self.otpget.balance += found.price
        return self._reply("200", "Email activation cancelled and refunded.")

    def _getEmailHistory(self, server: int, p: dict[str, Any]) -> Reply:  # noqa: N802
        page = int(p["page"]) if p.get("page", "").isdigit() and int(p["page"]) > 0 else 1
        newest = sorted(self.activations.values(), key=lambda a: (a.created_at, a.email_id))
        newest.reverse()
        rows = [
            {"email_id": a.email_id, "email_address": a.email, "service": a.service,
             "domain": a.domain, "price": Num(f"{a.price:.2f}"), "code": a.code or "",
             "status": a.status, "server": a.server,
             "created_at": datetime.fromtimestamp(a.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")}
            for a in newest[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        ]  # fmt: skip
        return self._reply("200", "OK", page=page, history=rows)

    # --- helpers ----------------------------------------------------------------------

    def _find(self, server: int, p: dict[str, Any]) -> FakeEmail | Reply:
        if not p.get("email_id"):
            return self._reply("400", "email_id is required")
        found = self.activations.get(p["email_id"])
        if found is None or found.server != server:
            return self._reply("404", "Email activation not found")
        return found

    def _message(self, activation: FakeEmail) -> dict[str, str]:
        return {
            "code": activation.code or "",
            "text": f"Your {activation.service} verification code is {activation.code}",
            "from": "no-reply@verify.example",
            "date": datetime.fromtimestamp(self.otpget.clock(), UTC).strftime("%Y-%m-%d %H:%M:%S"),
        }

    def _reply(self, status: str, message: str, **data: Any) -> Reply:
        http = int(status) if self.mirror_http_status and int(status) >= 400 else 200
        shown: Any = Num(status) if self.numeric_status else status
        return Reply(http, compact_json({"status": shown, "message": message, **data}),
                     "application/json")  # fmt: skip
