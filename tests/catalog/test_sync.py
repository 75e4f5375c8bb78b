"""Catalog sync: tier slots keep their ids across syncs, price and stock move in place,
vanished offers go to zero stock, and tiers of one (country, service) share one umbrella."""

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from app.catalog import sync
from app.catalog.models import CatalogProduct, Country, Operator, Product, Provider, Service
from app.catalog.pricing import PricingRule
from app.providers.base import CountryInfo, Offer, OperatorInfo, ProviderCatalog, ServiceInfo
from app.providers.sandbox import build_catalog
from tests.factories import Factory

EXACT = PricingRule(markup_percent=Decimal("20"), round_to=1)
COUNTRIES = (CountryInfo("ID", "Indonesia", "62"), CountryInfo("MY", "Malaysia", "60"))
SERVICES = (ServiceInfo("whatsapp", "WhatsApp"), ServiceInfo("telegram", "Telegram"))
OPERATORS = (OperatorInfo("ID", "telkomsel", "Telkomsel"), OperatorInfo("ID", "xl", "XL"))


def offer(key: str, cost: int = 1_000, available: int = 10, operator: str | None = None):
    country, service = key.split(":")[:2]
    return Offer(key, country, service, operator, cost, available)


def catalog(*offers: Offer) -> ProviderCatalog:
    return ProviderCatalog(COUNTRIES, SERVICES, OPERATORS, offers)


async def run_sync(
    sessionmaker, code: str, provider_catalog: ProviderCatalog, rule: PricingRule = EXACT
) -> sync.SyncReport:
    async with sessionmaker() as session, session.begin():
        provider_id = await sync.ensure_provider(session, code, code.title())
        return await sync.sync_catalog(session, provider_id, code, provider_catalog, rule)


async def products(sessionmaker, code: str | None = None) -> dict[str, Any]:
    """upstream_key → the product row, for one provider (or all)."""
    stmt = select(Product).join(Provider, Provider.id == Product.provider_id)
    if code is not None:
        stmt = stmt.where(Provider.code == code)
    async with sessionmaker() as session:
        return {p.upstream_key: p for p in await session.scalars(stmt)}


class TestSandboxResync:
    async def test_resync_keeps_every_product_id(self, factory: Factory, sessionmaker):
        await factory.sandbox_catalog()
        before = await products(sessionmaker)
        assert len(before) == len(build_catalog().offers) > 50
        await factory.sandbox_catalog()
        after = await products(sessionmaker)
        assert {k: p.id for k, p in after.items()} == {k: p.id for k, p in before.items()}
        assert {k: p.catalog_product_id for k, p in after.items()} == {
            k: p.catalog_product_id for k, p in before.items()
        }

    async def test_resync_adds_no_canonical_rows(self, factory: Factory, sessionmaker):
        async def counts() -> tuple[int, ...]:
            async with sessionmaker() as session:
                return tuple(
                    [
                        await session.scalar(select(func.count()).select_from(model))
                        for model in (Country, Service, CatalogProduct, Provider, Product)
                    ]
                )

        await factory.sandbox_catalog()
        first = await counts()
        await factory.sandbox_catalog()
        assert await counts() == first

    async def test_tiers_of_one_pair_share_the_umbrella(self, factory: Factory, sessionmaker):
        await factory.sandbox_catalog()
        rows = await products(sessionmaker)
        id_whatsapp = [p for k, p in rows.items() if k.startswith("ID:whatsapp:")]
        # any:standard, any:economy, any:premium and one per Indonesian operator
        assert len(id_whatsapp) == 3 + 4
        assert len({p.catalog_product_id for p in id_whatsapp}) == 1
        assert len({p.price for p in id_whatsapp}) > 3
        # Every (country, service) has its own umbrella.
        umbrellas = {tuple(k.split(":")[:2]): set() for k in rows}
        for key, product in rows.items():
            umbrellas[tuple(key.split(":")[:2])].add(product.catalog_product_id)
        assert all(len(ids) == 1 for ids in umbrellas.values())
        assert len({next(iter(ids)) for ids in umbrellas.values()}) == len(umbrellas)


