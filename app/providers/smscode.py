"""smscode.gg as an upstream (seed 000, restated by spec/API.md): the API we serve, consumed
as a client with our own bearer token. Money is already IDR.

Catalog: countries (their ISO code is both our `code` and `iso_code`), services (their code
is `code` and `slug`), every page of products; an operator tier's code comes from the
operators call of its (country, service). A tier's `upstream_key` is its product id.

Orders: created by `product_id` with `Idempotency-Key: <prefix>-<our order id>`; status from
`GET /v1/orders/{id}`; cancel, finish, resend, reactivate passed through; every error code
of API.md mapped one to one (see `ERRORS`).

Looking up a purchase whose answer was lost (`find_purchase`): smscode has no lookup by our
reference, but it replays a create sent again with the same key and body without charging
again. So this process remembers the body of every create it sent (for `KEY_MEMORY_SECONDS`,
inside smscode's 24-hour key retention) and replays it: the saved answer comes back (the
order, or the refusal → None), REQUEST_IN_PROGRESS stays Indeterminate. One reference can
never buy two numbers. Another process (or this one after a restart) does not know the
body: None, and an order smscode did create gets no SMS use and expires there (refunded).
"""

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import httpx
from cachetools import TTLCache
from pydantic import BeforeValidator, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from app.providers.base import (
    CancelTooEarly,
    Capabilities,
    ConfigError,
    CountryInfo,
    Indeterminate,
    Money,
    Offer,
    OperatorInfo,
    OutOfFunds,
    ProviderCatalog,
    Purchase,
    Rejected,
    ServiceInfo,
    Unavailable,
    UpstreamError,
    UpstreamState,
    UpstreamStatus,
)
from app.providers.http import HttpSettings, Timeouts, UpstreamHttp, retry_after
from app.providers.otpget_common import sms_text
from app.providers.settings import ProviderSettings, required_secret

log = logging.getLogger(__name__)

CURRENCY = "IDR"
PAGE_SIZE = 1000
MAX_PAGES = 200
KEY_MEMORY_SECONDS = 23 * 3600  # smscode keeps idempotency keys at least 24 hours


@dataclass(frozen=True, slots=True)
class SmscodeConfig:
    token: str
    base_url: str = "https://api.smscode.gg"
    idempotency_prefix: str = "smsgate"
    # API.md: cancel after 2 minutes; the seed's orders run 20 minutes; resend cooldown.
    min_cancel_seconds: int = 120
    rental_seconds: int = 1200
    resend_cooldown_seconds: int = 60
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    read_retries: int = 2
    retry_backoff: float = 0.2


class SmscodeSettings(ProviderSettings):
    """SMSGATE_SMSCODE_*: our own smscode.gg account."""

    model_config = SettingsConfigDict(env_prefix="SMSGATE_SMSCODE_")

    token: Annotated[SecretStr, BeforeValidator(required_secret)]
    base_url: str = "https://api.smscode.gg"
    # Idempotency keys sent to smscode are `<prefix>-<order id>`: make it unique per gateway
    # sharing one smscode account (and change it after resetting the database).
    idempotency_prefix: str = Field(default="smsgate", pattern=r"^[A-Za-z0-9_-]{1,40}$")

    def config(self, timeouts: Timeouts) -> SmscodeConfig:
        return SmscodeConfig(
            token=self.token.get_secret_value(),
            base_url=self.base_url,
            idempotency_prefix=self.idempotency_prefix,
            connect_timeout=timeouts.connect,
            read_timeout=timeouts.read,
            read_retries=timeouts.read_retries,
        )


class Conflict(Rejected):
    """smscode's CONFLICT: the order's state does not allow this (cancel/finish check why)."""


