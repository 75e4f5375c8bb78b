"""Catalog rules: which products show, how they sort, the synthesized `any` operator, rates."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import repository
from app.db.engine import Db
from app.errors import NotFound, field_error

DEFAULT_SORT = "price_asc"
DEFAULT_PAIR = "USD/IDR"
_PAIR = re.compile(r"^([A-Z]{3})/([A-Z]{3})$")
ANY_OPERATOR = {"operator_id": None, "code": "any", "name": "Any operator", "local_name": None}


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[dict[str, Any]]
    page: int
    limit: int
    count: int  # all matching products, not only this page


@dataclass(frozen=True, slots=True)
class Rate:
    pair: str
    base_currency: str
    quote_currency: str
    rate: Decimal
    as_of: datetime

    @property
    def whole(self) -> int:
        """The rate as the API's integer (quote units per base unit), rounded half-even."""
        return int(self.rate.to_integral_value(rounding=ROUND_HALF_EVEN))


async def countries(session: AsyncSession) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in await repository.list_countries(session)]


async def services(
    session: AsyncSession, providers: Sequence[str], country_id: int | None
) -> list[dict[str, Any]]:
    rows = await repository.list_services(session, providers, country_id)
    return [dict(row._mapping) for row in rows]


async def products(
    session: AsyncSession,
    providers: Sequence[str],
    *,
    country_id: int | None,
    platform_id: int | None,
    operator_id: int | None,
    sort: str | None,
    limit: int,
    page: int,
) -> ProductPage:
    sort_key = sort.lower() if sort else DEFAULT_SORT
    if sort_key not in repository.SORTS:
        sort_key = DEFAULT_SORT  # the contract: unknown sorts fall back, they are not errors
    rows, total = await repository.list_products(
        session,
        providers,
        country_id=country_id,
        platform_id=platform_id,
        operator_id=operator_id,
        sort=sort_key,
        limit=limit,
        offset=(page - 1) * limit,
    )
    items = []
    for row in rows:
        item = dict(row._mapping)
        del item["total"]
        items.append(item)
    return ProductPage(items, page, limit, total)


async def operators(
    session: AsyncSession, providers: Sequence[str], country_id: int, platform_id: int
) -> list[dict[str, Any]]:
    specific, agnostic_in_stock = await repository.list_operator_choices(
        session, providers, country_id, platform_id
    )
    if not specific:
        return []  # no operator to choose between
    choices = [
        {"operator_id": r.operator_id, "code": r.code, "name": r.name, "local_name": r.local_name}
        for r in specific
    ]
    return [dict(ANY_OPERATOR), *choices] if agnostic_in_stock else choices


def parse_pair(pair: str | None) -> tuple[str, str]:
    match = _PAIR.match((pair or DEFAULT_PAIR).strip().upper())
    if match is None:
        raise field_error("pair", "must look like USD/IDR (two ISO 4217 codes)")
    return match.group(1), match.group(2)


def parse_rate(value: str) -> Decimal:
    try:
        rate = Decimal(value.strip().replace("_", ""))
    except InvalidOperation:
        raise field_error("rate", "must be a positive number") from None
    if not rate.is_finite() or rate <= 0 or rate >= Decimal(10) ** 15:
        raise field_error("rate", "must be a positive number below 10^15")
    if -rate.as_tuple().exponent > 8:  # type: ignore[operator]
        raise field_error("rate", "at most 8 decimal places")
    return rate


async def exchange_rate(session: Db, pair: str | None) -> Rate:
    base, quote = parse_pair(pair)
    row = await repository.get_rate(session, f"{base}/{quote}")
    if row is None:
        raise NotFound(f"No exchange rate for {base}/{quote}.")
    return Rate(row.pair, row.base_currency, row.quote_currency, row.rate, row.updated_at)


async def set_rate(session: AsyncSession, pair: str, rate: str) -> Rate:
    base, quote = parse_pair(pair)
    if base == quote:
        raise field_error("pair", "base and quote currencies must differ")
    value = parse_rate(rate)
    await repository.upsert_rate(session, base, quote, value)
    return await exchange_rate(session, f"{base}/{quote}")