class TestPriceAndStock:
    async def test_price_change_updates_in_place(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 1_000, 5)))
        first = (await products(sessionmaker))["ID:whatsapp:std"]
        assert (first.cost, first.price, first.available) == (1_000, 1_200, 5)

        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 2_000, 7)))
        second = (await products(sessionmaker))["ID:whatsapp:std"]
        assert second.id == first.id
        assert second.catalog_product_id == first.catalog_product_id
        assert (second.cost, second.price, second.available) == (2_000, 2_400, 7)
        assert second.updated_at >= first.updated_at

    async def test_price_follows_the_rule(self, sessionmaker):
        rule = PricingRule(markup_percent=Decimal(0), fixed_fee=50, round_to=100)
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 1_010)), rule)
        assert (await products(sessionmaker))["ID:whatsapp:std"].price == 1_100

    async def test_sold_out_offer_in_feed_is_kept_at_zero(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", available=0)))
        row = (await products(sessionmaker))["ID:whatsapp:std"]
        assert row.available == 0 and row.active is True


class TestVanishedOffers:
    async def test_missing_offer_goes_to_zero_stock_not_deleted(self, sessionmaker):
        both = catalog(
            offer("ID:whatsapp:std", 1_000, 10),
            offer("ID:whatsapp:tsel", 1_100, 20, operator="telkomsel"),
        )
        await run_sync(sessionmaker, "alpha", both)
        before = await products(sessionmaker)

        report = await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 1_000, 9)))
        assert (report.offers, report.vanished) == (1, 1)
        after = await products(sessionmaker)
        assert set(after) == set(before)
        gone = after["ID:whatsapp:tsel"]
        assert gone.available == 0
        # Not repointed: same slot, same umbrella, same operator, same price.
        kept = before["ID:whatsapp:tsel"]
        assert (gone.id, gone.catalog_product_id, gone.operator_id, gone.price) == (
            kept.id,
            kept.catalog_product_id,
            kept.operator_id,
            kept.price,
        )
        assert after["ID:whatsapp:std"].available == 9

    async def test_vanished_is_counted_once(self, sessionmaker):
        await run_sync(
            sessionmaker, "alpha", catalog(offer("ID:whatsapp:a"), offer("MY:whatsapp:b"))
        )
        assert (
            await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:a")))
        ).vanished == 1
        assert (
            await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:a")))
        ).vanished == 0

    async def test_returning_offer_gets_its_old_slot_back(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 1_000, 10)))
        slot = (await products(sessionmaker))["ID:whatsapp:std"].id
        await run_sync(sessionmaker, "alpha", catalog(offer("MY:whatsapp:std")))
        assert (await products(sessionmaker))["ID:whatsapp:std"].available == 0
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std", 1_000, 4)))
        back = (await products(sessionmaker))["ID:whatsapp:std"]
        assert (back.id, back.available) == (slot, 4)

    async def test_empty_feed_zeroes_only_that_provider(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std")))
        await run_sync(sessionmaker, "beta", catalog(offer("ID:whatsapp:std", 900, 3)))
        report = await run_sync(sessionmaker, "alpha", catalog())
        assert report.vanished == 1
        assert (await products(sessionmaker, "alpha"))["ID:whatsapp:std"].available == 0
        assert (await products(sessionmaker, "beta"))["ID:whatsapp:std"].available == 3

    async def test_slot_is_never_repointed_to_another_pair(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("ID:whatsapp:std")))
        original = (await products(sessionmaker))["ID:whatsapp:std"]
        # The provider reuses the key for another service: the slot keeps its umbrella.
        moved = Offer("ID:whatsapp:std", "MY", "telegram", None, 1_000, 10)
        await run_sync(sessionmaker, "alpha", catalog(moved))
        after = (await products(sessionmaker))["ID:whatsapp:std"]
        assert (after.id, after.catalog_product_id) == (original.id, original.catalog_product_id)


class TestUmbrella:
    async def test_shared_across_tiers_and_providers(self, sessionmaker):
        await run_sync(
            sessionmaker,
            "alpha",
            catalog(
                offer("ID:whatsapp:std", 1_000),
                offer("ID:whatsapp:vip", 3_000),
                offer("ID:whatsapp:tsel", 1_500, operator="telkomsel"),
                offer("ID:telegram:std", 800),
                offer("MY:whatsapp:std", 1_200),
            ),
        )
        await run_sync(sessionmaker, "beta", catalog(offer("ID:whatsapp:x", 950)))
        alpha, beta = await products(sessionmaker, "alpha"), await products(sessionmaker, "beta")
        umbrella = alpha["ID:whatsapp:std"].catalog_product_id
        assert alpha["ID:whatsapp:vip"].catalog_product_id == umbrella
        assert alpha["ID:whatsapp:tsel"].catalog_product_id == umbrella
        assert beta["ID:whatsapp:x"].catalog_product_id == umbrella
        others = {
            alpha["ID:telegram:std"].catalog_product_id,
            alpha["MY:whatsapp:std"].catalog_product_id,
        }
        assert umbrella not in others and len(others) == 2
        # Slots themselves are distinct rows per provider and key.
        ids = [p.id for p in (*alpha.values(), *beta.values())]
        assert len(set(ids)) == len(ids) == 6

    async def test_umbrella_matches_country_and_service(self, sessionmaker):
        await run_sync(sessionmaker, "alpha", catalog(offer("MY:telegram:std")))
        product = (await products(sessionmaker))["MY:telegram:std"]
        async with sessionmaker() as session:
            row = (
                await session.execute(
                    select(Country.code, Service.code)
                    .join(CatalogProduct, CatalogProduct.country_id == Country.id)
                    .join(Service, Service.id == CatalogProduct.service_id)
                    .where(CatalogProduct.id == product.catalog_product_id)
                )
            ).one()
        assert tuple(row) == ("MY", "telegram")

    async def test_operator_tier_points_at_its_operator(self, sessionmaker):
        await run_sync(
            sessionmaker,
            "alpha",
            catalog(offer("ID:whatsapp:xl", operator="xl"), offer("ID:whatsapp:any")),
        )
        rows = await products(sessionmaker)
        assert rows["ID:whatsapp:any"].operator_id is None
        async with sessionmaker() as session:
            code = await session.scalar(
                select(Operator.code).where(Operator.id == rows["ID:whatsapp:xl"].operator_id)
            )
        assert code == "xl"


class TestEnsureProvider:
    async def test_is_idempotent(self, sessionmaker):
        async with sessionmaker() as session, session.begin():
            first = await sync.ensure_provider(session, "alpha", "Alpha")
            second = await sync.ensure_provider(session, "alpha", "Alpha again")
            third = await sync.ensure_provider(session, "beta", "Beta")
        assert first == second != third
