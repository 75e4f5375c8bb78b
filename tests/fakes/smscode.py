"""A fake smscode.gg speaking the /v1 subset the smscode adapter uses (seed 000, API.md):
the JSON envelope exactly, bearer auth, idempotent create/reactivate, the 2-minute cancel
window on an injectable clock.

    fake = FakeSmscode(token="t", clock=clock)
    adapter = SmscodeProvider(SmscodeConfig("t"), transport=fake.transport())
    with fake.serve() as base_url: ...          # real HTTP on loopback

Switches: `set_stock(product_id, n)`, `balance` (INSUFFICIENT_BALANCE when too low),
`deny_cancel` (CANCEL_TOO_EARLY whatever the clock), `in_progress` (keys answered 409
REQUEST_IN_PROGRESS), `error_next(code, status, action=...)` (any documented error), and
`fail_next(kind)` (broken answers, see tests.fakes.base). Drive orders with
`deliver_sms(order_id, text)` and `expire(order_id)`. Requests are logged in `calls`.
"""

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.fakes.base import Call, FakeUpstream, Reply, _Fault

COUNTRIES = [
    {"id": 6, "code": "ID", "name": "Indonesia", "dial_code": "62", "emoji": "🇮🇩", "active": True},
    {"id": 7, "code": "MY", "name": "Malaysia", "dial_code": "60", "emoji": "🇲🇾", "active": True},
]
SERVICES = [
    {"id": 3, "code": "wa", "name": "WhatsApp", "active": True},
    {"id": 4, "code": "tg", "name": "Telegram", "active": True},
]
OPERATORS = {10: {"operator_id": 10, "code": "telkomsel", "name": "Telkomsel",
                  "local_name": "Telkomsel"}}  # fmt: skip
PRODUCTS = [  # id, country_id, platform_id, operator_id, price, available
    (142, 6, 3, None, 15000, 42),
    (143, 6, 3, 10, 17000, 5),
    (150, 7, 4, None, 9000, 7),
    (151, 7, 3, None, 12000, 0),  # sold out: not listed
]
CANCEL_AFTER_SECONDS = 120
RENTAL_SECONDS = 1200
_ID = re.compile(r"/\d+")
_CODE = re.compile(r"(?<!\d)(\d{4,8})(?!\d)")


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeOrder:
    id: int
    product_id: int
    amount: int
    phone_number: str
    created_at: float
    status: str = "ACTIVE"
    otp_code: str | None = None
    otp_message: str | None = None
    sms_revision: int = 0
    otp_received_at: float | None = None
    canceled_at: float | None = None


