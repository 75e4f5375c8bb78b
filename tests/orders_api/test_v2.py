"""/v2: the same endpoints with money as USD objects and `meta.fx`; no rate, no money moves."""

from decimal import Decimal

import pytest

from app.kit.money import to_usd
from tests.orders_api.support import START, balance

RATE = "16250"


@pytest.fixture
async def usd(factory) -> None:
    await factory.rate("USD/IDR", RATE)


def fx_ok(body: dict, rate: int | str = 16250) -> None:
    fx = body["meta"]["fx"]
    assert fx["pair"] == "USD/IDR" and fx["rate"] == rate and fx["rate_as_of"].endswith("Z")


def is_money(value: dict, idr: int, rate: str, places: int) -> None:
    assert value == {
        "amount": to_usd(idr, Decimal(rate), places),
        "currency": "USD",
        "canonical_amount": idr,
        "canonical_currency": "IDR",
    }
    assert len(value["amount"].split(".")[1]) == places


class TestCatalog:
    async def test_products_priced_in_usd_beside_pagination(self, client, user, usd):
        v1 = (await client.get("/v1/catalog/products?limit=5", headers=user.headers)).json()
        v2 = (await client.get("/v2/catalog/products?limit=5", headers=user.headers)).json()
        assert [p["id"] for p in v2["data"]] == [p["id"] for p in v1["data"]]
        for old, new in zip(v1["data"], v2["data"], strict=True):
            is_money(new["price"], old["price"], RATE, 4)
            assert {k: v for k, v in new.items() if k != "price"} == {
                k: v for k, v in old.items() if k != "price"
            }
        assert {k: v2["meta"][k] for k in ("page", "limit", "count")} == v1["meta"]
        fx_ok(v2)

    @pytest.mark.parametrize(
        "path", ["countries", "services", "operators?country_id=1&platform_id=1"]
    )
    async def test_money_free_endpoints_equal_v1_even_without_a_rate(self, client, user, path):
        v1 = await client.get(f"/v1/catalog/{path}", headers=user.headers)
        v2 = await client.get(f"/v2/catalog/{path}", headers=user.headers)
        assert v2.status_code == 200 and v2.json() == v1.json()

    async def test_exchange_rate_is_the_bare_receipt(self, client, user, usd):
        body = (await client.get("/v2/catalog/exchange-rate", headers=user.headers)).json()
        assert set(body["data"]) == {"pair", "rate", "rate_as_of"} and body["data"]["rate"] == 16250
        other = await client.get("/v2/catalog/exchange-rate?pair=EUR/IDR", headers=user.headers)
        assert other.status_code == 404

    async def test_a_fractional_rate_is_a_string(self, client, user, factory):
        await factory.rate("USD/IDR", "16250.5")
        body = (await client.get("/v2/catalog/exchange-rate", headers=user.headers)).json()
        assert body["data"]["rate"] == "16250.5"


class TestBalance:
    async def test_balance_has_two_decimals(self, client, user, usd):
        body = (await client.get("/v2/balance", headers=user.headers)).json()
        is_money(body["data"]["balance"], START, RATE, 2)
        fx_ok(body)


class TestNoRate:
    async def test_503_before_any_money_moves(self, client, user, catalog):
        body = {"product_id": catalog.tiers[0].id}
        response = await client.post("/v2/orders/create", json=body, headers=user.headers)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "FX_RATE_UNAVAILABLE"
        assert await balance(client, user) == START
        listing = await client.get("/v1/orders", headers=user.headers)
        assert listing.json()["data"] == []
        for path in ("/v2/balance", "/v2/catalog/products", "/v2/orders"):
            assert (await client.get(path, headers=user.headers)).status_code == 503


