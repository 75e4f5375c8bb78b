"""Mapping provider ids onto the canonical catalog, currency conversion, per-provider
pricing rules, and the sync report of what could not be mapped."""

from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.catalog import jobs, mapping, sync
from app.catalog.models import CatalogMapping, Country, Product, Provider, Service
from app.catalog.pricing import PricingRule
from app.catalog.provider_settings import set_mapping
from app.providers.base import CountryInfo, Money, Offer, ProviderCatalog, ServiceInfo
from tests.factories import Factory

EXACT = PricingRule(markup_percent=Decimal("0"), round_to=1)


@pytest.mark.parametrize(
    ("name", "iso"),
    [
        ("Pakistan", "PK"),
        ("England", "GB"),
        ("USA", "US"),
        ("united states", "US"),
        ("Russia", "RU"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("  Canada ", "CA"),
        ("Random Facebook", None),
        ("Pakistan Server 2", None),  # no fuzzy guessing
        ("", None),
    ],
)
def test_country_names_resolve_exactly_or_not_at_all(name: str, iso: str | None):
    assert mapping.country_by_name(name) == iso


def test_stated_iso_code_wins_over_the_name():
    assert mapping.resolve_country(CountryInfo("7", "Englandia", iso_code="gb")) == "GB"
    assert mapping.resolve_country(CountryInfo("7", "England", iso_code="gbr")) == "GB"


@pytest.mark.parametrize(
    ("name", "slug"),
    [("WhatsApp", "whatsapp"), ("OpenAI / ChatGPT", "openai-chatgpt"), ("  ", None)],
)
def test_service_slugs(name: str, slug: str | None):
    assert mapping.service_slug(name) == slug


def test_new_country_rows_get_dial_code_and_flag():
    pk = mapping.canonical_country("PK")
    assert pk is not None and (pk.name, pk.dial_code, pk.emoji) == ("Pakistan", "92", "🇵🇰")
    assert mapping.canonical_country("QQ") is None


OTP_COUNTRIES = (CountryInfo("61", "Pakistan"), CountryInfo("33", "Canada"),
                 CountryInfo("99", "Atlantis"))  # fmt: skip
OTP_SERVICES = (ServiceInfo("101", "WhatsApp"), ServiceInfo("102", "Telegram"))


def otp_offer(key: str, cost: str = "60", currency: str = "PKR") -> Offer:
    country, service = key.split(":")
    return Offer(key, country, service, None, Decimal(cost), 100, currency)


async def run(sessionmaker, offers, rule=EXACT, code="otpget") -> sync.SyncReport:
    catalog = ProviderCatalog(OTP_COUNTRIES, OTP_SERVICES, (), tuple(offers))
    async with sessionmaker() as session, session.begin():
        provider_id = await sync.ensure_provider(session, code, code)
        return await sync.sync_catalog(session, provider_id, code, catalog, rule)


async def slots(sessionmaker) -> dict[str, Product]:
    async with sessionmaker() as session:
        return {p.upstream_key: p for p in await session.scalars(select(Product))}


class TestSyncMapping:
    async def test_pkr_costs_become_idr_rounded_up(self, factory: Factory, sessionmaker):
        await factory.rate("PKR/IDR", "58.37")
        report = await run(sessionmaker, [otp_offer("61:101", "60"), otp_offer("33:102", "55.5")])
        rows = await slots(sessionmaker)
        assert rows["61:101"].cost == 3_503  # 60 × 58.37 = 3502.2 → 3503
        assert rows["33:102"].cost == 3_240  # 55.5 × 58.37 = 3239.535 → 3240
        assert rows["61:101"].upstream_cost == Decimal("60")
        assert rows["61:101"].upstream_currency == "PKR"
        assert all(r.price >= r.cost for r in rows.values())
        assert report.offers == 2 and report.skipped_offers == 0

    async def test_unmapped_country_is_reported_and_its_offers_skipped(
        self, factory: Factory, sessionmaker
    ):
        await factory.rate("PKR/IDR", "58")
        report = await run(sessionmaker, [otp_offer("61:101"), otp_offer("99:101")])
        assert report.unmapped_countries == ["99 (Atlantis)"]
        assert report.skipped_offers == 1
        assert set(await slots(sessionmaker)) == {"61:101"}
        async with sessionmaker() as session:
            row = await session.scalar(
                select(CatalogMapping).where(CatalogMapping.upstream_code == "99")
            )
            assert row is not None and row.canonical_code is None and row.source == "auto"
            assert await session.scalar(select(Country.code).where(Country.code == "PK"))
            assert await session.scalar(select(Service.code).where(Service.code == "whatsapp"))

    async def test_an_ops_mapping_wins_and_survives_resync(self, factory: Factory, sessionmaker):
        await factory.rate("PKR/IDR", "58")
        await run(sessionmaker, [otp_offer("99:101")])
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(CatalogMapping)
                .where(CatalogMapping.upstream_code == "99")
                .values(canonical_code="PK", source="ops")
            )
        report = await run(sessionmaker, [otp_offer("99:101")])
        assert report.skipped_offers == 0 and report.unmapped_countries == []
        async with sessionmaker() as session:
            row = await session.scalar(
                select(CatalogMapping).where(CatalogMapping.upstream_code == "99")
            )
            assert (row.canonical_code, row.source) == ("PK", "ops")

    async def test_ops_can_leave_an_item_out(self, factory: Factory, sessionmaker):
        await factory.rate("PKR/IDR", "58")
        async with sessionmaker() as session, session.begin():
            provider_id = await sync.ensure_provider(session, "otpget", "otpget")
            session.add(CatalogMapping(provider_id=provider_id, kind="service",
                                       upstream_code="102", upstream_name="Telegram",
                                       canonical_code=None, source="ops"))  # fmt: skip
        report = await run(sessionmaker, [otp_offer("61:101"), otp_offer("61:102")])
        assert report.unmapped_services == ["102 (Telegram)"]
        assert set(await slots(sessionmaker)) == {"61:101"}

    async def test_no_rate_refuses_the_whole_sync(self, sessionmaker):
        with pytest.raises(sync.MissingRate, match="PKR/IDR"):
            await run(sessionmaker, [otp_offer("61:101")])
        assert await slots(sessionmaker) == {}

    async def test_provider_pricing_rule_overrides_the_default(
        self, factory: Factory, sessionmaker, settings
    ):
        await factory.rate("PKR/IDR", "50")
        await run(sessionmaker, [otp_offer("61:101", "60")])
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Provider)
                .where(Provider.code == "otpget")
                .values(markup_percent=Decimal("10"), fixed_fee=150, round_to=1000)
            )

        class Otp:
            name = "OTPGet"

            async def catalog(self) -> ProviderCatalog:
                return ProviderCatalog(OTP_COUNTRIES, OTP_SERVICES, (),
                                       (otp_offer("61:101", "60"),))  # fmt: skip

            async def balance(self) -> Money:
                return Money(Decimal("500.00"), "PKR")

        await jobs.sync_provider(sessionmaker, "otpget", Otp(), settings)  # type: ignore[arg-type]
        row = (await slots(sessionmaker))["61:101"]
        # 3000 IDR + 10 % + 150 = 3450 → rounded up to 4000
        assert (row.cost, row.price) == (3_000, 4_000)

    async def test_a_corrected_mapping_retires_the_old_slot(self, factory: Factory, sessionmaker):
        """England mapped to GB by name; ops say it is IE: the tier gets a new slot under the
        Irish umbrella, the old slot keeps its id and umbrella with zero stock."""
        await factory.rate("PKR/IDR", "58")
        countries = (CountryInfo("15", "England"),)
        offer = Offer("15:101", "15", "101", None, Decimal("60"), 100, "PKR")
        catalog = ProviderCatalog(countries, OTP_SERVICES, (), (offer,))

        async def sync_once() -> sync.SyncReport:
            async with sessionmaker() as session, session.begin():
                pid = await sync.ensure_provider(session, "otpget", "otpget")
                return await sync.sync_catalog(session, pid, "otpget", catalog, EXACT)

        await sync_once()
        (old,) = (await slots(sessionmaker)).values()
        async with sessionmaker() as session, session.begin():
            await set_mapping(session, "otpget", "country", "15", "ie")
        report = await sync_once()
        assert report.vanished == 1
        async with sessionmaker() as session:
            rows = {
                p.id: (p.catalog_product_id, p.available)
                for p in await session.scalars(select(Product).order_by(Product.id))
            }
            ie = await session.scalar(select(Country.id).where(Country.code == "IE"))
        assert rows[old.id] == (old.catalog_product_id, 0)
        (new_id,) = set(rows) - {old.id}
        assert rows[new_id][1] == 100 and rows[new_id][0] != old.catalog_product_id
        async with sessionmaker() as session:
            from app.catalog.models import CatalogProduct

            umbrella = await session.get(CatalogProduct, rows[new_id][0])
            assert umbrella is not None and umbrella.country_id == ie
