"""Reports that add up to the ledger, and one order's full history, from real orders."""

import dataclasses
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.kit.clock import rfc3339
from app.ledger.models import LedgerEntry
from app.providers.sandbox import SandboxProvider
from app.workers.poller import Poller
from tests.conftest import FakeClock
from tests.factories import Factory
from tests.orders_api.support import load_catalog


async def _buy(client: httpx.AsyncClient, headers: dict[str, str], product_id: int) -> int:
    response = await client.post("/v1/orders/create", json={"product_id": product_id},
                                 headers=headers)  # fmt: skip
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["orders"][0]["id"])


async def test_report_sums_match_the_ledger(
    client: httpx.AsyncClient,
    factory: Factory,
    admin: dict[str, str],
    sessionmaker,
    clock: FakeClock,
    sandbox: SandboxProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Numbers that never get an SMS, so some can be canceled (and refunded).
    monkeypatch.setattr(sandbox, "settings", dataclasses.replace(sandbox.settings, no_sms_rate=1.0))
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    alice = await factory.account(balance=200_000)
    bob = await factory.account(balance=200_000)
    began = clock.now
    for n in range(12):
        who = alice if n % 3 else bob
        order_id = await _buy(client, who.headers, catalog.tiers[n % 4].id)
        if n % 4 == 0:  # three cancellations, refunded
            clock.advance(130)
            canceled = await client.post("/v1/orders/cancel", json={"id": order_id},
                                         headers=who.headers)  # fmt: skip
            assert canceled.status_code == 200, canceled.text
        clock.advance(3 * 3600)  # spread over two days
    end = clock.now + timedelta(seconds=1)

    async with sessionmaker() as session:
        order_money = -int(
            await session.scalar(
                select(func.sum(LedgerEntry.amount)).where(
                    LedgerEntry.kind.in_(("order_debit", "order_refund"))
                )
            )
            or 0
        )
        per_account = {
            account_id: -int(total)
            for account_id, total in await session.execute(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.kind.in_(("order_debit", "order_refund")))
                .group_by(LedgerEntry.account_id)
            )
        }
    assert order_money > 0
    window = {"from": rfc3339(began), "to": rfc3339(end)}
    for group_by in ("account", "provider", "service", "day"):
        response = await client.get(
            "/admin/reports", params={**window, "group_by": group_by}, headers=admin
        )
        assert response.status_code == 200, response.text
        report = response.json()["data"]
        totals = report["totals"]
        assert totals["orders"] == 12 and totals["refunded"] == 3, group_by
        assert totals["revenue"] == order_money, group_by
        assert sum(r["revenue"] for r in report["rows"]) == order_money, group_by
        assert totals["margin"] == totals["revenue"] - totals["cost"] > 0, group_by
    by_account = (
        await client.get("/admin/reports", params={**window, "group_by": "account"}, headers=admin)
    ).json()["data"]["rows"]
    assert {r["account_id"]: r["revenue"] for r in by_account} == per_account
    by_day = (
        await client.get("/admin/reports", params={**window, "group_by": "day"}, headers=admin)
    ).json()["data"]["rows"]
    assert len(by_day) >= 2 and by_day == sorted(by_day, key=lambda r: r["day"])
    only_bob = (
        await client.get("/admin/reports", params={**window, "account_id": bob.id}, headers=admin)
    ).json()["data"]
    assert only_bob["totals"]["revenue"] == per_account[bob.id]
    # A window that ends before anything happened reports nothing.
    early = {"from": rfc3339(began - timedelta(days=2)), "to": rfc3339(began)}
    none = (await client.get("/admin/reports", params=early, headers=admin)).json()["data"]
    assert none["rows"] == [] and none["totals"]["revenue"] == 0

    for bad in ({**window, "group_by": "planet"}, {"from": window["to"], "to": window["from"]},
                {"to": window["to"]}):  # fmt: skip
        refused = await client.get("/admin/reports", params=bad, headers=admin)
        assert refused.status_code == 422, bad
        assert refused.json()["error"]["details"]["fields"], bad


async def test_order_history_tells_what_happened(
    client: httpx.AsyncClient,
    factory: Factory,
    admin: dict[str, str],
    sessionmaker,
    clock: FakeClock,
    poller: Poller,
) -> None:
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=50_000)
    order_id = await _buy(client, user.headers, catalog.economy.id)
    clock.advance(15)
    await poller.tick()
    finished = await client.post("/v1/orders/finish", json={"id": order_id}, headers=user.headers)
    assert finished.status_code == 200, finished.text

    response = await client.get(f"/admin/orders/{order_id}", headers=admin)
    assert response.status_code == 200, response.text
    history = response.json()["data"]
    order = history["order"]
    assert order["id"] == order_id and order["status"] == "COMPLETED"
    assert order["account_id"] == user.id and order["provider"] == "sandbox"
    assert order["upstream_order_id"] and order["cost"] > 0
    assert [t["status"] for t in history["transitions"]] == [
        "PENDING",
        "OTP_RECEIVED",
        "COMPLETED",
    ]
    assert [e["event"] for e in history["events"]] == ["order.otp_received", "order.completed"]
    assert len(history["sms"]) == 1 and history["sms"][0]["code"]
    assert [(m["kind"], m["amount"]) for m in history["ledger"]] == [
        ("order_debit", -catalog.economy.price)
    ]
    assert history["provider_calls"] is None and history["webhook_deliveries"] == []

    # A delivery attempt of one of the order's events shows in its history.
    from app.webhooks.models import WebhookDelivery

    async with sessionmaker() as session, session.begin():
        session.add(WebhookDelivery(account_id=user.id, event_id=history["events"][0]["id"],
                                    is_replay=False, attempted_at=clock.now, status_code=500,
                                    error=None, duration_ms=12, succeeded=False))  # fmt: skip
    again = (await client.get(f"/admin/orders/{order_id}", headers=admin)).json()["data"]
    assert [
        (d["event"], d["status_code"], d["succeeded"]) for d in again["webhook_deliveries"]
    ] == [("order.otp_received", 500, False)]

    found = await client.get(
        "/admin/orders", params={"upstream_order_id": order["upstream_order_id"]}, headers=admin
    )
    assert [o["id"] for o in found.json()["data"]] == [order_id]
    missing = await client.get("/admin/orders/999999", headers=admin)
    assert missing.status_code == 404
