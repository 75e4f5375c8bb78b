"""`smsgate worker` as a real process: killed mid-round, its claimed orders wait out their
lease and another worker finishes them, each SMS applied once; SIGINT stops it cleanly."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select, update

from app.events.models import Event
from app.orders.models import Order
from tests.e2e.server import ROOT


def _worker(database_url: str, tmp: Path, **settings: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSGATE_", "DATABASE"))}
    env.update({"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
                "SMSGATE_SANDBOX_SMS_DELAY_SECONDS": "0", "SMSGATE_POLL_INTERVAL_SECONDS": "0.2",
                "SMSGATE_POLL_LEASE_SECONDS": "3", **settings})  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], cwd=tmp, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


async def _count(sessionmaker, *where) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Order).where(*where)) or 0)


async def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_killed_worker_leaves_nothing_behind(
    client, factory, sessionmaker, database_url, tmp_path
):
    await factory.sandbox_catalog()
    user = await factory.account(balance=1_000_000)
    product = (await client.get("/v1/catalog/products?limit=1", headers=user.headers)).json()
    created = await client.post(
        "/v1/orders/create", json={"product_id": product["data"][0]["id"], "quantity": 20},
        headers=user.headers,
    )  # fmt: skip
    assert created.status_code == 200 and created.json()["data"]["failed_count"] == 0

    async with sessionmaker() as session, session.begin():  # all due in the first round
        await session.execute(update(Order).values(next_poll_at=func.now()))
    # Every upstream call of the first worker hangs: it claims the orders, then dies.
    first = _worker(database_url, tmp_path, SMSGATE_SANDBOX_LATENCY_MS="30000")
    try:
        # A claim sets locked_until; a worker that dies never clears it (its lease is
        # 3 s, so "still leased" would be a window the check could miss).
        async def claimed() -> bool:
            return await _count(sessionmaker, Order.locked_until.is_not(None)) == 20

        try:
            await _wait_for(claimed, 20, "the first worker never claimed the orders")
        except AssertionError:
            first.kill()
            raise AssertionError(
                f"claimed {await _count(sessionmaker, Order.locked_until.is_not(None))}; "
                f"worker said: {first.stderr.read() if first.stderr else ''}"
            ) from None
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert await _count(sessionmaker, Order.status == "ACTIVE") == 20

    second = _worker(database_url, tmp_path)
    try:

        async def all_received() -> bool:
            return await _count(sessionmaker, Order.status == "OTP_RECEIVED") == 20

        await _wait_for(all_received, 30, "the second worker did not take over after the lease")
        second.send_signal(signal.SIGINT)
        assert second.wait(20) == 0, second.stderr.read() if second.stderr else ""
    finally:
        if second.poll() is None:
            second.kill()
    async with sessionmaker() as session:
        per_order = (
            await session.execute(select(Event.order_id, func.count()).group_by(Event.order_id))
        ).all()
        revisions = set((await session.execute(select(Order.sms_revision))).scalars())
    assert len(per_order) == 20 and all(n == 1 for _, n in per_order)
    assert revisions == {1}


async def test_worker_serves_its_health_and_metrics(
    client, factory, sessionmaker, database_url, tmp_path
):
    """On SMSGATE_WORKER_PORT the worker answers /healthz, /readyz and /metrics with its own
    process metrics (poller rounds, provider calls of its polls); SIGTERM still stops it."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from tests.e2e.server import free_port

    await factory.sandbox_catalog()
    user = await factory.account(balance=1_000_000)
    product = (await client.get("/v1/catalog/products?limit=1", headers=user.headers)).json()
    created = await client.post(
        "/v1/orders/create", json={"product_id": product["data"][0]["id"], "quantity": 3},
        headers=user.headers,
    )  # fmt: skip
    assert created.status_code == 200
    async with sessionmaker() as session, session.begin():
        await session.execute(update(Order).values(next_poll_at=func.now()))

    port = free_port()
    worker = _worker(database_url, tmp_path, SMSGATE_WORKER_PORT=str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=2) as http:

            async def polled() -> bool:
                try:
                    scraped = (await http.get("/metrics")).text
                except httpx.TransportError:
                    return False
                samples = {
                    (s.name, s.labels.get("operation")): s.value
                    for family in text_string_to_metric_families(scraped)
                    for s in family.samples
                }
                return samples.get(("smsgate_provider_calls_total", "status"), 0) >= 3

            await _wait_for(polled, 30, "the worker's /metrics never showed its polls")
            health = await http.get("/healthz")
            assert health.status_code == 200 and health.json()["data"] == {"status": "ok"}
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["data"]["checks"]["workers"]["status"] == "ok"
            scraped = (await http.get("/metrics")).text
            assert "smsgate_poller_rounds_total" in scraped
            assert "smsgate_orders" not in {  # the database gauges are the API's
                f.name for f in text_string_to_metric_families(scraped)
            }
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
