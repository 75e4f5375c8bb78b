"""Orders across all accounts, for operators: filters, keyset pages, batched export.

Pages are keyset-paginated on the order id, newest first: the cursor is the last id seen,
so an order created meanwhile (a higher id) never shifts or repeats a page. The export
walks the same keyset in batches, one short statement each: memory stays at one batch
and no transaction or connection is held while a slow client reads.
"""

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.accounts.models import Account
from app.catalog.models import CatalogProduct, Country, Operator, Provider, Service
from app.db.engine import Db
from app.errors import field_error
from app.kit.pagination import NOT_OURS, InvalidCursor, decode_cursor, encode_cursor
from app.orders.models import Order, OrderStatus

_PHONE_JUNK = re.compile(r"[\s+()\-.]")

COLUMNS = (
    Order.id,
    Order.account_id,
    Account.name.label("account_name"),
    Order.status,
    Provider.code.label("provider"),
    Order.product_id,
    Order.catalog_product_id,
    Country.code.label("country"),
    Service.code.label("service"),
    Order.operator_id,
    Operator.name.label("operator_name"),
    Order.parent_order_id,
    Order.phone_number,
    Order.upstream_order_id,
    Order.amount,
    Order.cost,
    Order.otp_code,
    Order.sms_revision,
    Order.created_at,
    Order.otp_received_at,
    Order.expires_at,
    Order.canceled_at,
    Order.finished_at,
    Order.failed_reason,
)
FIELDS = tuple(col.key for col in COLUMNS)


@dataclass(frozen=True, slots=True)
class OrderFilter:
    account_id: int | None = None
    statuses: tuple[str, ...] = ()
    provider: str | None = None
    product_id: int | None = None
    catalog_product_id: int | None = None
    country: str | None = None  # ISO code or id
    service: str | None = None  # code or id
    phone_number: str | None = None
    upstream_order_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    finished_from: datetime | None = None
    finished_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    limit: int
    extra: dict[str, Any] = field(default_factory=dict)


def parse_statuses(values: Sequence[str] | None) -> tuple[str, ...]:
    """Statuses, case-insensitive, repeated or comma-separated; internal ones included."""
    known = {s.value for s in OrderStatus}
    wanted: list[str] = []
    for value in values or ():
        wanted += [part.strip().upper() for part in value.split(",") if part.strip()]
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise field_error("status", f"unknown status(es) {', '.join(unknown)}")
    return tuple(dict.fromkeys(wanted))


def normalize_phone(value: str) -> str:
    return _PHONE_JUNK.sub("", value)


def _check_range(name: str, start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise field_error(f"{name}_to", f"must be after {name}_from")


def statement(f: OrderFilter) -> Select[*tuple[Any, ...]]:
    """Every order matching `f`, newest first (add a limit and an id bound to page)."""
    _check_range("created", f.created_from, f.created_to)
    _check_range("finished", f.finished_from, f.finished_to)
    stmt: Select[*tuple[Any, ...]] = (
        select(*COLUMNS)
        .join(Account, Account.id == Order.account_id)
        .join(Provider, Provider.id == Order.provider_id)
        .join(CatalogProduct, CatalogProduct.id == Order.catalog_product_id)
        .join(Country, Country.id == CatalogProduct.country_id)
        .join(Service, Service.id == CatalogProduct.service_id)
        .outerjoin(Operator, Operator.id == Order.operator_id)
        .order_by(Order.id.desc())
    )
    if f.account_id is not None:
        stmt = stmt.where(Order.account_id == f.account_id)
    if f.statuses:
        stmt = stmt.where(Order.status.in_(f.statuses))
    if f.provider:
        stmt = stmt.where(Provider.code == f.provider.strip().lower())
    if f.product_id is not None:
        stmt = stmt.where(Order.product_id == f.product_id)
    if f.catalog_product_id is not None:
        stmt = stmt.where(Order.catalog_product_id == f.catalog_product_id)
    if f.country:
        country = f.country.strip()
        stmt = stmt.where(
            Country.id == int(country) if country.isdigit() else Country.code == country.upper()
        )
    if f.service:
        service = f.service.strip()
        stmt = stmt.where(
            Service.id == int(service) if service.isdigit() else Service.code == service.lower()
        )
    if f.phone_number:
        phone = normalize_phone(f.phone_number)
        # Stored numbers are digits; accept "+62 812-..." and match with or without a '+'.
        stmt = stmt.where(or_(Order.phone_number == phone, Order.phone_number == "+" + phone))
    if f.upstream_order_id:
        stmt = stmt.where(Order.upstream_order_id == f.upstream_order_id.strip())
    if f.created_from is not None:
        stmt = stmt.where(Order.created_at >= f.created_from)
    if f.created_to is not None:
        stmt = stmt.where(Order.created_at < f.created_to)
    if f.finished_from is not None:
        stmt = stmt.where(Order.finished_at >= f.finished_from)
    if f.finished_to is not None:
        stmt = stmt.where(Order.finished_at < f.finished_to)
    return stmt


async def search(session: Db, f: OrderFilter, *, limit: int, cursor: str | None) -> Page:
    """One page of matching orders, newest first; `next_cursor` is None on the last page."""
    try:
        before = decode_cursor(cursor)
    except InvalidCursor:
        raise field_error("cursor", NOT_OURS) from None
    stmt = statement(f).limit(limit + 1)
    if before is not None:
        stmt = stmt.where(Order.id < before)
    rows = (await session.execute(stmt)).all()
    items = [dict(row._mapping) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, encode_cursor(items[-1]["id"]) if more else None, limit)


async def count(session: Db, f: OrderFilter) -> int:
    inner = statement(f).order_by(None).with_only_columns(Order.id).subquery()
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


async def batches(
    engine: AsyncEngine, f: OrderFilter, *, batch_size: int = 2_000
) -> AsyncIterator[Sequence[Any]]:
    """Every matching order, newest first, `batch_size` rows at a time. Each batch is its
    own short statement on a pooled connection released before the batch is yielded.
    Orders created after the export started are not included (their ids are higher)."""
    base = statement(f).limit(batch_size)
    async with engine.connect() as conn:
        top = await conn.scalar(select(func.max(Order.id)))
    before = (top or 0) + 1
    while True:
        async with engine.connect() as conn:
            rows = (await conn.execute(base.where(Order.id < before))).all()
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        before = rows[-1].id
