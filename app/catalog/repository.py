"""Catalog statements. A product is *visible* when it is active, in stock, its provider is
enabled here, and its country and service are active."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import (
    CatalogProduct,
    Country,
    ExchangeRate,
    Operator,
    Product,
    Provider,
    Service,
)
from app.db.engine import Db
from app.kit.clock import utcnow

Ts = TypeVarTuple("Ts")

PRODUCT_NAME = Service.name + literal(" - ") + Country.name

SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "price_asc": (Product.price.asc(),),
    "price_desc": (Product.price.desc(),),
    "available_asc": (Product.available.asc(),),
    "available_desc": (Product.available.desc(),),
    "name_asc": (PRODUCT_NAME.asc(),),
    "name_desc": (PRODUCT_NAME.desc(),),
}


def _visible(stmt: Select[*Ts], providers: Sequence[str]) -> Select[*Ts]:
    return (
        stmt.join(CatalogProduct, CatalogProduct.id == Product.catalog_product_id)
        .join(Country, Country.id == CatalogProduct.country_id)
        .join(Service, Service.id == CatalogProduct.service_id)
        .join(Provider, Provider.id == Product.provider_id)
        .where(
            Product.active.is_(True),
            Product.available > 0,
            Provider.enabled.is_(True),
            Provider.code.in_(providers),
            Country.active.is_(True),
            Service.active.is_(True),
        )
    )


async def list_countries(session: AsyncSession) -> Sequence[Any]:
    stmt = select(
        Country.id, Country.code, Country.name, Country.dial_code, Country.emoji, Country.active
    ).order_by(Country.id)
    return (await session.execute(stmt)).all()


async def list_services(
    session: AsyncSession, providers: Sequence[str], country_id: int | None
) -> Sequence[Any]:
    stmt = select(Service.id, Service.code, Service.name, Service.active)
    if country_id is not None:
        sold_there = _visible(
            select(CatalogProduct.service_id).select_from(Product), providers
        ).where(CatalogProduct.country_id == country_id)
        stmt = stmt.where(Service.id.in_(sold_there))
    return (await session.execute(stmt.order_by(Service.id))).all()


async def list_products(
    session: AsyncSession,
    providers: Sequence[str],
    *,
    country_id: int | None,
    platform_id: int | None,
    operator_id: int | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[Sequence[Any], int]:
    base = _visible(
        select(
            Product.id,
            PRODUCT_NAME.label("name"),
            CatalogProduct.country_id,
            CatalogProduct.service_id.label("platform_id"),
            Product.available,
            Product.price,
            Product.active,
            Product.catalog_product_id,
            Product.operator_id,
            Operator.name.label("operator_name"),
            func.count().over().label("total"),
        ).outerjoin(Operator, Operator.id == Product.operator_id),
        providers,
    )
    if country_id is not None:
        base = base.where(CatalogProduct.country_id == country_id)
    if platform_id is not None:
        base = base.where(CatalogProduct.service_id == platform_id)
    if operator_id is not None:
        base = base.where(Product.operator_id == operator_id)
    stmt = base.order_by(*SORTS[sort], Product.id).limit(limit).offset(offset)
    rows = (await session.execute(stmt)).all()
    if rows:
        return rows, int(rows[0].total)
    if offset == 0:
        return rows, 0
    count_stmt = select(func.count()).select_from(
        base.with_only_columns(Product.id).order_by(None).subquery()
    )
    return rows, int(await session.scalar(count_stmt) or 0)


async def list_operator_choices(
    session: AsyncSession, providers: Sequence[str], country_id: int, platform_id: int
) -> tuple[Sequence[Any], bool]:
    """Operators with stock for (country, service), and whether operator-agnostic stock exists."""
    stmt = (
        _visible(
            select(Product.operator_id, Operator.code, Operator.name, Operator.local_name)
            .distinct()
            .outerjoin(Operator, Operator.id == Product.operator_id),
            providers,
        )
        .where(CatalogProduct.country_id == country_id, CatalogProduct.service_id == platform_id)
        .order_by(Product.operator_id.nulls_first())
    )
    rows = (await session.execute(stmt)).all()
    specific = [row for row in rows if row.operator_id is not None]
    return specific, len(specific) < len(rows)


async def get_rate(session: Db, pair: str) -> Any | None:
    stmt = select(
        ExchangeRate.pair,
        ExchangeRate.base_currency,
        ExchangeRate.quote_currency,
        ExchangeRate.rate,
        ExchangeRate.updated_at,
    ).where(ExchangeRate.pair == pair)
    return (await session.execute(stmt)).first()


async def upsert_rate(session: AsyncSession, base: str, quote: str, rate: Decimal) -> None:
    stmt = insert(ExchangeRate).values(
        pair=f"{base}/{quote}",
        base_currency=base,
        quote_currency=quote,
        rate=rate,
        updated_at=utcnow(),
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["pair"],
            set_={"rate": stmt.excluded.rate, "updated_at": stmt.excluded.updated_at},
        )
    )
