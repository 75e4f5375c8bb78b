"""Writing a provider's catalog into ours.

Canonical rows by natural key (ISO code, service slug), tier slots by (provider,
upstream_key). Ids never change; a tier that disappears is set to zero stock, never
repointed. Provider ids are mapped through `catalog_mappings` (app.catalog.mapping); an
offer whose country or service cannot be mapped is skipped and reported. Costs are
converted to IDR through the stored exchange rates, rounded up (a cost is never
understated), and priced by the provider's rule, never below cost.
"""

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from sqlalchemy import case, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import mapping
from app.catalog.models import (
    CatalogMapping,
    CatalogProduct,
    Country,
    ExchangeRate,
    Operator,
    Product,
    Provider,
    Service,
)
from app.catalog.pricing import PricingRule
from app.db.engine import Db
from app.kit.clock import utcnow
from app.providers.base import ProviderCatalog

_MAPPINGS = CatalogMapping.__table__


class MissingRate(Exception):
    """The provider prices in a currency we hold no rate for: nothing is written."""

    def __init__(self, currencies: set[str]) -> None:
        self.currencies = sorted(currencies)
        first = self.currencies[0]
        super().__init__(
            f"no exchange rate for {', '.join(c + '/IDR' for c in self.currencies)}; "
            f"set one with `smsgate rates set {first}/IDR <rate>`"
        )


@dataclass(frozen=True, slots=True)
class SyncReport:
    provider: str
    offers: int
    vanished: int
    unmapped_countries: list[str] = field(default_factory=list)  # "id (name)"
    unmapped_services: list[str] = field(default_factory=list)
    skipped_offers: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "offers": self.offers,
            "vanished": self.vanished,
            "skipped_offers": self.skipped_offers,
            "unmapped_countries": self.unmapped_countries,
            "unmapped_services": self.unmapped_services,
        }


async def ensure_provider(session: AsyncSession, code: str, name: str) -> int:
    await session.execute(
        insert(Provider)
        .values(code=code, name=name)
        .on_conflict_do_nothing(index_elements=["code"])
    )
    provider_id = await session.scalar(select(Provider.id).where(Provider.code == code))
    assert provider_id is not None
    return int(provider_id)


async def idr_rates(session: Db) -> dict[str, Decimal]:
    """IDR per one unit of each currency we hold a rate for (IDR itself is 1)."""
    rows = await session.execute(
        select(ExchangeRate.base_currency, ExchangeRate.rate).where(
            ExchangeRate.quote_currency == "IDR"
        )
    )
    rates = {str(base): Decimal(rate) for base, rate in rows}
    rates["IDR"] = Decimal(1)
    return rates


def to_idr(amount: Decimal, currency: str, rates: dict[str, Decimal]) -> int:
    """Whole IDR, rounded up. KeyError when there is no rate for `currency`."""
    return int((Decimal(amount) * rates[currency.upper()]).to_integral_value(ROUND_CEILING))


async def _ops_mappings(
    session: AsyncSession, provider_id: int, kind: str
) -> dict[str, str | None]:
    """Upstream id → canonical code, for the rows ops wrote (None: ops said "leave it out")."""
    rows = await session.execute(
        select(CatalogMapping.upstream_code, CatalogMapping.canonical_code, CatalogMapping.source)
        .where(CatalogMapping.provider_id == provider_id, CatalogMapping.kind == kind)
    )  # fmt: skip
    return {code: canonical for code, canonical, source in rows if source == "ops"}


async def _record_mappings(
    session: AsyncSession,
    provider_id: int,
    kind: str,
    resolved: dict[str, tuple[str, str | None]],
    now: Any,
) -> None:
    """Write what the sync resolved (or failed to); rows ops wrote keep their answer."""
    if not resolved:
        return
    stmt = insert(CatalogMapping).values(
        [
            {
                "provider_id": provider_id,
                "kind": kind,
                "upstream_code": code,
                "upstream_name": name,
                "canonical_code": canonical,
                "source": "auto",
                "last_seen_at": now,
            }
            for code, (name, canonical) in sorted(resolved.items())
        ]
    )
    excluded = stmt.excluded
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider_id", "kind", "upstream_code"],
            set_={
                "upstream_name": excluded.upstream_name,
                "last_seen_at": excluded.last_seen_at,
                # An ops row keeps its canonical code; an auto row follows the sync.
                "canonical_code": case(
                    (_MAPPINGS.c.source == "ops", _MAPPINGS.c.canonical_code),
                    else_=excluded.canonical_code,
                ),
            },
        )
    )


