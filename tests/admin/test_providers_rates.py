"""Providers (list, enable/disable) and exchange rates through /admin."""

import httpx

from tests.factories import Factory
from tests.orders_api.support import load_catalog


async def test_disable_a_provider_hides_its_offers_at_once(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker
) -> None:
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=100_000)
    listed = (await client.get("/admin/providers", headers=admin)).json()["data"]
    assert [(p["code"], p["enabled"], p["configured"]) for p in listed] == [("sandbox", True, True)]
    assert listed[0]["products"] >= listed[0]["in_stock_products"] > 0

    off = await client.post("/admin/providers/SANDBOX/disable", headers=admin)
    assert off.json()["data"]["enabled"] is False
    products = await client.get("/v1/catalog/products", headers=user.headers)
    assert products.json()["data"] == []
    refused = await client.post(
        "/v1/orders/create", json={"catalog_product_id": catalog.cp}, headers=user.headers
    )
    assert refused.json()["error"]["code"] == "NO_OFFER_AVAILABLE"

    on = await client.post("/admin/providers/sandbox/enable", headers=admin)
    assert on.json()["data"]["enabled"] is True
    bought = await client.post(
        "/v1/orders/create", json={"catalog_product_id": catalog.cp}, headers=user.headers
    )
    assert bought.status_code == 200, bought.text
    missing = await client.post("/admin/providers/nope/disable", headers=admin)
    assert missing.status_code == 404


async def test_rates_list_and_set(
    client: httpx.AsyncClient, admin: dict[str, str], database_url: str
) -> None:
    assert (await client.get("/admin/rates", headers=admin)).json()["data"] == []
    set_ = await client.post(
        "/admin/rates", json={"pair": "usd/idr", "rate": "16250.5"}, headers=admin
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["data"]["rate"] == "16250.5"
    await client.post("/admin/rates", json={"pair": "EUR/IDR", "rate": "17000"}, headers=admin)
    rates = (await client.get("/admin/rates", headers=admin)).json()["data"]
    assert [(r["pair"], r["rate"]) for r in rates] == [("EUR/IDR", "17000"), ("USD/IDR", "16250.5")]
    public = await client.get("/v1/catalog/exchange-rate?pair=USD/IDR", headers=admin)
    assert public.status_code == 401  # the admin token is not an account token
    for body, field in (
        ({"pair": "USD/IDR", "rate": "-1"}, "rate"),
        ({"pair": "USDIDR!", "rate": "1"}, "pair"),
        ({"pair": "USD/IDR"}, "rate"),
    ):
        bad = await client.post("/admin/rates", json=body, headers=admin)
        assert bad.status_code == 422, body
        assert field in [f["field"] for f in bad.json()["error"]["details"]["fields"]]


async def test_provider_health_pricing_mappings_and_sync_on_demand(
    client, factory, admin, sessionmaker, sandbox
):
    await factory.sandbox_catalog()
    listed = (await client.get("/admin/providers", headers=admin)).json()["data"]
    (sandbox_row,) = [p for p in listed if p["code"] == "sandbox"]
    assert sandbox_row["health"]["breaker_state_here"] == "closed"
    assert sandbox_row["health"]["last_sync_at"] is not None
    assert sandbox_row["pricing"] == {"markup_percent": None, "fixed_fee": None, "round_to": None}

    bad = await client.put("/admin/providers/sandbox/pricing", json={"markup_percent": -1},
                           headers=admin)  # fmt: skip
    assert bad.status_code == 422 and bad.json()["error"]["details"]["fields"]
    priced = await client.put(
        "/admin/providers/sandbox/pricing",
        json={"markup_percent": "50", "fixed_fee": 0, "round_to": 1},
        headers=admin,
    )
    assert priced.status_code == 200, priced.text
    synced = await client.post("/admin/providers/sandbox/sync", headers=admin)
    assert synced.status_code == 200 and synced.json()["data"]["offers"] > 50
    async with sessionmaker() as session:
        from sqlalchemy import select

        from app.catalog.models import Product

        rows = (await session.execute(select(Product.cost, Product.price))).all()
    assert rows and all(price == cost * 3 // 2 for cost, price in rows if cost % 2 == 0)

    mapped = await client.put(
        "/admin/providers/sandbox/mappings",
        json={"kind": "country", "upstream_code": "GB", "canonical_code": "zz"},
        headers=admin,
    )
    assert mapped.status_code == 422
    mapped = await client.put(
        "/admin/providers/sandbox/mappings",
        json={"kind": "service", "upstream_code": "gojek", "canonical_code": None},
        headers=admin,
    )
    assert mapped.status_code == 200
    await client.post("/admin/providers/sandbox/sync", headers=admin)
    unmapped = await client.get("/admin/providers/sandbox/mappings?unmapped=true", headers=admin)
    assert [m["upstream_code"] for m in unmapped.json()["data"]] == ["gojek"]
    missing = await client.post("/admin/providers/otpget/sync", headers=admin)
    assert missing.status_code == 404


async def test_pause_and_resume_a_provider_by_hand(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str], sessionmaker, app
) -> None:
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=100_000)
    guard = app.state.runtime.providers["sandbox"]

    paused = await client.post("/admin/providers/sandbox/pause", json={"seconds": 600},
                               headers=admin)  # fmt: skip
    assert paused.status_code == 200, paused.text
    data = paused.json()["data"]
    assert data["breaker_state"] == "open" and data["opened_until"] is not None
    assert not guard.usable()  # this process at once; the others at their next refresh
    listed = (await client.get("/admin/providers", headers=admin)).json()["data"]
    assert listed[0]["health"]["breaker_state"] == "open"
    assert listed[0]["health"]["last_error"] == "paused by ops"
    refused = await client.post(
        "/v1/orders/create", json={"catalog_product_id": catalog.cp}, headers=user.headers
    )
    assert refused.status_code != 200

    resumed = await client.post("/admin/providers/sandbox/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json()["data"]["breaker_state"] == "closed"
    assert guard.usable()
    bought = await client.post(
        "/v1/orders/create", json={"catalog_product_id": catalog.cp}, headers=user.headers
    )
    assert bought.status_code == 200, bought.text

    default = await client.post("/admin/providers/sandbox/pause", headers=admin)
    assert default.status_code == 200 and not guard.usable()  # no body: an hour
    bad = await client.post("/admin/providers/sandbox/pause", json={"seconds": 0},
                            headers=admin)  # fmt: skip
    assert bad.status_code == 422
    for action in ("pause", "resume"):
        missing = await client.post(f"/admin/providers/nope/{action}", headers=admin)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
