"""Crashes between the debit and the activation: the reconciler settles every PENDING order
(adopts the number when the upstream has it, else refunds) and never buys again."""

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.accounts.models import Account
from app.ledger import audit
from app.ledger.models import LedgerEntry
from app.orders import service
from app.orders.models import Order
from app.orders.schemas import OrderCreate
from tests.e2e.server import running_server


async def _pending_order(orders_ctx, account_id: int, product_id: int) -> tuple[int, service.Offer]:
    """Phase one of a create, then 'crash': the order stays PENDING, the money is taken."""
    async with orders_ctx.autocommit.connect() as session:
        [offer] = await service.resolve_offers(
            orders_ctx, session, OrderCreate(product_id=product_id)
        )
    order_id = await service.debit_pending(orders_ctx, account_id, offer, None)
    assert order_id is not None
    return order_id, offer


async def _state(sessionmaker, order_id: int, account_id: int):
    async with sessionmaker() as session:
        order = (await session.execute(select(Order).where(Order.id == order_id))).scalar_one()
        balance = await session.scalar(select(Account.balance).where(Account.id == account_id))
        report = await audit.run(session)
    assert report.ok, report.problems
    return order, balance


async def _setup(factory, client):
    await factory.sandbox_catalog()
    user = await factory.account(balance=100_000)
    product = (await client.get("/v1/catalog/products?limit=1", headers=user.headers)).json()[
        "data"
    ][0]
    return user, product


async def test_purchase_made_before_the_crash_is_adopted(
    client, factory, sessionmaker, sandbox, clock, orders_ctx, poller
):
    user, product = await _setup(factory, client)
    order_id, offer = await _pending_order(orders_ctx, user.id, product["id"])
    purchase = await sandbox.buy(offer.upstream_key, str(order_id))  # bought; answer lost

    await poller.tick()  # too young: the request that made it may still be running
    order, _ = await _state(sessionmaker, order_id, user.id)
    assert order.status == "PENDING"

    clock.advance(31)
    await poller.tick()
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "ACTIVE"
    assert order.upstream_order_id == purchase.upstream_order_id
    assert order.phone_number == purchase.phone_number
    assert balance == 100_000 - product["price"]
    got = await client.get(f"/v1/orders/{order_id}", headers=user.headers)
    assert got.status_code == 200 and got.json()["data"]["status"] == "ACTIVE"


async def test_purchase_that_never_happened_is_refunded(
    client, factory, sessionmaker, clock, orders_ctx, poller
):
    user, product = await _setup(factory, client)
    order_id, _ = await _pending_order(orders_ctx, user.id, product["id"])
    clock.advance(31)
    await poller.tick()
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "FAILED" and balance == 100_000
    # Internal states are not the client's business.
    assert (await client.get(f"/v1/orders/{order_id}", headers=user.headers)).status_code == 404
    await poller.tick()  # nothing left to do, nothing done twice
    _, balance = await _state(sessionmaker, order_id, user.id)
    assert balance == 100_000


async def test_late_purchase_of_a_failed_item_is_released(
    client, factory, sessionmaker, sandbox, clock, orders_ctx, poller
):
    """The client was told the item failed (timeout); the upstream sold it after all: the
    number goes back upstream and the money back to the client."""
    user, product = await _setup(factory, client)
    sandbox.fail_next = ["timeout", "timeout"]  # the request and its in-request look-up...
    async with orders_ctx.autocommit.connect() as session:
        [offer] = await service.resolve_offers(
            orders_ctx, session, OrderCreate(product_id=product["id"])
        )
    result = service.CreateResult()
    original_find = sandbox.find_purchase

    async def lost(reference: str):  # ...both lose their answers
        return None

    sandbox.find_purchase = lost  # type: ignore[method-assign]
    try:
        assert await service.buy_one(orders_ctx, user.id, [offer], set(), result) is None
    finally:
        sandbox.find_purchase = original_find  # type: ignore[method-assign]
    async with sessionmaker() as session:
        order = (
            await session.execute(select(Order).where(Order.account_id == user.id))
        ).scalar_one()
    assert order.status == "PENDING" and order.reconcile == "release"

    clock.advance(31)
    clock.advance(120)  # past the sandbox's minimum cancel window, so the release succeeds
    await poller.tick()  # reconcile: FAILED + refund, release scheduled
    await poller.tick()  # the release itself
    order, balance = await _state(sessionmaker, order.id, user.id)
    assert order.status == "FAILED" and balance == 100_000
    assert order.release_action is None
    # An SMS reached the number meanwhile, so it could not be canceled: it was finished.
    status = await sandbox.status(order.upstream_order_id)
    assert status.state.value == "finished"


