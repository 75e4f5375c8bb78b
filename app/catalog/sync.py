"""Writing a provider's catalog into ours: canonical rows by natural key, tier slots by
(provider, upstream_key). Ids never change; a tier that disappears is set to zero stock."""

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import CatalogProduct, Country, Operator, Product, Provider, Service
from app.catalog.pricing import PricingRule
from app.kit.clock import utcnow
from app.providers.base import ProviderCatalog


@dataclass(frozen=True, slots=True)
class SyncReport:
    provider: str
    offers: int
    vanished: int


async def ensure_provider(session: AsyncSession, code: str, name: str) -> int:
    await session.execute(
        insert(Provider)
        .values(code=code, name=name)
        .on_conflict_do_nothing(index_elements=["code"])
    )
    provider_id = await session.scalar(select(Provider.id).where(Provider.code == code))
    assert provider_id is not None
    return int(provider_id)


async def sync_catalog(
    session: AsyncSession, provider_id: int, code: str, catalog: ProviderCatalog, rule: PricingRule
) -> SyncReport:
    if catalog.countries:
        await session.execute(
            insert(Country)
            .values(
                [
                    {
                        "code": c.code.upper(),
                        "name": c.name,
                        "dial_code": c.dial_code,
                        "emoji": c.emoji,
                    }
                    for c in catalog.countries
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )
    if catalog.services:
        await session.execute(
            insert(Service)
            .values([{"code": s.code, "name": s.name} for s in catalog.services])
            .on_conflict_do_nothing(index_elements=["code"])
        )
    countries = dict((await session.execute(select(Country.code, Country.id))).all())
    services = dict((await session.execute(select(Service.code, Service.id))).all())

    if catalog.operators:
        await session.execute(
            insert(Operator)
            .values(
                [
                    {
                        "country_id": countries[o.country_code.upper()],
                        "code": o.code,
                        "name": o.name,
                        "local_name": o.local_name,
                    }
                    for o in catalog.operators
                ]
            )
            .on_conflict_do_nothing(index_elements=["country_id", "code"])
        )
    operators = {
        (country_id, op_code): op_id
        for op_id, country_id, op_code in (
            await session.execute(select(Operator.id, Operator.country_id, Operator.code))
        ).all()
    }

    pairs = {(countries[o.country_code.upper()], services[o.service_code]) for o in catalog.offers}
    if pairs:
        await session.execute(
            insert(CatalogProduct)
            .values([{"country_id": c, "service_id": s} for c, s in sorted(pairs)])
            .on_conflict_do_nothing(index_elements=["country_id", "service_id"])
        )
    umbrellas = {
        (c, s): cp_id
        for cp_id, c, s in (
            await session.execute(
                select(CatalogProduct.id, CatalogProduct.country_id, CatalogProduct.service_id)
            )
        ).all()
    }

    now = utcnow()
    rows = []
    for offer in catalog.offers:
        country_id = countries[offer.country_code.upper()]
        rows.append(
            {
                "provider_id": provider_id,
                "upstream_key": offer.upstream_key,
                "catalog_product_id": umbrellas[(country_id, services[offer.service_code])],
                "operator_id": operators[(country_id, offer.operator_code)]
                if offer.operator_code
                else None,
                "cost": int(offer.cost),
                "price": rule.price(int(offer.cost)),
                "available": offer.available,
                "active": True,
                "updated_at": now,
            }
        )
    if rows:
        stmt = insert(Product).values(rows)
        # Price and stock move in place; the slot's catalog product and operator never do.
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["provider_id", "upstream_key"],
                set_={
                    "cost": stmt.excluded.cost,
                    "price": stmt.excluded.price,
                    "available": stmt.excluded.available,
                    "active": True,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
    keys = [offer.upstream_key for offer in catalog.offers]
    vanished = await session.execute(
        update(Product)
        .where(
            Product.provider_id == provider_id,
            Product.upstream_key.not_in(keys),
            Product.available > 0,
        )
        .values(available=0, updated_at=now)
    )
    return SyncReport(code, len(rows), vanished.rowcount or 0)  # type: ignore[attr-defined]