ERRORS: dict[str, type[UpstreamError]] = {
    "UNAUTHORIZED": ConfigError,
    "FORBIDDEN": ConfigError,
    "NOT_FOUND": Rejected,
    "VALIDATION_ERROR": Rejected,
    "PROVIDER_ERROR": Rejected,
    "NO_OFFER_AVAILABLE": Rejected,
    "IDEMPOTENCY_KEY_REUSED": Rejected,  # our key named another body: never guess, refuse
    "INSUFFICIENT_BALANCE": OutOfFunds,
    "CONFLICT": Conflict,
    "CANCEL_TOO_EARLY": CancelTooEarly,
    "REQUEST_IN_PROGRESS": Indeterminate,  # the first create still runs: look again later
    "RATE_LIMIT_EXCEEDED": Unavailable,
    "TEMP_BANNED_ABUSE_GUARD": Unavailable,
    "SERVICE_UNAVAILABLE": Unavailable,
    "FX_RATE_UNAVAILABLE": Unavailable,
    "INTERNAL_ERROR": Unavailable,
}
STATES = {
    "ACTIVE": UpstreamState.WAITING,
    "OTP_RECEIVED": UpstreamState.RECEIVED,
    "COMPLETED": UpstreamState.FINISHED,
    "CANCELED": UpstreamState.CANCELED,
    "EXPIRED": UpstreamState.CANCELED,  # ended with no SMS; smscode refunded us
}
_RELEASED = {"COMPLETED", "CANCELED", "EXPIRED"}


