"""Providers as operators see them: listing with product counts, enabling and disabling.

`providers.enabled` is read by the catalog listings and by routing (only enabled
providers' tiers are offered or bought). Disabling stops new purchases from that provider
at once in this process and within SMSGATE_OFFER_CACHE_SECONDS in others; its live orders
keep being polled and end by the usual rules. Whether an adapter is loaded at all is
SMSGATE_PROVIDERS (shown as `configured`).
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update

from app.catalog.models import Product, Provider
from app.db.engine import Db
from app.errors import NotFound


async def list_providers(session: Db, configured: Sequence[str]) -> list[dict[str, Any]]:
    in_stock = (Product.active.is_(True)) & (Product.available > 0)
    stmt = (
        select(
            Provider.id,
            Provider.code,
            Provider.name,
            Provider.enabled,
            Provider.created_at,
            func.count(Product.id).label("products"),
            func.count(Product.id).filter(Product.active.is_(True)).label("active_products"),
            func.count(Product.id).filter(in_stock).label("in_stock_products"),
        )
        .outerjoin(Product, Product.provider_id == Provider.id)
        .group_by(Provider.id)
        .order_by(Provider.code)
    )
    rows = (await session.execute(stmt)).all()
    return [dict(row._mapping, configured=row.code in configured) for row in rows]


async def set_enabled(
    session: Db, code: str, enabled: bool, configured: Sequence[str]
) -> dict[str, Any]:
    code = code.strip().lower()
    found = await session.scalar(
        update(Provider).where(Provider.code == code).values(enabled=enabled).returning(Provider.id)
    )
    if found is None:
        raise NotFound(f"No provider {code!r}.")
    return next(p for p in await list_providers(session, configured) if p["code"] == code)