async def sync_catalog(
    session: AsyncSession,
    provider_id: int,
    code: str,
    catalog: ProviderCatalog,
    rule: PricingRule,
    rates: dict[str, Decimal] | None = None,
) -> SyncReport:
    now = utcnow()
    if rates is None:
        rates = await idr_rates(session)
    missing = {o.currency.upper() for o in catalog.offers} - set(rates)
    if missing:
        raise MissingRate(missing)

    # --- countries: provider id → ISO code --------------------------------------------
    ops_countries = await _ops_mappings(session, provider_id, "country")
    country_iso: dict[str, str | None] = {}
    for info in catalog.countries:
        country_iso[info.code] = (
            ops_countries[info.code]
            if info.code in ops_countries
            else mapping.resolve_country(info)
        )
    new_countries = []
    infos = {c.code: c for c in catalog.countries}
    for upstream_code, iso in country_iso.items():
        if iso is None:
            continue
        canonical = mapping.canonical_country(iso, infos[upstream_code])
        if canonical is None:
            country_iso[upstream_code] = None
            continue
        new_countries.append(canonical)
    if new_countries:
        await session.execute(
            insert(Country)
            .values(
                [
                    {"code": c.code, "name": c.name, "dial_code": c.dial_code, "emoji": c.emoji}
                    for c in {c.code: c for c in new_countries}.values()
                ]
            )
            .on_conflict_do_nothing(index_elements=["code"])
        )
    await _record_mappings(
        session,
        provider_id,
        "country",
        {c.code: (c.name, country_iso[c.code]) for c in catalog.countries},
        now,
    )

    # --- services: provider id → slug --------------------------------------------------
    ops_services = await _ops_mappings(session, provider_id, "service")
    service_slug = {
        s.code: ops_services[s.code] if s.code in ops_services else mapping.resolve_service(s)
        for s in catalog.services
    }
    names = {s.code: s.name for s in catalog.services}
    new_services = {
        slug: names[upstream] for upstream, slug in service_slug.items() if slug is not None
    }
    if new_services:
        await session.execute(
            insert(Service)
            .values([{"code": slug, "name": name} for slug, name in sorted(new_services.items())])
            .on_conflict_do_nothing(index_elements=["code"])
        )
    await _record_mappings(
        session,
        provider_id,
        "service",
        {s.code: (s.name, service_slug[s.code]) for s in catalog.services},
        now,
    )

    countries = dict((await session.execute(select(Country.code, Country.id))).all())
    services = dict((await session.execute(select(Service.code, Service.id))).all())

    def country_id(upstream: str) -> int | None:
        iso = country_iso.get(upstream)
        return countries.get(iso) if iso else None

    def service_id(upstream: str) -> int | None:
        slug = service_slug.get(upstream)
        return services.get(slug) if slug else None

    operator_rows = [
        {"country_id": cid, "code": o.code, "name": o.name, "local_name": o.local_name}
        for o in catalog.operators
        if (cid := country_id(o.country_code)) is not None
    ]
    if operator_rows:
        await session.execute(
            insert(Operator)
            .values(operator_rows)
            .on_conflict_do_nothing(index_elements=["country_id", "code"])
        )
    operators = {
        (cid, op_code): op_id
        for op_id, cid, op_code in (
            await session.execute(select(Operator.id, Operator.country_id, Operator.code))
        ).all()
    }

    mapped = []
    skipped = 0
    for offer in catalog.offers:
        cid, sid = country_id(offer.country_code), service_id(offer.service_code)
        if cid is None or sid is None:
            skipped += 1
            continue
        mapped.append((offer, cid, sid))

    pairs = {(cid, sid) for _, cid, sid in mapped}
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

    rows = []
    for offer, cid, sid in mapped:
        cost = to_idr(offer.cost, offer.currency, rates)
        rows.append(
            {
                "provider_id": provider_id,
                "upstream_key": offer.upstream_key,
                "catalog_product_id": umbrellas[(cid, sid)],
                "operator_id": operators.get((cid, offer.operator_code))
                if offer.operator_code
                else None,
                "cost": cost,
                "price": rule.price(cost),
                "upstream_cost": Decimal(offer.cost),
                "upstream_currency": offer.currency.upper(),
                "available": max(offer.available, 0),
                "active": True,
                "updated_at": now,
            }
        )
    if rows:
        stmt = insert(Product).values(rows)
        # Price and stock move in place; the slot's catalog product and operator never do.
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["provider_id", "upstream_key", "catalog_product_id"],
                set_={
                    "cost": stmt.excluded.cost,
                    "price": stmt.excluded.price,
                    "upstream_cost": stmt.excluded.upstream_cost,
                    "upstream_currency": stmt.excluded.upstream_currency,
                    "available": stmt.excluded.available,
                    "active": True,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )
    # Gone from the feed, or now mapped under another umbrella: stock to zero, never moved.
    current = [(row["upstream_key"], row["catalog_product_id"]) for row in rows]
    stale = [Product.provider_id == provider_id, Product.available > 0]
    if current:
        stale.append(tuple_(Product.upstream_key, Product.catalog_product_id).not_in(current))
    vanished = await session.execute(
        update(Product).where(*stale).values(available=0, updated_at=now)
    )
    return SyncReport(
        code,
        len(rows),
        vanished.rowcount or 0,  # type: ignore[attr-defined]
        sorted(f"{c.code} ({c.name})" for c in catalog.countries if country_iso[c.code] is None),
        sorted(f"{s.code} ({s.name})" for s in catalog.services if service_slug[s.code] is None),
        skipped,
    )