class SmscodeProvider:
    name = "smscode.gg"

    def __init__(
        self,
        settings: SmscodeConfig,
        *,
        code: str = "smscode",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.code = code
        self.settings = settings
        self.capabilities = Capabilities(
            resend=True,
            reactivate=True,
            min_cancel_seconds=settings.min_cancel_seconds,
            rental_seconds=settings.rental_seconds,
            resend_cooldown_seconds=settings.resend_cooldown_seconds,
        )
        self._http = UpstreamHttp(
            code,
            HttpSettings(
                settings.base_url.rstrip("/") + "/v1",
                settings.connect_timeout,
                settings.read_timeout,
                settings.read_retries,
                settings.retry_backoff,
            ),
            headers={"Authorization": f"Bearer {settings.token}", "Accept": "application/json"},
            secrets=(settings.token,),
            transport=transport,
        )
        # reference → (path, body) of the create/reactivate sent under its key.
        self._sent: TTLCache[str, tuple[str, dict[str, Any]]] = TTLCache(
            1_000_000, KEY_MEMORY_SECONDS
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- plumbing -------------------------------------------------------------------------

    def _envelope(self, what: str) -> Any:
        def parse(response: httpx.Response) -> Any:
            try:
                body = response.json()
            except ValueError:
                raise Unavailable(f"{what}: not JSON: {self._http.quote(response)}") from None
            if not isinstance(body, dict) or not isinstance(body.get("success"), bool):
                raise Unavailable(f"{what}: no envelope: {self._http.quote(response)}")
            if body["success"] and 200 <= response.status_code < 300 and "data" in body:
                return body["data"]
            error = body.get("error") if not body["success"] else None
            if not isinstance(error, dict) or not isinstance(error.get("code"), str):
                raise Unavailable(f"{what}: unexpected {self._http.quote(response)}")
            code = error["code"]
            message = self._http.scrub(str(error.get("message", "")))
            kind = ERRORS.get(code) or (Unavailable if response.status_code >= 500 else Rejected)
            raise kind(
                f"{what}: {code} (HTTP {response.status_code}) {message}".rstrip(),
                retry_after=retry_after(response) if kind is Unavailable else None,
            )

        return parse

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._http.read("GET", path, self._envelope(f"{self.code} GET {path}"),
                                     params=params or None)  # fmt: skip

    async def _post(self, path: str, body: dict[str, Any], key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else None
        return await self._http.write(
            "POST", path, self._envelope(f"{self.code} POST {path}"), json=body, headers=headers
        )

    @staticmethod
    def _order_id(upstream_order_id: str) -> int:
        if not upstream_order_id.isdigit():
            raise Rejected(f"not a smscode order id: {upstream_order_id!r}")
        return int(upstream_order_id)

    def _key(self, reference: str) -> str:
        return f"{self.settings.idempotency_prefix}-{reference}"

    # --- catalog --------------------------------------------------------------------------

    async def catalog(self) -> ProviderCatalog:
        countries: dict[int, CountryInfo] = {}
        for row in _rows(await self._get("catalog/countries"), "countries"):
            if row.get("active") is False or not isinstance(row.get("code"), str):
                continue
            if _int(row.get("id")) < 0:
                continue
            iso = row["code"].strip().upper()
            dial = "".join(ch for ch in str(row.get("dial_code") or "") if ch.isdigit())
            countries[_int(row["id"])] = CountryInfo(
                iso, str(row.get("name") or iso), dial or None, row.get("emoji"), iso_code=iso
            )
        services: dict[int, ServiceInfo] = {}
        for row in _rows(await self._get("catalog/services"), "services"):
            if row.get("active") is False or not isinstance(row.get("code"), str):
                continue
            if _int(row.get("id")) < 0:
                continue
            slug = row["code"].strip()
            services[_int(row["id"])] = ServiceInfo(slug, str(row.get("name") or slug), slug=slug)

        products: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            rows = _rows(
                await self._get("catalog/products", limit=PAGE_SIZE, page=page), "products"
            )
            products.extend(rows)
            if len(rows) < PAGE_SIZE:
                break

        operators = await self._operators(products, countries)
        offers: list[Offer] = []
        for row in products:
            country = countries.get(_int(row.get("country_id")))
            service = services.get(_int(row.get("platform_id")))
            operator_id = row.get("operator_id")
            operator = operators.get(_int(operator_id)) if operator_id is not None else None
            price = _decimal(row.get("price"))
            if (
                country is None
                or service is None
                or price is None
                or row.get("id") is None
                or row.get("active") is False
            ):
                log.warning("%s: skipping product %r", self.code, row.get("id"))
                continue
            if operator_id is not None and operator is None:
                log.warning("%s: product %s: unknown operator", self.code, row.get("id"))
                continue
            offers.append(
                Offer(
                    upstream_key=str(row["id"]),
                    country_code=country.code,
                    service_code=service.code,
                    operator_code=operator.code if operator else None,
                    cost=price,
                    available=max(0, _int(row.get("available"))),
                    currency=CURRENCY,
                )
            )
        return ProviderCatalog(
            tuple(countries.values()),
            tuple(services.values()),
            tuple({(o.country_code, o.code): o for o in operators.values()}.values()),
            tuple(offers),
        )

    async def _operators(
        self, products: list[dict[str, Any]], countries: dict[int, CountryInfo]
    ) -> dict[int, OperatorInfo]:
        pairs = sorted(
            {(_int(p.get("country_id")), _int(p.get("platform_id")))
             for p in products if p.get("operator_id") is not None}
        )  # fmt: skip
        found: dict[int, OperatorInfo] = {}
        for country_id, platform_id in pairs:
            country = countries.get(country_id)
            if country is None:
                continue
            rows = await self._get(
                "catalog/operators", country_id=country_id, platform_id=platform_id
            )
            for row in _rows(rows, "operators"):
                op_id = row.get("operator_id")
                if op_id is None or not isinstance(row.get("code"), str):
                    continue  # the "any" entry
                found[_int(op_id)] = OperatorInfo(
                    country.code, row["code"], str(row.get("name") or row["code"]),
                    row.get("local_name"),
                )  # fmt: skip
        return found

    async def balance(self) -> Money | None:
        data = await self._get("balance")
        amount = _decimal(data.get("balance")) if isinstance(data, dict) else None
        if amount is None:
            raise Unavailable(f"{self.code} balance: unexpected data {data!r}")
        return Money(amount, str(data.get("currency") or CURRENCY))

    # --- orders ---------------------------------------------------------------------------

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        if not upstream_key.isdigit():
            raise Rejected(f"{self.code}: not a product id {upstream_key!r}")
        body = {"product_id": int(upstream_key), "quantity": 1}
        self._sent[reference] = ("orders/create", body)
        return self._purchase(await self._post("orders/create", body, self._key(reference)))

    async def find_purchase(self, reference: str) -> Purchase | None:
        sent = self._sent.get(reference)
        if sent is None:
            return None
        path, body = sent
        try:
            data = await self._post(path, body, self._key(reference))
            return self._purchase(data)
        except (Rejected, OutOfFunds, CancelTooEarly):
            return None  # the saved answer is a refusal: nothing was bought

    def _purchase(self, data: Any) -> Purchase:
        orders = data.get("orders") if isinstance(data, dict) else None
        if not isinstance(orders, list):
            raise Indeterminate(f"{self.code}: create answered {data!r}")
        if not orders:
            raise Rejected(f"{self.code}: no number (failed_count {data.get('failed_count')})")
        order = orders[0]
        phone = str(order.get("phone_number") or "") if isinstance(order, dict) else ""
        digits = phone.removeprefix("+")
        if not isinstance(order, dict) or order.get("id") is None or not digits.isdigit():
            raise Indeterminate(f"{self.code}: malformed order in create answer {order!r}")
        return Purchase(str(order["id"]), "+" + digits)

    async def _order(self, upstream_order_id: str) -> dict[str, Any]:
        data = await self._get(f"orders/{self._order_id(upstream_order_id)}")
        if not isinstance(data, dict) or data.get("status") not in STATES:
            raise Unavailable(f"{self.code} order {upstream_order_id}: unexpected {data!r}")
        return data

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        order = await self._order(upstream_order_id)
        return UpstreamStatus(STATES[order["status"]], _messages(order))

    async def cancel(self, upstream_order_id: str) -> None:
        body = {"id": self._order_id(upstream_order_id)}
        try:
            await self._post("orders/cancel", body)
        except Conflict as exc:
            # Our own earlier cancel whose answer was lost, or the order moved on.
            order = await self._order(upstream_order_id)
            if order["status"] not in ("CANCELED", "EXPIRED"):
                raise Rejected(f"{exc.message} (now {order['status']})") from None

    async def finish(self, upstream_order_id: str) -> None:
        body = {"id": self._order_id(upstream_order_id)}
        try:
            await self._post("orders/finish", body)
        except Conflict as exc:
            order = await self._order(upstream_order_id)
            if order["status"] not in _RELEASED:  # already released: done
                raise Rejected(f"{exc.message} (now {order['status']})") from None

    async def resend(self, upstream_order_id: str) -> bool:
        data = await self._post("orders/resend", {"id": self._order_id(upstream_order_id)})
        return bool(isinstance(data, dict) and data.get("resent") is True)

    async def reactivation_cost(self, upstream_order_id: str) -> Money:
        order_id = self._order_id(upstream_order_id)
        data = await self._get(f"orders/{order_id}/reactivate-options")
        cost = _decimal(data.get("cost")) if isinstance(data, dict) else None
        if cost is None:
            raise Unavailable(f"{self.code} reactivate-options: unexpected {data!r}")
        return Money(cost, CURRENCY)

    async def reactivate(self, upstream_order_id: str, reference: str) -> Purchase:
        body = {"id": self._order_id(upstream_order_id)}
        self._sent[reference] = ("orders/reactivate", body)
        return self._purchase(await self._post("orders/reactivate", body, self._key(reference)))


def _messages(order: dict[str, Any]) -> tuple[str, ...]:
    """smscode shows the latest SMS and how many came (`sms_revision`); the gateway indexes
    texts by revision, so the latest stands in for any it did not see in between."""
    text, code = order.get("otp_message"), order.get("otp_code")
    revision = order.get("sms_revision")
    if not isinstance(revision, int):  # v1.0.0 answers: at most one SMS is visible
        revision = 1 if (text or code or order.get("otp_received_at")) else 0
    if revision <= 0:
        return ()
    latest = text if isinstance(text, str) and text else sms_text(str(code or ""))
    return (latest,) * revision


def _rows(data: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise Unavailable(f"smscode {what}: expected a list, got {type(data).__name__}")
    return [row for row in data if isinstance(row, dict)]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def build(settings: SmscodeSettings, timeouts: Timeouts) -> SmscodeProvider:
    return SmscodeProvider(settings.config(timeouts))