class TestOrders:
    async def test_create_floors_max_and_ceils_min(self, client, user, catalog, usd):
        cheapest = catalog.tiers[0].price  # 3400 IDR = 0.20923 USD
        routed = {"catalog_product_id": catalog.cp}
        below = await client.post(
            "/v2/orders/create", json={**routed, "max_price": "0.2092"}, headers=user.headers
        )  # 3399.5 IDR, floored to 3399: the 3400 tier is out
        assert below.status_code == 422 and below.json()["error"]["code"] == "NO_OFFER_AVAILABLE"
        just = await client.post(
            "/v2/orders/create", json={**routed, "max_price": "0.2093", "min_price": "0.2092"},
            headers=user.headers,
        )  # fmt: skip
        assert just.status_code == 200, just.text
        order = just.json()["data"]["orders"][0]
        is_money(order["amount"], cheapest, RATE, 4)
        fx_ok(just.json())
        assert await balance(client, user) == START - cheapest

    @pytest.mark.parametrize("bad", ["abc", "-1", "1e3", 0.5, 1, "0.123456789"])
    async def test_malformed_usd_limits_are_422(self, client, user, catalog, usd, bad):
        body = {"catalog_product_id": catalog.cp, "max_price": bad}
        response = await client.post("/v2/orders/create", json=body, headers=user.headers)
        assert response.status_code == 422
        assert response.json()["error"]["details"]["fields"][0]["field"] == "max_price"
        assert await balance(client, user) == START

    async def test_reads_cancel_and_rate_changes(
        self, client, user, catalog, usd, factory, clock, no_sms
    ):
        created = await client.post(
            "/v2/orders/create", json={"product_id": catalog.tiers[0].id}, headers=user.headers
        )
        order_id = created.json()["data"]["orders"][0]["id"]
        got = (await client.get(f"/v2/orders/{order_id}", headers=user.headers)).json()
        is_money(got["data"]["amount"], catalog.tiers[0].price, RATE, 4)
        v1_active = (await client.get("/v1/orders/active", headers=user.headers)).json()
        v2_active = (await client.get("/v2/orders/active", headers=user.headers)).json()
        assert v1_active == v2_active  # money-free

        await factory.rate("USD/IDR", "15000")  # between two requests
        listed = (await client.get("/v2/orders", headers=user.headers)).json()
        fx_ok(listed, 15000)
        is_money(listed["data"][0]["amount"], catalog.tiers[0].price, "15000", 4)

        clock.advance(121)
        canceled = (
            await client.post("/v2/orders/cancel", json={"id": order_id}, headers=user.headers)
        ).json()
        is_money(canceled["data"]["refund_amount"], catalog.tiers[0].price, "15000", 4)
        is_money(canceled["data"]["new_balance"], START, "15000", 2)
        fx_ok(canceled, 15000)

    async def test_v1_and_v2_creates_do_not_share_idempotency_keys(
        self, client, user, catalog, usd
    ):
        headers = {**user.headers, "Idempotency-Key": "same-key"}
        body = {"product_id": catalog.tiers[0].id}
        one = await client.post("/v1/orders/create", json=body, headers=headers)
        two = await client.post("/v2/orders/create", json=body, headers=headers)
        assert one.status_code == two.status_code == 200
        assert isinstance(one.json()["data"]["orders"][0]["amount"], int)
        assert isinstance(two.json()["data"]["orders"][0]["amount"], dict)
        replay = await client.post("/v2/orders/create", json=body, headers=headers)
        assert replay.content == two.content
        assert await balance(client, user) == START - 2 * catalog.tiers[0].price


async def test_webhook_settings_read_the_same_on_both(client, user):
    v1 = (await client.get("/v1/webhook", headers=user.headers)).json()
    v2 = (await client.get("/v2/webhook", headers=user.headers)).json()
    assert (
        v1
        == v2
        == {
            "success": True,
            "data": {
                "webhook_url": None,
                "webhook_secret": None,
                "webhook_disabled_at": None,
                "webhook_disabled_reason": None,
                "webhook_consecutive_failures": 0,
            },
        }
    )
