"""A fake OTPGet speaking `handler_api.php` and `cheap_handler.php` (seed 001) byte for byte.

    fake = FakeOtpget(api_key="k", clock=clock)          # clock: () -> epoch seconds
    adapter = OtpgetProvider(OtpgetConfig("k"), transport=fake.transport())
    with fake.serve() as base_url:                         # or real HTTP on loopback
        adapter = OtpgetProvider(OtpgetConfig("k", base_url=base_url + "/stubs"))

State: countries/services per provider type, cheap servers, the wallet (PKR), orders.
Switches: `set_stock(tier, n)` (tier "type:country:service" or cheap "1:server"),
`deny_cancel` (EARLY_CANCEL_DENIED whatever the clock), `blocked` (ACCOUNT_BLOCKED),
`balance` (NO_BALANCE / LOW_BALANCE when too low), `answer_next(text, action=...)` (any
literal answer, e.g. "ERROR_PROVIDER_3:timeout talking to upstream"), `fail_next(kind)`
(broken answers, see tests.fakes.base). Drive orders with `deliver_sms(order_id, code)` and
`expire(order_id)`. Every request is in `calls` (without the key).

Where the seed is silent the fake decides, and says so: setStatus 8 after an SMS answers
STATUS_ALREADY_CHANGED; handler_api's setStatus answers ACCESS_READY (cancel) and
ACCESS_FINISH (complete) as cheap_handler documents.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fakes.base import Call, FakeUpstream, Reply

COUNTRIES = {
    1: [("33", "Canada"), ("15", "England"), ("61", "Pakistan"), ("12", "USA")],
    2: [("61", "Pakistan"), ("12", "USA")],
}
SERVICES = {  # (type, country) -> {service id: (name, price PKR)}
    (1, "61"): {"101": ("Telegram", "45"), "102": ("WhatsApp", "60"), "103": ("Instagram", "55")},
    (1, "12"): {"201": ("WhatsApp", "120"), "202": ("Google / Gmail", "1,250.50")},
    (1, "33"): {"301": ("WhatsApp", "95")},
    (2, "61"): {"102": ("WhatsApp", "40")},
    (2, "12"): {"201": ("WhatsApp", "110")},
}
CHEAP_SERVERS = [("1", "Random Facebook - Free"), ("2", "Pakistan - Server 2")]
CHEAP_SERVICES = {"1": {"1": "Random Facebook — ₨10.00"}, "2": {"2": "Pakistan Server 2 — ₨50.00"}}
HANDLERS = {"/stubs/handler_api.php": "handler", "/stubs/cheap_handler.php": "cheap"}
CANCEL_AFTER_SECONDS = 120


@dataclass
class FakeOrder:
    id: str
    handler: str
    tier: str
    phone: str
    cost: Decimal
    bought_at: float
    code: str | None = None
    state: str = "waiting"  # waiting | canceled | finished


class FakeOtpget(FakeUpstream):
    def __init__(
        self,
        api_key: str = "test-otpget-key",
        *,
        clock: Callable[[], float] | None = None,
        balance: Decimal | str = "5000.00",
    ) -> None:
        super().__init__(clock)
        self.api_key = api_key
        self.balance = Decimal(balance)
        self.blocked = False
        self.deny_cancel = False
        self.stock: dict[str, int] = {}  # tier -> numbers left (unset: plenty)
        self.orders: dict[str, FakeOrder] = {}
        self._answers: list[tuple[str | None, str]] = []
        self._ids = itertools.count(1001)
        # Other handlers on the same base URL (rental-handler.php, email_handler.php), each
        # a module of its own sharing this wallet, key, clock, call log and faults.
        self.mounted: dict[str, Callable[[Call], Reply]] = {}

    def mount(self, path: str, handle: Callable[[Call], Reply]) -> None:
        """Serve `path` (e.g. "/stubs/rental-handler.php") with `handle`."""
        self.mounted[path] = handle

    # --- switches and drivers ---------------------------------------------------------

    def set_stock(self, tier: str, count: int) -> None:
        self.stock[tier] = count

    def answer_next(self, text: str, *, action: str | None = None) -> None:
        """The next request (of `action`) gets `text` verbatim instead of its real answer."""
        self._answers.append((action, text))

    def deliver_sms(self, order_id: str, code: str) -> None:
        self.orders[order_id].code = code

    def expire(self, order_id: str) -> None:
        order = self.orders[order_id]
        order.state = "canceled"
        self.balance += order.cost

    # --- protocol ---------------------------------------------------------------------

    def parse(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Call:
        params = {k: v for k, v in query.items() if k != "api_key"}
        handler = HANDLERS.get(path) or ("mounted" if path in self.mounted else "unknown")
        return Call(
            params.get("action", ""),
            {**params, "handler": handler},
            query.get("api_key") == self.api_key,
            path,
        )

    def handle(self, call: Call, headers: dict[str, str]) -> Reply:
        for i, (action, text) in enumerate(self._answers):
            if action in (None, call.action):
                del self._answers[i]
                return Reply.text(text)
        handler = call.params["handler"]
        if handler == "mounted":
            return self.mounted[call.path](call)
        if handler == "unknown":
            return Reply.text("<html><body><h1>404 Not Found</h1></body></html>", 404)
        if not call.authorized:
            return Reply.text("BAD_KEY")
        if self.blocked:
            return Reply.text("ACCOUNT_BLOCKED")
        p = call.params
        if call.action == "getBalance":
            return Reply.text(f"ACCESS_BALANCE:{self.balance:.2f}")
        if call.action == "getStatus":
            return Reply.text(self._status(p.get("id", "")))
        if call.action == "setStatus":
            return Reply.text(self._set_status(p.get("id", ""), p.get("status", "")))
        if handler == "handler":
            return self._activation(call.action, p)
        return self._cheap(call.action, p)

    def _activation(self, action: str, p: dict[str, Any]) -> Reply:
        kind = p.get("type", "")
        if action == "getCountries":
            if kind and kind not in {"1", "2", "3", "4", "5", "6"}:
                return Reply.text("BAD_TYPE")
            return Reply.json(
                {str(t): [{"id": i, "name": n} for i, n in rows] for t, rows in COUNTRIES.items()
                 if not kind or str(t) == kind}
            )  # fmt: skip
        if action == "getServices":
            if kind not in {"1", "2", "3", "4", "5", "6"}:
                return Reply.text("BAD_TYPE")
            services = SERVICES.get((int(kind), p.get("country", "")))
            if services is None:
                return Reply.text("BAD_COUNTRY")
            return Reply.json({s: f"{name} - {price} PKR" for s, (name, price) in services.items()})
        if action == "getNumber":
            if kind not in {"1", "2", "3", "4", "5", "6"}:
                return Reply.text("BAD_TYPE")
            services = SERVICES.get((int(kind), p.get("country", "")))
            if services is None:
                return Reply.text("BAD_COUNTRY")
            entry = services.get(p.get("service", ""))
            if entry is None:
                return Reply.text("BAD_SERVICE")
            tier = f"{kind}:{p['country']}:{p['service']}"
            cost = Decimal(entry[1].replace(",", ""))
            sold = self._sell("handler", tier, cost, "NO_BALANCE")
            if isinstance(sold, str):
                return Reply.text(sold)
            return Reply.text(f"ACCESS_NUMBER:{sold.id}:{sold.phone}")
        return Reply.text("BAD_ACTION")

    def _cheap(self, action: str, p: dict[str, Any]) -> Reply:
        kind = p.get("type", "1")
        if kind not in {"1", "2"}:
            return Reply.text("BAD_TYPE")
        if action == "getServers":
            if kind != "1":
                return Reply.text("NO_SERVERS")
            return Reply.json({"1": [{"id": i, "name": n} for i, n in CHEAP_SERVERS]})
        if action == "getServices":
            services = CHEAP_SERVICES.get(p.get("server", ""))
            return Reply.json(services) if services else Reply.text("BAD_SERVER")
        if action == "buyNumber":
            services = CHEAP_SERVICES.get(p.get("server", ""))
            if not services:
                return Reply.text("BAD_SERVER")
            label = next(iter(services.values()))
            cost = Decimal(label.rsplit("₨", 1)[1])
            sold = self._sell("cheap", f"{kind}:{p['server']}", cost, "LOW_BALANCE")
            if isinstance(sold, str):
                return Reply.text(sold)
            return Reply.text(f"{sold.id},{sold.phone.lstrip('+')},900")
        return Reply.text("BAD_ACTION")

    def _sell(self, handler: str, tier: str, cost: Decimal, broke: str) -> FakeOrder | str:
        if self.stock.get(tier, 1) <= 0:
            return "NO_NUMBERS"
        if self.balance < cost:
            return broke
        if tier in self.stock:
            self.stock[tier] -= 1
        self.balance -= cost
        n = next(self._ids)
        order_id = f"ORD_6830abc{n}_741" if handler == "cheap" else f"abc{n}xyz"
        order = FakeOrder(order_id, handler, tier, f"92300{n:07d}", cost, self.clock())
        self.orders[order_id] = order
        return order

    def _status(self, order_id: str) -> str:
        if not order_id:
            return "BAD_ID"
        order = self.orders.get(order_id)
        if order is None:
            return "NO_ACTIVATION"
        if order.state == "canceled":
            return "STATUS_CANCEL"
        return f"STATUS_OK:{order.code}" if order.code is not None else "STATUS_WAIT_CODE"

    def _set_status(self, order_id: str, status: str) -> str:
        if not order_id:
            return "BAD_ID"
        if status not in {"3", "6", "8"}:
            return "BAD_STATUS"
        order = self.orders.get(order_id)
        if order is None:
            return "NO_ACTIVATION"
        if order.state != "waiting":
            return "STATUS_ALREADY_CHANGED"
        if status == "8":
            if order.code is not None:
                return "STATUS_ALREADY_CHANGED"
            if self.deny_cancel or self.clock() - order.bought_at < CANCEL_AFTER_SECONDS:
                return "EARLY_CANCEL_DENIED"
            order.state = "canceled"
            self.balance += order.cost
            return "ACCESS_READY"
        if order.code is None:
            return "NO_SMS_RECEIVED"
        order.state = "finished"
        return "ACCESS_FINISH"
