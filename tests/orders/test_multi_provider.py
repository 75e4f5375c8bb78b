"""Routing across two providers selling the same tiers: prefer_provider, failover, audit."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from app.catalog.models import Product, Provider
from app.cli.bootstrap import sync_provider_catalogs
from app.cli.main import cli
from app.idempotency import service as idempotency
from app.kit import clock as app_clock
from app.orders.models import Order
from app.providers.guard import GuardedProvider, GuardPolicy
from app.providers.sandbox import SandboxProvider


@pytest.fixture
def second_provider(orders_ctx) -> Iterator[SandboxProvider]:
    """A second upstream (another sandbox) enabled next to the first, for one test."""
    other = SandboxProvider(orders_ctx.providers["sandbox"].settings, code="other")
    orders_ctx.providers["other"] = other
    orders_ctx.offers_cache.clear()
    yield other
    del orders_ctx.providers["other"]
    orders_ctx._codes_by_id.clear()


async def _umbrella(client, headers) -> int:
    product = (await client.get("/v1/catalog/products?limit=1", headers=headers)).json()["data"][0]
    return int(product["catalog_product_id"])


async def _provider_of(sessionmaker, order_id: int) -> str:
    async with sessionmaker() as session:
        return str(
            await session.scalar(
                select(Provider.code)
                .join(Order, Order.provider_id == Provider.id)
                .where(Order.id == order_id)
            )
        )


async def test_prefer_provider_is_honoured_and_soft(
    client, factory, sessionmaker, sandbox, second_provider
):
    await factory.sandbox_catalog()
    await sync_provider_catalogs(sessionmaker, {"other": second_provider})
    user = await factory.account(balance=1_000_000)
    umbrella = await _umbrella(client, user.headers)

    async def create(**extra) -> dict:
        body = {"catalog_product_id": umbrella, **extra}
        response = await client.post("/v1/orders/create", json=body, headers=user.headers)
        assert response.status_code == 200, response.text
        return response.json()["data"]["orders"][0]

    # Same prices at both: the preference decides, case-insensitively.
    preferred = await create(prefer_provider="OTHER")
    assert await _provider_of(sessionmaker, preferred["id"]) == "other"
    preferred = await create(prefer_provider="sandbox")
    assert await _provider_of(sessionmaker, preferred["id"]) == "sandbox"

    # Soft: the preferred provider has no numbers for this tier, the other one sells it.
    async with sessionmaker() as session:
        keys = (
            (
                await session.execute(
                    select(Product.upstream_key).where(Product.catalog_product_id == umbrella)
                )
            )
            .scalars()
            .all()
        )
    second_provider.sold_out.update(keys)
    fallback = await create(prefer_provider="other")
    assert await _provider_of(sessionmaker, fallback["id"]) == "sandbox"
    assert fallback["amount"] == preferred["amount"]


async def test_failover_to_the_other_provider(
    client, factory, sessionmaker, sandbox, second_provider
):
    await factory.sandbox_catalog()
    await sync_provider_catalogs(sessionmaker, {"other": second_provider})
    user = await factory.account(balance=1_000_000)
    umbrella = await _umbrella(client, user.headers)
    async with sessionmaker() as session:
        keys = (
            (
                await session.execute(
                    select(Product.upstream_key).where(Product.catalog_product_id == umbrella)
                )
            )
            .scalars()
            .all()
        )
    sandbox.sold_out.update(keys)  # the first provider has nothing for this umbrella
    response = await client.post(
        "/v1/orders/create", json={"catalog_product_id": umbrella, "quantity": 3},
        headers=user.headers,
    )  # fmt: skip
    body = response.json()["data"]
    assert response.status_code == 200 and body["failed_count"] == 0
    assert {await _provider_of(sessionmaker, o["id"]) for o in body["orders"]} == {"other"}
    balance = (await client.get("/v1/balance", headers=user.headers)).json()["data"]["balance"]
    assert balance == 1_000_000 - sum(o["amount"] for o in body["orders"])


def test_audit_reports_a_tampered_balance(database_url, factory) -> None:
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    created = runner.invoke(cli, ["accounts", "create", "audited", "--balance", "5000"], env=env)
    assert created.exit_code == 0, created.output
    clean = runner.invoke(cli, ["audit"], env=env)
    assert clean.exit_code == 0 and '"ok": true' in clean.stdout

    import asyncio

    from app.db.engine import make_engine

    async def tamper() -> None:
        engine = make_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE accounts SET balance = balance + 1"))
        await engine.dispose()

    asyncio.run(tamper())
    dirty = runner.invoke(cli, ["audit"], env=env)
    assert dirty.exit_code == 1
    assert '"balance_differs_from_ledger"' in dirty.stdout
    assert '"balance": 5001' in dirty.stdout and '"ledger_sum": 5000' in dirty.stdout


async def test_idempotency_keys_are_purged_after_a_day(client, factory, sessionmaker, poller):
    await factory.sandbox_catalog()
    user = await factory.account(balance=100_000)
    product = (await client.get("/v1/catalog/products?limit=1", headers=user.headers)).json()
    body = {"product_id": product["data"][0]["id"]}
    headers = {**user.headers, "Idempotency-Key": "old-key"}
    assert (await client.post("/v1/orders/create", json=body, headers=headers)).status_code == 200
    async with sessionmaker() as session, session.begin():
        kept = await idempotency.purge(session, app_clock.utcnow() - timedelta(hours=24))
        assert kept == 0  # a fresh key stays
        purged = await idempotency.purge(session, app_clock.utcnow() + timedelta(seconds=1))
    assert purged == 1
    # After the purge the key is free again: the same request is a new order.
    again = await client.post("/v1/orders/create", json=body, headers=headers)
    assert again.status_code == 200
    async with sessionmaker() as session:
        assert len((await session.execute(select(Order.id))).all()) == 2


async def test_a_preferred_offer_too_dear_for_the_balance_falls_back_to_a_cheaper_one(
    client, factory, sessionmaker, sandbox, second_provider
):
    await factory.sandbox_catalog()
    await sync_provider_catalogs(sessionmaker, {"other": second_provider})
    async with sessionmaker() as session, session.begin():  # the preferred one is dearer
        await session.execute(
            text(
                "UPDATE products SET price = price * 3 WHERE provider_id = "
                "(SELECT id FROM providers WHERE code = 'other')"
            )
        )
    probe = await factory.account(balance=0)
    umbrella = await _umbrella(client, probe.headers)
    tiers = (await client.get("/v1/catalog/products?limit=10000", headers=probe.headers)).json()
    cheapest = min(t["price"] for t in tiers["data"] if t["catalog_product_id"] == umbrella)
    user = await factory.account(balance=cheapest)  # enough for the cheapest tier only
    body = {"catalog_product_id": umbrella, "prefer_provider": "other"}

    response = await client.post("/v1/orders/create", json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    order = response.json()["data"]["orders"][0]
    assert order["amount"] == cheapest
    assert await _provider_of(sessionmaker, order["id"]) == "sandbox"
    balance = (await client.get("/v1/balance", headers=user.headers)).json()["data"]["balance"]
    assert balance == 0
    # Nothing affordable at all: 409 INSUFFICIENT_BALANCE, and no order left behind.
    again = await client.post("/v1/orders/create", json=body, headers=user.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    async with sessionmaker() as session:
        orders = (await session.execute(select(Order.status))).scalars().all()
    assert orders == ["ACTIVE"]


async def test_routing_skips_a_provider_whose_breaker_is_open(
    client, factory, sessionmaker, sandbox, orders_ctx, clock
):
    """Two garbage answers open `other`'s breaker; routed orders then go to the sandbox
    without debiting anyone for `other` again, until the cooldown lets one trial through."""
    inner = SandboxProvider(sandbox.settings, code="other", clock=lambda: clock.now.timestamp())
    other = GuardedProvider(inner, GuardPolicy(failures=2, cooldown_seconds=30))
    orders_ctx.providers["other"] = other
    orders_ctx.offers_cache.clear()
    try:
        await factory.sandbox_catalog()
        await sync_provider_catalogs(sessionmaker, {"other": inner})
        user = await factory.account(balance=1_000_000)
        umbrella = await _umbrella(client, user.headers)
        body = {"catalog_product_id": umbrella, "prefer_provider": "other"}

        inner.fail_next = ["garbage", "garbage"]
        for _ in range(2):  # each fails over to the sandbox after other's garbage
            response = await client.post("/v1/orders/create", json=body, headers=user.headers)
            order = response.json()["data"]["orders"][0]
            assert await _provider_of(sessionmaker, order["id"]) == "sandbox"
        assert not other.usable()

        async with sessionmaker() as session:
            failed_before = await session.scalar(
                text("SELECT count(*) FROM orders WHERE status = 'FAILED'")
            )
        assert failed_before == 2
        for _ in range(3):
            response = await client.post("/v1/orders/create", json=body, headers=user.headers)
            order = response.json()["data"]["orders"][0]
            assert await _provider_of(sessionmaker, order["id"]) == "sandbox"
        async with sessionmaker() as session:
            assert (
                await session.scalar(text("SELECT count(*) FROM orders WHERE status = 'FAILED'"))
                == failed_before
            )  # skipped before any money moved

        clock.advance(31)  # half-open: the trial goes to `other` and closes the breaker
        response = await client.post("/v1/orders/create", json=body, headers=user.headers)
        order = response.json()["data"]["orders"][0]
        assert await _provider_of(sessionmaker, order["id"]) == "other"
        assert other.usable()
    finally:
        del orders_ctx.providers["other"]
        orders_ctx._codes_by_id.clear()
