"""GET /v1/catalog/*: shapes, filters, sorts, bounds, and what is (not) visible."""

import httpx
import pytest
from sqlalchemy import update

from app.catalog.models import Product
from tests.factories import AccountWithToken, Factory


@pytest.fixture
async def user(factory: Factory) -> AccountWithToken:
    await factory.sandbox_catalog()
    return await factory.account(balance=10_000)


async def get(client: httpx.AsyncClient, user: AccountWithToken, path: str, **params: object):
    response = await client.get(f"/v1/catalog/{path}", params=params, headers=user.headers)
    return response, response.json()


class TestCountries:
    async def test_lists_every_country_with_contract_fields(self, client, user):
        response, body = await get(client, user, "countries")
        assert response.status_code == 200
        assert body["success"] is True and "meta" not in body
        indonesia = next(c for c in body["data"] if c["code"] == "ID")
        assert indonesia == {
            "id": indonesia["id"],
            "code": "ID",
            "name": "Indonesia",
            "dial_code": "62",
            "emoji": "🇮🇩",
            "active": True,
        }
        assert len(body["data"]) >= 5
        assert all(c["dial_code"].isdigit() for c in body["data"])


class TestServices:
    async def test_without_country_lists_all(self, client, user):
        _, body = await get(client, user, "services")
        codes = {s["code"] for s in body["data"]}
        assert {"whatsapp", "telegram"} <= codes
        assert set(body["data"][0]) == {"id", "code", "name", "active"}

    async def test_with_country_only_services_in_stock_there(self, client, user, factory):
        _, countries = await get(client, user, "countries")
        us = next(c["id"] for c in countries["data"] if c["code"] == "US")
        _, body = await get(client, user, "services", country_id=us)
        codes = {s["code"] for s in body["data"]}
        assert "whatsapp" in codes
        assert "gojek" not in codes  # the sandbox sells no Gojek numbers in the US

    async def test_sold_out_service_disappears(self, client, user, factory, sessionmaker):
        _, countries = await get(client, user, "countries")
        indonesia = next(c["id"] for c in countries["data"] if c["code"] == "ID")
        _, services = await get(client, user, "services", country_id=indonesia)
        tiktok = next(s["id"] for s in services["data"] if s["code"] == "tiktok")
        _, products = await get(client, user, "products", country_id=indonesia, platform_id=tiktok)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Product)
                .where(Product.id.in_([p["id"] for p in products["data"]]))
                .values(available=0)
            )
        _, services = await get(client, user, "services", country_id=indonesia)
        assert tiktok not in {s["id"] for s in services["data"]}

    async def test_bad_country_id_is_422(self, client, user):
        response, body = await get(client, user, "services", country_id="abc")
        assert response.status_code == 422
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"]["fields"][0]["field"] == "country_id"


class TestProducts:
    async def test_product_fields_and_meta(self, client, user):
        response, body = await get(client, user, "products", limit=5)
        assert response.status_code == 200
        assert body["meta"]["page"] == 1 and body["meta"]["limit"] == 5
        assert body["meta"]["count"] > 5
        assert len(body["data"]) == 5
        product = body["data"][0]
        assert set(product) == {
            "id",
            "name",
            "country_id",
            "platform_id",
            "available",
            "price",
            "active",
            "catalog_product_id",
            "operator_id",
            "operator_name",
        }
        assert isinstance(product["price"], int) and product["available"] > 0
        assert product["active"] is True
        assert " - " in product["name"]

    async def test_name_is_platform_dash_country(self, client, user):
        _, countries = await get(client, user, "countries")
        indonesia = next(c["id"] for c in countries["data"] if c["code"] == "ID")
        _, services = await get(client, user, "services")
        wa = next(s["id"] for s in services["data"] if s["code"] == "whatsapp")
        _, body = await get(client, user, "products", country_id=indonesia, platform_id=wa)
        assert {p["name"] for p in body["data"]} == {"WhatsApp - Indonesia"}
        # Several tiers (prices) under one umbrella: the routed-ordering handle.
        assert len({p["catalog_product_id"] for p in body["data"]}) == 1
        assert len({p["price"] for p in body["data"]}) >= 3
        assert any(p["operator_name"] == "Telkomsel" for p in body["data"])

    @pytest.mark.parametrize(
        ("sort", "key", "reverse"),
        [
            ("price_asc", "price", False),
            ("price_desc", "price", True),
            ("available_asc", "available", False),
            ("available_desc", "available", True),
            ("name_asc", "name", False),
            ("name_desc", "name", True),
        ],
    )
    async def test_every_sort(self, client, user, sort, key, reverse):
        _, body = await get(client, user, "products", sort=sort, limit=10_000)
        values = [p[key] for p in body["data"]]
        assert values == sorted(values, reverse=reverse)
        assert len(set(values)) > 1

    async def test_unknown_sort_falls_back_to_price_asc(self, client, user):
        _, fallback = await get(client, user, "products", sort="cheapest_first", limit=10_000)
        _, explicit = await get(client, user, "products", sort="price_asc", limit=10_000)
        assert fallback["data"] == explicit["data"]

    async def test_pagination_walks_every_product_once(self, client, user):
        _, whole = await get(client, user, "products", limit=10_000)
        seen = []
        page = 1
        while True:
            _, body = await get(client, user, "products", limit=7, page=page)
            assert body["meta"]["count"] == len(whole["data"])
            if not body["data"]:
                break
            seen += [p["id"] for p in body["data"]]
            page += 1
        assert seen == [p["id"] for p in whole["data"]]

    async def test_page_past_the_end_is_empty_with_count(self, client, user):
        _, body = await get(client, user, "products", limit=10, page=999)
        assert body["data"] == [] and body["meta"]["count"] > 0 and body["meta"]["page"] == 999

    async def test_defaults(self, client, user):
        _, body = await get(client, user, "products")
        assert body["meta"]["limit"] == 1000 and body["meta"]["page"] == 1

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 10_001},
            {"page": 0},
            {"page": -1},
            {"limit": "x"},
            {"country_id": 0},
            {"operator_id": "1.5"},
        ],
    )
    async def test_out_of_bounds_is_422(self, client, user, params):
        response, body = await get(client, user, "products", **params)
        assert response.status_code == 422
        assert body["success"] is False
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["details"]["fields"][0]["field"] == next(iter(params))

    async def test_limit_bounds_accepted(self, client, user):
        for limit in (1, 10_000):
            response, body = await get(client, user, "products", limit=limit)
            assert response.status_code == 200 and body["meta"]["limit"] == limit

    async def test_filters(self, client, user):
        _, whole = await get(client, user, "products", limit=10_000)
        sample = next(p for p in whole["data"] if p["operator_id"] is not None)
        _, body = await get(
            client,
            user,
            "products",
            country_id=sample["country_id"],
            platform_id=sample["platform_id"],
            operator_id=sample["operator_id"],
        )
        assert body["data"] and all(
            (p["country_id"], p["platform_id"], p["operator_id"])
            == (sample["country_id"], sample["platform_id"], sample["operator_id"])
            for p in body["data"]
        )

    async def test_sold_out_and_inactive_tiers_are_hidden(self, client, user, sessionmaker):
        _, before = await get(client, user, "products", limit=10_000)
        first, second = before["data"][0]["id"], before["data"][1]["id"]
        async with sessionmaker() as session, session.begin():
            await session.execute(update(Product).where(Product.id == first).values(available=0))
            await session.execute(update(Product).where(Product.id == second).values(active=False))
        _, after = await get(client, user, "products", limit=10_000)
        ids = {p["id"] for p in after["data"]}
        assert first not in ids and second not in ids
        assert after["meta"]["count"] == before["meta"]["count"] - 2

    async def test_disabled_provider_hides_its_products(self, client, user, factory):
        await factory.set_provider_enabled("sandbox", False)
        _, body = await get(client, user, "products")
        assert body["data"] == [] and body["meta"]["count"] == 0


