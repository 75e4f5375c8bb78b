"""Listing exchange rates (setting one is catalog.service.set_rate)."""

from typing import Any

from sqlalchemy import select

from app.catalog.models import ExchangeRate
from app.db.engine import Db


async def list_rates(session: Db) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(
            ExchangeRate.pair,
            ExchangeRate.base_currency,
            ExchangeRate.quote_currency,
            ExchangeRate.rate,
            ExchangeRate.updated_at,
        ).order_by(ExchangeRate.pair)
    )
    return [dict(row._mapping, rate=format(row.rate.normalize(), "f")) for row in rows]
