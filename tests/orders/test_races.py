"""Concurrency against a real Postgres: many requests and pollers at once, money exact."""

import asyncio
import contextlib
import dataclasses

import httpx
import pytest
from sqlalchemy import func, select

from app.accounts.models import Account
from app.events.models import Event
from app.ledger import audit
from app.ledger.models import LedgerEntry
from app.orders.models import Order
from tests.factories import Factory, poller_for


async def _cheapest_product(client: httpx.AsyncClient, headers: dict[str, str]) -> dict:
    body = (await client.get("/v1/catalog/products", params={"limit": 1}, headers=headers)).json()
    return body["data"][0]


async def _audit_ok(sessionmaker) -> None:
    async with sessionmaker() as session:
        report = await audit.run(session)
    assert report.ok, report.problems


async def test_200_creates_against_a_balance_for_50(client, factory: Factory, sessionmaker):
    await factory.sandbox_catalog()
    probe = await factory.account(balance=0)
    product = await _cheapest_product(client, probe.headers)
    user = await factory.account(balance=50 * product["price"])

    async def create() -> httpx.Response:
        return await client.post(
            "/v1/orders/create", json={"product_id": product["id"]}, headers=user.headers
        )

    responses = await asyncio.gather(*(create() for _ in range(200)))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 50
    assert codes.count(409) == 150
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "INSUFFICIENT_BALANCE"
    }
    async with sessionmaker() as session:
        balance = await session.scalar(select(Account.balance).where(Account.id == user.id))
        live = await session.scalar(
            select(func.count()).where(Order.account_id == user.id, Order.status == "ACTIVE")
        )
        debits = await session.scalar(
            select(func.count()).where(
                LedgerEntry.account_id == user.id, LedgerEntry.kind == "order_debit"
            )
        )
    assert balance == 0
    assert live == 50 and debits == 50
    await _audit_ok(sessionmaker)


async def test_100_creates_with_one_idempotency_key(client, factory, sessionmaker, sandbox):
    # A slow upstream keeps the first request running while the others arrive.
    sandbox.settings = dataclasses.replace(sandbox.settings, latency_ms=300)
    await factory.sandbox_catalog()
    user = await factory.account(balance=1_000_000)
    probe = await _cheapest_product(client, user.headers)
    headers = {**user.headers, "Idempotency-Key": "one-key-for-all"}
    body = {"product_id": probe["id"]}

    responses = await asyncio.gather(
        *(client.post("/v1/orders/create", json=body, headers=headers) for _ in range(100))
    )
    ok = [r for r in responses if r.status_code == 200]
    busy = [r for r in responses if r.status_code == 409]
    assert len(ok) + len(busy) == 100
    assert ok, "the first request must succeed"
    assert all(r.json()["error"]["code"] == "REQUEST_IN_PROGRESS" for r in busy)
    assert len({r.content for r in ok}) == 1

    # After it finished, every retry replays the same bytes.
    again = await client.post("/v1/orders/create", json=body, headers=headers)
    assert again.status_code == 200 and again.content == ok[0].content
    async with sessionmaker() as session:
        orders = await session.scalar(select(func.count()).where(Order.account_id == user.id))
        debits = await session.scalar(select(func.count()).where(LedgerEntry.kind == "order_debit"))
        balance = await session.scalar(select(Account.balance).where(Account.id == user.id))
    assert orders == 1 and debits == 1
    assert balance == 1_000_000 - probe["price"]
    await _audit_ok(sessionmaker)