@pytest.mark.e2e
async def test_killed_server_then_restart_settles_everything(
    factory, sessionmaker, database_url, tmp_path: Path
):
    await factory.sandbox_catalog()
    user = await factory.account(balance=1_000_000)
    env = {
        "DATABASE_URL": database_url,
        "SMSGATE_BOOTSTRAP_DEMO": "false",
        "SMSGATE_TOKEN_CACHE_SECONDS": "0",
        "SMSGATE_RECONCILE_AFTER_SECONDS": "1",
        "SMSGATE_POLL_INTERVAL_SECONDS": "0.2",
    }
    # Every upstream call of the first server hangs a minute (the sandbox's maximum), so the
    # kill lands mid-purchase however slowly the five creates reach it (with a 3 s latency
    # a loaded machine let the first purchase finish before the fifth had begun). The
    # restarted server's upstream answers at once: it only has to look the orders up.
    hanging = {**env, "SMSGATE_SANDBOX_LATENCY_MS": "60000"}
    with running_server(hanging, tmp_path) as srv:
        async with httpx.AsyncClient(base_url=srv.base_url, headers=user.headers, timeout=30) as c:
            product = (await c.get("/v1/catalog/products?limit=1")).json()["data"][0]
            inflight = [
                asyncio.create_task(c.post("/v1/orders/create", json={"product_id": product["id"]}))
                for _ in range(5)
            ]
            deadline = time.monotonic() + 60  # a wait, not a timing: it ends when they arrive
            while await _count(sessionmaker, "PENDING") < 5:
                assert time.monotonic() < deadline, "the creates never reached the upstream call"
                await asyncio.sleep(0.05)
            os.kill(srv.process.pid, signal.SIGKILL)  # mid-purchase, money already taken
            srv.process.wait(10)
            for task in inflight:
                try:
                    await task
                except httpx.HTTPError:
                    pass
        async with sessionmaker() as session:
            balance = await session.scalar(select(Account.balance).where(Account.id == user.id))
        assert balance == 1_000_000 - 5 * product["price"]
        assert await _count(sessionmaker, "PENDING") == 5

    with running_server(env, tmp_path):
        deadline = time.monotonic() + 60
        while await _count(sessionmaker, "PENDING"):
            assert time.monotonic() < deadline, "the reconciler left PENDING orders"
            await asyncio.sleep(0.1)
    async with sessionmaker() as session:
        balance = await session.scalar(select(Account.balance).where(Account.id == user.id))
        debits = await session.scalar(select(func.count()).where(LedgerEntry.kind == "order_debit"))
        report = await audit.run(session)
    assert report.ok, report.problems
    assert debits == 5  # nothing was bought (or charged) a second time
    assert balance == 1_000_000  # the upstream never sold them: all refunded
    assert await _count(sessionmaker, "FAILED") == 5


async def _count(sessionmaker, status: str) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).where(Order.status == status)) or 0)


async def test_slow_purchase_adopted_by_the_reconciler_stays_the_clients(
    client, factory, sessionmaker, sandbox, clock, orders_ctx, poller
):
    """The upstream answered after the reconciler had already adopted the same purchase:
    the late activation returns the order (charged once), it does not give the number back."""
    user, product = await _setup(factory, client)
    order_id, offer = await _pending_order(orders_ctx, user.id, product["id"])
    purchase = await sandbox.buy(offer.upstream_key, str(order_id))
    clock.advance(31)
    await poller.tick()  # the reconciler adopts it
    late = await service.activate(orders_ctx, order_id, sandbox, purchase, None)
    assert late is not None and late.status == "ACTIVE"
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "ACTIVE" and order.release_action is None
    assert balance == 100_000 - product["price"]


async def test_slow_purchase_after_a_refund_is_given_back(
    client, factory, sessionmaker, sandbox, clock, orders_ctx, poller
):
    user, product = await _setup(factory, client)
    order_id, offer = await _pending_order(orders_ctx, user.id, product["id"])
    clock.advance(31)
    await poller.tick()  # nothing upstream yet: refunded
    purchase = await sandbox.buy(offer.upstream_key, str(order_id))  # ...then it lands
    assert await service.activate(orders_ctx, order_id, sandbox, purchase, None) is None
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "FAILED" and order.release_action == "cancel"
    assert balance == 100_000
    clock.advance(121)  # past the sandbox's cancel window
    await poller.tick()
    order, _ = await _state(sessionmaker, order_id, user.id)
    assert order.release_action is None
    assert (await sandbox.status(purchase.upstream_order_id)).state.value in (
        "canceled",
        "finished",
    )


async def test_orders_of_a_disabled_provider_still_expire_and_refund(
    client, factory, sessionmaker, sandbox, clock, orders_ctx, poller
):
    user, product = await _setup(factory, client)
    created = await client.post(
        "/v1/orders/create", json={"product_id": product["id"]}, headers=user.headers
    )
    order_id = created.json()["data"]["orders"][0]["id"]
    removed = orders_ctx.providers.pop("sandbox")  # the operator turned it off
    try:
        clock.advance(60)
        await poller.tick()  # not expired: retried later, nothing else
        order, balance = await _state(sessionmaker, order_id, user.id)
        assert order.status == "ACTIVE" and balance == 100_000 - product["price"]
        clock.advance(1300)
        await poller.tick()
    finally:
        orders_ctx.providers["sandbox"] = removed
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "EXPIRED" and balance == 100_000


async def test_a_pending_order_of_a_disabled_provider_is_refunded(
    client, factory, sessionmaker, clock, orders_ctx, poller
):
    user, product = await _setup(factory, client)
    order_id, _ = await _pending_order(orders_ctx, user.id, product["id"])
    removed = orders_ctx.providers.pop("sandbox")
    try:
        clock.advance(31)
        await poller.tick()
    finally:
        orders_ctx.providers["sandbox"] = removed
    order, balance = await _state(sessionmaker, order_id, user.id)
    assert order.status == "FAILED" and balance == 100_000
