"""Shared helpers of the /v1/orders API tests.

Sandbox prices for Indonesia/WhatsApp (cost +20 %, rounded up to 100 IDR): economy 3,400,
standard 4,800, Telkomsel 5,300, Indosat 5,600, XL 5,800, Tri 6,000, premium 8,700.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.catalog.models import CatalogProduct, Country, Operator, Product, Service
from app.kit.clock import rfc3339
from app.ledger import audit
from app.ledger.models import LedgerEntry
from app.orders.models import Order
from tests.factories import AccountWithToken

START = 100_000


CAPABILITY_KEYS = {
    "can_finish",
    "can_resend",
    "can_cancel",
    "can_replace",
    "can_reactivate",
    "resend_available_at",
    "cancel_available_at",
    "replace_available_at",
}


CREATED_KEYS = {
    "id",
    "status",
    "phone_number",
    "otp_code",
    "otp_received_at",
    "expires_at",
    "failed_reason",
    "product_id",
    "catalog_product_id",
    "operator_id",
    "operator_name",
    "amount",
} | CAPABILITY_KEYS


FULL_KEYS = {
    "id",
    "status",
    "created_at",
    "product_id",
    "catalog_product_id",
    "operator_id",
    "operator_name",
    "phone_number",
    "amount",
    "otp_code",
    "otp_message",
    "sms_revision",
    "otp_received_at",
    "expires_at",
    "canceled_at",
    "failed_reason",
} | CAPABILITY_KEYS


ACTIVE_KEYS = {
    "id",
    "status",
    "otp_code",
    "otp_message",
    "sms_revision",
    "otp_received_at",
    "expires_at",
    "failed_reason",
    "operator_id",
    "operator_name",
} | CAPABILITY_KEYS


EVENT_DATA_KEYS = {
    "order_id",
    "phone_number",
    "otp_code",
    "otp_message",
    "sms_revision",
    "product_id",
    "catalog_product_id",
    "country",
    "platform",
    "operator_id",
    "operator_name",
} | CAPABILITY_KEYS


@dataclass(frozen=True)
class Tier:
    id: int
    key: str
    price: int
    operator_id: int | None


@dataclass(frozen=True)
class Catalog:
    cp: int  # the Indonesia/WhatsApp umbrella
    tiers: list[Tier]  # its tiers, cheapest first
    operators: dict[str, int]  # Indonesian operator code → id
    sold_out_tier: int  # a tier the catalog lists with zero stock (ID:tiktok:xl:standard)

    def tier(self, suffix: str) -> Tier:
        return next(t for t in self.tiers if t.key == f"ID:whatsapp:{suffix}")

    @property
    def economy(self) -> Tier:
        return self.tier("any:economy")

    @property
    def standard(self) -> Tier:
        return self.tier("any:standard")


async def load_catalog(sessionmaker) -> Catalog:
    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(
                    Product.id,
                    Product.upstream_key,
                    Product.price,
                    Product.operator_id,
                    Product.catalog_product_id,
                )
                .join(CatalogProduct, CatalogProduct.id == Product.catalog_product_id)
                .join(Country, Country.id == CatalogProduct.country_id)
                .join(Service, Service.id == CatalogProduct.service_id)
                .where(Country.code == "ID", Service.code == "whatsapp")
                .order_by(Product.price)
            )
        ).all()
        operators = dict(
            (
                await session.execute(
                    select(Operator.code, Operator.id)
                    .join(Country, Country.id == Operator.country_id)
                    .where(Country.code == "ID")
                )
            ).all()
        )
        sold_out = await session.scalar(
            select(Product.id).where(Product.upstream_key == "ID:tiktok:xl:standard")
        )
    assert len({r.catalog_product_id for r in rows}) == 1 and sold_out is not None
    tiers = [Tier(r.id, r.upstream_key, r.price, r.operator_id) for r in rows]
    return Catalog(rows[0].catalog_product_id, tiers, operators, sold_out)


async def create(
    client: httpx.AsyncClient,
    user: AccountWithToken,
    body: Any,
    key: str | None = None,
    key_header: str = "Idempotency-Key",
) -> httpx.Response:
    headers = dict(user.headers)
    if key is not None:
        headers[key_header] = key
    return await client.post("/v1/orders/create", json=body, headers=headers)


async def create_one(client, user, body: dict[str, Any]) -> dict[str, Any]:
    response = await create(client, user, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["failed_count"] == 0 and len(data["orders"]) == 1
    return data["orders"][0]  # type: ignore[no-any-return]


async def post(client, user, action: str, body: dict[str, Any], key: str | None = None):
    headers = dict(user.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(f"/v1/orders/{action}", json=body, headers=headers)


async def get_order(client, user, order_id: int) -> dict[str, Any]:
    response = await client.get(f"/v1/orders/{order_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def balance(client, user) -> int:
    response = await client.get("/v1/balance", headers=user.headers)
    return response.json()["data"]["balance"]  # type: ignore[no-any-return]


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    return body["error"]  # type: ignore[no-any-return]


async def assert_audit_ok(sessionmaker) -> None:
    async with sessionmaker() as session:
        report = await audit.run(session)
    assert report.ok, report.problems


async def money_rows(sessionmaker, account_id: int) -> dict[str, int]:
    """Counts for one account: orders of every status (internal ones too), debits, refunds."""
    async with sessionmaker() as session:
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.account_id == account_id)
        )
        kinds = dict(
            (
                await session.execute(
                    select(LedgerEntry.kind, func.count())
                    .where(LedgerEntry.account_id == account_id)
                    .group_by(LedgerEntry.kind)
                )
            ).all()
        )
    return {
        "orders": int(orders or 0),
        "debits": kinds.get("order_debit", 0),
        "refunds": kinds.get("order_refund", 0),
    }


async def statuses(sessionmaker, account_id: int) -> list[str]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Order.status).where(Order.account_id == account_id).order_by(Order.id)
        )
        return list(rows)


async def failed_reasons(sessionmaker, account_id: int) -> list[str]:
    """The failed orders' reasons, sorted: concurrent purchases fail in no fixed order."""
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(Order.failed_reason).where(
                Order.account_id == account_id, Order.status == "FAILED"
            )
        )
        return sorted(str(r) for r in rows)


async def to_otp(client, user, clock, poller, order_id: int) -> dict[str, Any]:
    """Move the clock past the sandbox's 10 s SMS delay and run the poller once."""
    clock.advance(11)
    await poller.tick()
    order = await get_order(client, user, order_id)
    assert order["status"] == "OTP_RECEIVED"
    return order


def z(clock, seconds: float = 0) -> str | None:
    return rfc3339(clock.now + timedelta(seconds=seconds))
