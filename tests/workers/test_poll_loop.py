"""The poll loop runs every kind's step each round: orders and a second kind (a dummy queue
in its own schema, claimed the way a real kind claims: SKIP LOCKED plus a lease). A step
that crashes, or a loop killed mid-batch, leaves its rows leased; another loop takes them
once the lease has run out, and not before."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.polling import Lanes
from app.orders.context import OrdersContext
from tests.factories import poller_for

LEASE = 30.0


class DummyStep:
    """A second kind: its rows are done once handled. `crash` raises after the claim (the
    step's bug); `hang` never returns from the batch (a loop killed mid-batch)."""

    kind = "dummy"

    def __init__(self, engine: AsyncEngine, crash: bool = False, hang: bool = False) -> None:
        self.engine = engine
        self.crash = crash
        self.hang = hang
        self.claimed: list[int] = []
        self.chores_run = 0

    async def claim(self, now: datetime) -> list[Any]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "UPDATE polltest.dummies SET locked_until = :until WHERE id IN ("
                    " SELECT id FROM polltest.dummies WHERE done_at IS NULL"
                    " AND (locked_until IS NULL OR locked_until < :now)"
                    " ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING id"
                ),
                {"now": now, "until": now + timedelta(seconds=LEASE)},
            )
            batch = sorted(rows)  # RETURNING has no order
        self.claimed += [row.id for row in batch]
        return batch

    def size(self, batch: list[Any]) -> int:
        return len(batch)

    async def process(self, batch: list[Any], lanes: Lanes) -> None:
        if self.crash:
            raise RuntimeError("the dummy step crashed")
        if self.hang:
            await asyncio.Event().wait()
        await lanes.each(self._done, batch)

    async def _done(self, row: Any) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(
                text("UPDATE polltest.dummies SET done_at = now(), done_count = done_count + 1"
                     " WHERE id = :id AND done_at IS NULL"),
                {"id": row.id},
            )  # fmt: skip

    async def chores(self) -> None:
        self.chores_run += 1


@pytest.fixture
async def dummies(orders_ctx: OrdersContext) -> AsyncIterator[AsyncEngine]:
    """Five due dummy rows; the autocommit engine the step uses."""
    engine = orders_ctx.autocommit
    async with engine.connect() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS polltest CASCADE"))
        await conn.execute(text("CREATE SCHEMA polltest"))
        await conn.execute(
            text(
                "CREATE TABLE polltest.dummies (id int PRIMARY KEY, locked_until timestamptz,"
                " done_at timestamptz, done_count int NOT NULL DEFAULT 0)"
            )
        )
        await conn.execute(text("INSERT INTO polltest.dummies (id) SELECT generate_series(1, 5)"))
    yield engine
    async with engine.connect() as conn:
        await conn.execute(text("DROP SCHEMA polltest CASCADE"))


async def _done(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, done_count FROM polltest.dummies WHERE done_at IS NOT NULL")
        )
        done = sorted(rows)
    assert all(count == 1 for _, count in done)  # handled once, whoever handled it
    return [row_id for row_id, _ in done]


async def _order(client, factory) -> tuple[Any, int]:
    await factory.sandbox_catalog()
    user = await factory.account(balance=100_000)
    products = await client.get("/v1/catalog/products?limit=1", headers=user.headers)
    created = await client.post(
        "/v1/orders/create", json={"product_id": products.json()["data"][0]["id"]},
        headers=user.headers,
    )  # fmt: skip
    assert created.status_code == 200, created.text
    return user, created.json()["data"]["orders"][0]["id"]


async def _status(client, user, order_id: int) -> str:
    got = await client.get(f"/v1/orders/{order_id}", headers=user.headers)
    return str(got.json()["data"]["status"])


async def test_a_round_runs_every_kind(client, factory, clock, orders_ctx, dummies):
    user, order_id = await _order(client, factory)
    step = DummyStep(dummies)
    poller = poller_for(orders_ctx, step)
    clock.advance(11)  # past the sandbox's SMS delay: the order is due with its SMS

    assert await poller.tick() == 1 + 5
    assert await _status(client, user, order_id) == "OTP_RECEIVED"
    assert await _done(dummies) == [1, 2, 3, 4, 5]
    assert step.chores_run == 1
    assert poller.advanced == 6
    assert await poller.tick() == 0  # nothing due twice
    assert step.claimed == [1, 2, 3, 4, 5]


async def test_a_crashed_step_is_retaken_after_its_lease(
    client, factory, clock, orders_ctx, dummies
):
    user, order_id = await _order(client, factory)
    clock.advance(11)
    crashing = DummyStep(dummies, crash=True)

    # The other kind is not held back by the crash: the order gets its SMS this round.
    assert await poller_for(orders_ctx, crashing).tick() == 1
    assert await _status(client, user, order_id) == "OTP_RECEIVED"
    assert crashing.claimed == [1, 2, 3, 4, 5] and await _done(dummies) == []

    other = DummyStep(dummies)  # another worker
    poller = poller_for(orders_ctx, other)
    clock.advance(LEASE - 1)
    await poller.tick()
    assert other.claimed == [] and await _done(dummies) == []  # still leased

    clock.advance(2)
    await poller.tick()
    assert other.claimed == [1, 2, 3, 4, 5]
    assert await _done(dummies) == [1, 2, 3, 4, 5]


async def test_a_killed_loop_leaves_its_rows_to_the_next_after_the_lease(
    factory, clock, orders_ctx, dummies
):
    hanging = DummyStep(dummies, hang=True)
    killed = poller_for(orders_ctx, hanging)
    task = asyncio.create_task(killed.run())
    for _ in range(100):
        if hanging.claimed:
            break
        await asyncio.sleep(0.05)
    assert hanging.claimed == [1, 2, 3, 4, 5]
    task.cancel()  # killed mid-batch: nothing gives the lease back
    with pytest.raises(asyncio.CancelledError):
        await task

    other = DummyStep(dummies)
    poller = poller_for(orders_ctx, other)
    await poller.tick()
    assert other.claimed == [] and await _done(dummies) == []

    clock.advance(LEASE + 1)
    await poller.tick()
    assert await _done(dummies) == [1, 2, 3, 4, 5]
    await poller.tick()
    assert other.claimed == [1, 2, 3, 4, 5]  # each taken once