class TestOperators:
    async def _ids(self, client, user, country="ID", service="whatsapp"):
        _, countries = await get(client, user, "countries")
        _, services = await get(client, user, "services")
        return (
            next(c["id"] for c in countries["data"] if c["code"] == country),
            next(s["id"] for s in services["data"] if s["code"] == service),
        )

    async def test_any_first_when_agnostic_stock_exists(self, client, user):
        country_id, platform_id = await self._ids(client, user)
        response, body = await get(
            client, user, "operators", country_id=country_id, platform_id=platform_id
        )
        assert response.status_code == 200
        assert body["data"][0] == {
            "operator_id": None,
            "code": "any",
            "name": "Any operator",
            "local_name": None,
        }
        named = body["data"][1:]
        assert {o["code"] for o in named} >= {"telkomsel", "indosat"}
        assert all(set(o) == {"operator_id", "code", "name", "local_name"} for o in named)
        assert all(isinstance(o["operator_id"], int) for o in named)

    async def test_no_any_when_agnostic_stock_is_gone(self, client, user, sessionmaker):
        country_id, platform_id = await self._ids(client, user)
        async with sessionmaker() as session, session.begin():
            await session.execute(
                update(Product).where(Product.operator_id.is_(None)).values(available=0)
            )
        _, body = await get(
            client, user, "operators", country_id=country_id, platform_id=platform_id
        )
        assert body["data"] and all(o["code"] != "any" for o in body["data"])

    async def test_empty_when_there_is_no_operator_choice(self, client, user):
        country_id, platform_id = await self._ids(client, user, country="VN")
        _, body = await get(
            client, user, "operators", country_id=country_id, platform_id=platform_id
        )
        assert body["data"] == []

    @pytest.mark.parametrize("params", [{}, {"country_id": 1}, {"platform_id": 1}])
    async def test_both_params_required(self, client, user, params):
        response, body = await get(client, user, "operators", **params)
        assert response.status_code == 422
        assert body["error"]["code"] == "VALIDATION_ERROR"


class TestExchangeRate:
    async def test_default_pair_is_usd_idr(self, client, user, factory):
        await factory.rate("USD/IDR", "16250")
        response, body = await get(client, user, "exchange-rate")
        assert response.status_code == 200
        assert body["data"] == {
            "pair": "USD/IDR",
            "base_currency": "USD",
            "quote_currency": "IDR",
            "rate": 16250,
        }

    async def test_pair_is_case_insensitive_and_rate_an_integer(self, client, user, factory):
        await factory.rate("PKR/IDR", "57.6")
        _, body = await get(client, user, "exchange-rate", pair="pkr/idr")
        assert body["data"]["pair"] == "PKR/IDR" and body["data"]["rate"] == 58

    async def test_unknown_pair_is_404(self, client, user):
        response, body = await get(client, user, "exchange-rate", pair="EUR/IDR")
        assert response.status_code == 404 and body["error"]["code"] == "NOT_FOUND"

    @pytest.mark.parametrize("pair", ["USDIDR", "US/IDR", "USD/IDR/X", "💵/IDR"])
    async def test_malformed_pair_is_422(self, client, user, pair):
        response, body = await get(client, user, "exchange-rate", pair=pair)
        assert response.status_code == 422 and body["error"]["code"] == "VALIDATION_ERROR"