class FakeSmscode(FakeUpstream):
    def __init__(
        self,
        token: str = "test-smscode-token",
        *,
        clock: Callable[[], float] | None = None,
        balance: int = 500_000,
    ) -> None:
        super().__init__(clock)
        self.token = token
        self.balance = balance
        self.deny_cancel = False
        self.in_progress: set[str] = set()
        self.stock = {p[0]: p[5] for p in PRODUCTS}
        self.orders: dict[int, FakeOrder] = {}
        self.keys: dict[str, tuple[str, Reply]] = {}  # key -> (request body, saved reply)
        self._errors: list[tuple[str | None, str, int]] = []
        self._ids = itertools.count(1001)

    # --- switches and drivers ---------------------------------------------------------

    def set_stock(self, product_id: int, count: int) -> None:
        self.stock[product_id] = count

    def error_next(self, code: str, status: int, *, action: str | None = None) -> None:
        self._errors.append((action, code, status))

    def deliver_sms(self, order_id: int | str, text: str) -> None:
        order = self.orders[int(order_id)]
        found = _CODE.search(text)
        order.otp_message = text
        order.otp_code = found.group(1) if found else order.otp_code
        order.sms_revision += 1
        order.otp_received_at = order.otp_received_at or self.clock()
        order.status = "OTP_RECEIVED"

    def expire(self, order_id: int | str) -> None:
        order = self.orders[int(order_id)]
        order.status = "EXPIRED" if order.sms_revision == 0 else "COMPLETED"
        if order.status == "EXPIRED":
            self.balance += order.amount

    # --- protocol ---------------------------------------------------------------------

    def parse(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: dict[str, str]
    ) -> Call:
        params: dict[str, Any] = dict(query)
        if body:
            try:
                params["body"] = json.loads(body)
            except ValueError:
                params["body"] = None
        params["raw_body"] = body.decode(errors="replace")
        params["idempotency_key"] = headers.get("idempotency-key")
        action = f"{method} {_ID.sub('/{id}', path.removeprefix('/v1'))}"
        params["path"] = path
        return Call(action, params, headers.get("authorization") == f"Bearer {self.token}", path)

    def _fault_reply(self, fault: _Fault) -> Reply | None:
        if fault.kind == "429":
            reply = _error("RATE_LIMIT_EXCEEDED", 429, "Too many requests.")
            reply.headers["Retry-After"] = str(fault.retry_after)
            return reply
        return super()._fault_reply(fault)

    def handle(self, call: Call, headers: dict[str, str]) -> Reply:
        if not call.authorized:
            return _error("UNAUTHORIZED", 401, "Missing or invalid API token.")
        for i, (action, code, status) in enumerate(self._errors):
            if action in (None, call.action):
                del self._errors[i]
                return _error(code, status, f"injected {code}")
        p, a = call.params, call.action
        path = p["path"].removeprefix("/v1")
        if a == "GET /catalog/countries":
            return _ok(COUNTRIES)
        if a == "GET /catalog/services":
            return _ok(SERVICES)
        if a == "GET /catalog/products":
            return self._products(int(p.get("limit", 1000)), int(p.get("page", 1)))
        if a == "GET /catalog/operators":
            pair = (int(p["country_id"]), int(p["platform_id"]))
            ops = {
                pr[3]
                for pr in PRODUCTS
                if pr[3] is not None and self.stock[pr[0]] > 0 and (pr[1], pr[2]) == pair
            }
            return _ok([{"operator_id": None, "code": "any"}] + [OPERATORS[o] for o in ops])
        if a == "GET /balance":
            return _ok({"currency": "IDR", "balance": self.balance})
        if a == "GET /orders/active":
            live = [o for o in self.orders.values() if o.status in ("ACTIVE", "OTP_RECEIVED")]
            return _ok([self._order(o) for o in reversed(live)])
        if a == "POST /orders/create" or a == "POST /orders/reactivate":
            return self._idempotent(call)
        if a.startswith("GET /orders/{id}"):
            order = self.orders.get(int(path.split("/")[2]))
            if order is None:
                return _error("NOT_FOUND", 404, "Order not found.")
            if a.endswith("/reactivate-options"):
                if order.status != "COMPLETED":
                    return _error("CONFLICT", 409, "Order cannot be reactivated.")
                return _ok({"cost": order.amount})
            return _ok(self._order(order))
        if a in ("POST /orders/cancel", "POST /orders/finish", "POST /orders/resend"):
            body = p.get("body")
            order_id = body.get("id") if isinstance(body, dict) else None
            order = self.orders.get(order_id) if isinstance(order_id, int) else None
            if order is None:
                return _error("NOT_FOUND", 404, "Order not found.")
            return getattr(self, "_" + a.rsplit("/", 1)[1])(order)
        return _error("NOT_FOUND", 404, "Route not found.")

    def _products(self, limit: int, page: int) -> Reply:
        rows = [self._product(pr) for pr in PRODUCTS if self.stock[pr[0]] > 0]
        chunk = rows[(page - 1) * limit : page * limit]
        return Reply.json(
            {
                "success": True,
                "data": chunk,
                "meta": {"page": page, "limit": limit, "count": len(chunk)},
            }  # fmt: skip
        )

    def _product(self, pr: tuple[Any, ...]) -> dict[str, Any]:
        pid, country_id, platform_id, operator_id, price, _ = pr
        country = next(c for c in COUNTRIES if c["id"] == country_id)
        service = next(s for s in SERVICES if s["id"] == platform_id)
        operator = OPERATORS.get(operator_id) if operator_id else None
        return {"id": pid, "name": f"{service['name']} - {country['name']}",
                "country_id": country_id, "platform_id": platform_id,
                "available": self.stock[pid], "price": price, "active": True,
                "catalog_product_id": country_id * 100 + platform_id,
                "operator_id": operator_id,
                "operator_name": operator["name"] if operator else None}  # fmt: skip

    def _idempotent(self, call: Call) -> Reply:
        key = call.params.get("idempotency_key")
        raw = call.params["raw_body"]
        if key in self.in_progress:
            return _error("REQUEST_IN_PROGRESS", 409, "A request with this key is running.")
        if key and key in self.keys:
            saved_body, saved = self.keys[key]
            if json.loads(saved_body) != json.loads(raw or "null"):
                return _error("IDEMPOTENCY_KEY_REUSED", 422, "Key reused with another body.")
            return saved
        body = call.params.get("body")
        reply = self._create(body) if call.action.endswith("create") else self._reactivate(body)
        if key:
            self.keys[key] = (raw, reply)
        return reply

    def _create(self, body: Any) -> Reply:
        pid = body.get("product_id") if isinstance(body, dict) else None
        product = next((pr for pr in PRODUCTS if pr[0] == pid), None)
        if product is None:
            return _error("VALIDATION_ERROR", 422, "Unknown product_id.")
        if self.stock[product[0]] <= 0:
            return _error("NO_OFFER_AVAILABLE", 422, "No offer matches the product.")
        return self._sell(product[0], product[4], None)

    def _reactivate(self, body: Any) -> Reply:
        parent = self.orders.get(body.get("id")) if isinstance(body, dict) else None
        if parent is None:
            return _error("NOT_FOUND", 404, "Order not found.")
        if parent.status != "COMPLETED":
            return _error("CONFLICT", 409, "Order cannot be reactivated.")
        return self._sell(parent.product_id, parent.amount, parent.phone_number)

    def _sell(self, product_id: int, price: int, phone: str | None) -> Reply:
        if self.balance < price:
            return _error("INSUFFICIENT_BALANCE", 409, "Balance too low.")
        self.balance -= price
        self.stock[product_id] -= 1
        n = next(self._ids)
        order = FakeOrder(n, product_id, price, phone or f"+62812{n:07d}", self.clock())
        self.orders[n] = order
        hidden = ("created_at", "otp_message", "sms_revision", "canceled_at")
        item = {k: v for k, v in self._order(order).items() if k not in hidden}
        return _ok({"orders": [item], "failed_count": 0})

    def _cancel(self, order: FakeOrder) -> Reply:
        if order.status != "ACTIVE" or order.sms_revision:
            return _error("CONFLICT", 409, f"Order {order.id} is {order.status}.")
        if self.deny_cancel or self.clock() - order.created_at < CANCEL_AFTER_SECONDS:
            return _error("CANCEL_TOO_EARLY", 409, "Too early to cancel: wait 2 minutes.")
        order.status, order.canceled_at = "CANCELED", self.clock()
        self.balance += order.amount
        return _ok({"order_id": order.id, "status": "CANCELED", "refund_amount": order.amount,
                    "new_balance": self.balance})  # fmt: skip

    def _finish(self, order: FakeOrder) -> Reply:
        if order.status != "OTP_RECEIVED":
            return _error("CONFLICT", 409, f"Order {order.id} is {order.status}.")
        order.status = "COMPLETED"
        return _ok({"order_id": order.id, "status": "COMPLETED"})

    def _resend(self, order: FakeOrder) -> Reply:
        if order.status != "OTP_RECEIVED":
            return _error("CONFLICT", 409, f"Order {order.id} cannot be resent.")
        return _ok({"order_id": order.id, "status": order.status, "resent": True})

    def _order(self, o: FakeOrder) -> dict[str, Any]:
        product = next(pr for pr in PRODUCTS if pr[0] == o.product_id)
        operator = OPERATORS.get(product[3]) if product[3] else None
        cancel_at = o.created_at + CANCEL_AFTER_SECONDS
        now = self.clock()
        no_sms = o.status == "ACTIVE" and o.sms_revision == 0
        return {
            "id": o.id, "status": o.status, "created_at": rfc3339(o.created_at),
            "product_id": o.product_id, "catalog_product_id": product[1] * 100 + product[2],
            "operator_id": product[3], "operator_name": operator["name"] if operator else None,
            "phone_number": o.phone_number, "amount": o.amount, "otp_code": o.otp_code,
            "otp_message": o.otp_message, "sms_revision": o.sms_revision,
            "otp_received_at": rfc3339(o.otp_received_at),
            "expires_at": rfc3339(o.created_at + RENTAL_SECONDS),
            "canceled_at": rfc3339(o.canceled_at), "failed_reason": None,
            "can_finish": o.status == "OTP_RECEIVED", "can_resend": o.status == "OTP_RECEIVED",
            "can_cancel": no_sms and now >= cancel_at, "can_replace": no_sms and now >= cancel_at,
            "can_reactivate": o.status == "COMPLETED", "resend_available_at": None,
            "cancel_available_at": rfc3339(cancel_at) if no_sms and now < cancel_at else None,
            "replace_available_at": rfc3339(cancel_at) if no_sms and now < cancel_at else None,
        }  # fmt: skip


def _ok(data: Any) -> Reply:
    return Reply.json({"success": True, "data": data})


def _error(code: str, status: int, message: str) -> Reply:
    return Reply.json({"success": False, "error": {"code": code, "message": message}}, status)