@pytest.mark.parametrize("round_", range(3))
async def test_cancel_finish_and_expiry_race(
    round_, client, factory, sessionmaker, sandbox, clock, orders_ctx
):
    """Cancel, finish, a duplicate cancel and two pollers hit the same expiring orders:
    every order ends in exactly one terminal state with exactly the right refunds."""
    await factory.sandbox_catalog()
    user = await factory.account(balance=10_000_000)
    product = await _cheapest_product(client, user.headers)

    async def create(n: int) -> list[int]:
        r = await client.post(
            "/v1/orders/create", json={"product_id": product["id"], "quantity": n},
            headers=user.headers,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        return [o["id"] for o in r.json()["data"]["orders"]]

    with_sms = await create(15)
    sandbox.settings = dataclasses.replace(sandbox.settings, no_sms_rate=1.0)
    without_sms = await create(15)

    clock.advance(11)
    await poller_for(orders_ctx).tick()  # the first 15 get their SMS
    clock.advance(1200)  # everything is now past its rental window

    async def post(action: str, order_id: int) -> httpx.Response:
        return await client.post(
            f"/v1/orders/{action}", json={"id": order_id}, headers=user.headers
        )

    calls = []
    for order_id in with_sms + without_sms:
        calls += [post("cancel", order_id), post("cancel", order_id), post("finish", order_id)]
    calls += [poller_for(orders_ctx).tick(), poller_for(orders_ctx).tick()]
    results = await asyncio.gather(*calls)
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]

    async with sessionmaker() as session:
        rows = (
            await session.execute(
                select(Order.id, Order.status, Order.amount).where(Order.account_id == user.id)
            )
        ).all()
        refunds = dict(
            (
                await session.execute(
                    select(LedgerEntry.order_id, func.count())
                    .where(LedgerEntry.kind == "order_refund")
                    .group_by(LedgerEntry.order_id)
                )
            ).all()
        )
        terminal_events = dict(
            (
                await session.execute(
                    select(Event.order_id, func.count())
                    .where(Event.type != "order.otp_received")
                    .group_by(Event.order_id)
                )
            ).all()
        )
    status = {r.id: r.status for r in rows}
    for order_id in with_sms:
        assert status[order_id] == "COMPLETED"
        assert refunds.get(order_id, 0) == 0
    for order_id in without_sms:
        assert status[order_id] in ("CANCELED", "EXPIRED")
        assert refunds.get(order_id) == 1
    # One terminal transition, one terminal event, per order.
    assert all(terminal_events.get(r.id) == 1 for r in rows)
    cancels_ok = [
        r for r in responses if r.status_code == 200 and "refund_amount" in r.json()["data"]
    ]
    assert len(cancels_ok) == sum(1 for o in without_sms if status[o] == "CANCELED")
    await _audit_ok(sessionmaker)


async def test_pollers_in_parallel_deliver_each_sms_once(
    client, factory, sessionmaker, clock, orders_ctx
):
    await factory.sandbox_catalog()
    user = await factory.account(balance=10_000_000)
    product = await _cheapest_product(client, user.headers)
    for _ in range(4):
        r = await client.post(
            "/v1/orders/create", json={"product_id": product["id"], "quantity": 25},
            headers=user.headers,
        )  # fmt: skip
        assert r.status_code == 200
    clock.advance(11)
    await asyncio.gather(*(poller_for(orders_ctx).tick() for _ in range(4)))
    async with sessionmaker() as session:
        per_order = (
            await session.execute(
                select(Event.order_id, func.count())
                .where(Event.type == "order.otp_received")
                .group_by(Event.order_id)
            )
        ).all()
        revisions = (await session.execute(select(Order.sms_revision))).scalars().all()
    assert len(per_order) == 100 and all(count == 1 for _, count in per_order)
    assert set(revisions) == {1}


async def test_a_large_quantity_is_bought_a_few_at_a_time(client, factory, sandbox, orders_ctx):
    """Purchases of one request overlap (bounded by SMSGATE_PURCHASE_CONCURRENCY), so a slow
    upstream does not make quantity 100 take 100 round trips in a row."""
    await factory.sandbox_catalog()
    user = await factory.account(balance=10_000_000)
    product = await _cheapest_product(client, user.headers)
    limit = orders_ctx.settings.purchase_concurrency
    in_flight = peak = 0
    original = sandbox.buy
    # Each purchase waits until `limit` of them are in flight at once (then none waits
    # again), rather than sleeping and hoping they overlap: code buying one at a time
    # would hold the first until the timeout and show a peak of 1.
    full = asyncio.Event()

    async def counting_buy(upstream_key: str, reference: str):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if peak >= limit:
            full.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(full.wait(), timeout=10)
            return await original(upstream_key, reference)
        finally:
            in_flight -= 1

    sandbox.buy = counting_buy  # type: ignore[method-assign]
    try:
        response = await client.post(
            "/v1/orders/create", json={"product_id": product["id"], "quantity": 40},
            headers=user.headers,
        )  # fmt: skip
    finally:
        sandbox.buy = original  # type: ignore[method-assign]
    body = response.json()["data"]
    assert response.status_code == 200 and len(body["orders"]) == 40 and body["failed_count"] == 0
    assert len({o["id"] for o in body["orders"]}) == 40
    assert peak == limit  # overlapping, and bounded


async def test_quantity_beyond_the_balance_creates_what_it_covers(client, factory, sessionmaker):
    await factory.sandbox_catalog()
    probe = await factory.account(balance=0)
    product = await _cheapest_product(client, probe.headers)
    user = await factory.account(balance=7 * product["price"] + product["price"] // 2)
    response = await client.post(
        "/v1/orders/create", json={"product_id": product["id"], "quantity": 30},
        headers=user.headers,
    )  # fmt: skip
    body = response.json()["data"]
    assert len(body["orders"]) == 7 and body["failed_count"] == 23
    await _audit_ok(sessionmaker)
