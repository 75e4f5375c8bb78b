"""Many dispatchers on one backlog never double-send; a `smsgate worker` killed with
SIGKILL mid-delivery loses nothing: every committed event arrives at least once."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.engine import make_engine
from app.events.models import Event
from app.workers.dispatcher import Dispatcher
from tests.e2e.server import ROOT
from tests.webhooks.support import account_with_order, add_events, queued, set_url


async def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_concurrent_dispatchers_never_double_send(
    client, factory, sessionmaker, database_url, settings, allow_private, receivers
):
    receiver = receivers()
    expected: list[int] = []
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    expected += await add_events(sessionmaker, user.id, order_id, 60)
    for _ in range(5):  # more accounts, each with its own backlog
        other = await factory.account(balance=100_000)
        await set_url(client, other, receiver.url)
        expected += await add_events(sessionmaker, other.id, order_id, 30)

    # Four dispatchers, each on its own pool, one account per claim: they contend.
    one_at_a_time = settings.model_copy(update={"webhook_batch_size": 1})
    engines = [make_engine(database_url) for _ in range(4)]
    dispatchers = [Dispatcher(engine, one_at_a_time, idle_seconds=0.01) for engine in engines]
    tasks = [asyncio.create_task(d.run()) for d in dispatchers]
    try:

        async def done() -> bool:
            return await queued(sessionmaker) == 0

        await _wait_for(done, 60, "the backlog was not delivered")
    finally:
        for d in dispatchers:
            d.stop()
        await asyncio.gather(*tasks)
        for engine in engines:
            await engine.dispose()
    counts = receiver.event_ids()
    assert sorted(counts) == sorted(expected)
    assert set(counts.values()) == {1}, [e for e, n in counts.items() if n > 1]
    assert sum(d.delivered > 0 for d in dispatchers) >= 2  # they shared the work
    # Per account, in the order the events were created.
    async with sessionmaker() as session:
        owner = dict((await session.execute(select(Event.id, Event.account_id))).all())
    streams: dict[int, list[int]] = {}
    for r in receiver.requests:
        event_id = int(r.headers["x-webhook-event-id"])
        streams.setdefault(owner[event_id], []).append(event_id)
    assert all(ids == sorted(ids) for ids in streams.values())


def _worker(database_url: str, tmp: Path, **settings: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGATE_", "DATABASE"))}
    env.update({"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
                "SMSGATE_WEBHOOK_ALLOW_PRIVATE": "true", "SMSGATE_WEBHOOK_LEASE_SECONDS": "2",
                "SMSGATE_PROVIDERS": "sandbox",
                # The worker's poller must not add events of its own to the order.
                "SMSGATE_SANDBOX_SMS_DELAY_SECONDS": "100000", **settings})  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=tmp, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.e2e
async def test_a_killed_worker_loses_no_event(
    client, factory, sessionmaker, database_url, allow_private, receivers, tmp_path
):
    hold = threading.Event()
    receiver = receivers(hold=hold)  # the first worker's request hangs until it is killed
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, receiver.url)
    committed = await add_events(sessionmaker, user.id, order_id, 25)
    # A transition that rolls back never reaches the queue, so it can never be sent.
    async with sessionmaker() as session:
        async with session.begin():
            rolled_back = await add_events_in(session, user.id, order_id)
            await session.rollback()

    first = _worker(database_url, tmp_path, SMSGATE_WEBHOOK_TIMEOUT_SECONDS="30")
    try:
        await asyncio.get_running_loop().run_in_executor(None, receiver.arrived.wait, 30)
        assert receiver.requests, first.stderr.read() if first.stderr else ""
        os.kill(first.pid, signal.SIGKILL)  # mid-delivery: the receiver has not answered
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert len(receiver.requests) == 1 and await queued(sessionmaker) == 25
    receiver.hold = None
    hold.set()

    second = _worker(database_url, tmp_path)
    try:

        async def delivered() -> bool:
            return await queued(sessionmaker) == 0

        await _wait_for(delivered, 40, "the second worker did not deliver the backlog")
        second.send_signal(signal.SIGINT)
        assert second.wait(20) == 0, second.stderr.read() if second.stderr else ""
    finally:
        if second.poll() is None:
            second.kill()
    async with sessionmaker() as session:
        in_db = set((await session.execute(select(Event.id))).scalars())
    assert in_db == set(committed) and rolled_back not in in_db
    counts = receiver.event_ids()
    assert set(counts) == in_db
    # The event in flight when the worker died is sent again (at least once); no other is.
    assert counts[committed[0]] == 2 and all(counts[e] == 1 for e in committed[1:])
    got = [int(r.headers["x-webhook-event-id"]) for r in receiver.requests]
    assert got == [committed[0], *committed]


async def add_events_in(session, account_id: int, order_id: int) -> int:
    row = Event(account_id=account_id, subject_kind="order", order_id=order_id,
                     type="order.completed", payload={"event": "order.completed"})  # fmt: skip
    session.add(row)
    await session.flush()
    return row.id


async def _arrived(receiver) -> None:  # type: ignore[no-untyped-def]
    await asyncio.get_running_loop().run_in_executor(None, receiver.arrived.wait, 10)


async def test_a_patch_mid_batch_moves_the_rest_to_the_new_url(
    client, factory, sessionmaker, clock, dispatcher, allow_private, receivers
):
    """PATCH while a delivery to the old URL is in flight: that one event may still go to
    the old URL, every later one goes to the new URL with the new secret, and the old URL's
    answer is not counted against the new settings."""
    from app.webhooks.models import WebhookConfig

    hold = threading.Event()
    old = receivers(hold=hold, statuses=[500])
    new = receivers()
    user, order_id = await account_with_order(client, factory, sessionmaker)
    await set_url(client, user, old.url)
    events = await add_events(sessionmaker, user.id, order_id, 10)
    first = asyncio.create_task(dispatcher.tick())
    await _arrived(old)
    await set_url(client, user, new.url, webhook_secret="ab" * 32)
    old.hold = None
    hold.set()
    await first
    async with sessionmaker() as session:
        config = await session.get(WebhookConfig, user.id)
        assert config is not None and config.consecutive_failures == 0
        assert config.next_attempt_at is None
    await dispatcher.tick()
    assert len(old.requests) == 1
    assert sorted(new.event_ids()) == sorted(events)
    assert await queued(sessionmaker) == 0


async def test_no_more_claims_than_free_slots(
    client, factory, sessionmaker, clock, app, settings, allow_private, receivers
):
    """A dispatcher claims only what it can send at once: a claim waiting for a slot would
    outlive its lease and be sent by another dispatcher as well."""
    from app.webhooks import repository, service

    hold = threading.Event()
    slow = receivers(hold=hold)
    target = receivers()
    x, order_x = await account_with_order(client, factory, sessionmaker)
    await set_url(client, x, slow.url)
    await add_events(sessionmaker, x.id, order_x, 1)
    y = await factory.account(balance=100_000)
    await set_url(client, y, target.url)
    [event] = await add_events(sessionmaker, y.id, order_x, 1)
    async with sessionmaker() as session, session.begin():
        await repository.drop_stream(session, y.id)  # only a replay of y's event is queued
        await service.redeliver_event(session, event)
    one_slot = Dispatcher(
        app.state.runtime.engine, settings.model_copy(update={"webhook_concurrency": 1})
    )
    other = Dispatcher(app.state.runtime.engine, settings)
    try:
        busy = asyncio.create_task(one_slot.tick())
        await _arrived(slow)  # x's stream holds the only slot; y's replay was not claimed
        clock.advance(settings.webhook_lease_seconds + 1)
        await other.tick()
        slow.hold = None
        hold.set()
        await busy
        await one_slot.tick()
    finally:
        await one_slot.close()
        await other.close()
    assert target.event_ids()[event] == 1
