"""Helpers of the webhook tests: an account with an order, raw outbox events, draining."""

from typing import Any

import httpx
from sqlalchemy import func, insert, select

from app.events.models import Event
from app.kit import clock
from app.webhooks.models import WebhookDelivery, WebhookOutbox
from app.workers.dispatcher import Dispatcher
from tests.factories import AccountWithToken, Factory
from tests.orders_api.support import create_one, load_catalog


async def account_with_order(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: Any
) -> tuple[AccountWithToken, int]:
    await factory.sandbox_catalog()
    catalog = await load_catalog(sessionmaker)
    user = await factory.account(balance=100_000)
    order = await create_one(client, user, {"product_id": catalog.economy.id})
    return user, int(order["id"])


async def set_url(client: httpx.AsyncClient, user: AccountWithToken, url: str, **more: str) -> Any:
    response = await client.patch(
        "/v1/webhook", json={"webhook_url": url, **more}, headers=user.headers
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def add_events(sessionmaker: Any, account_id: int, order_id: int, n: int) -> list[int]:
    """Outbox rows as a transition writes them (the trigger queues them)."""
    rows = [
        {"account_id": account_id, "subject_kind": "order", "order_id": order_id,
         "type": "order.otp_received",
         "payload": {"event": "order.otp_received", "timestamp": "2026-11-23T00:00:00Z",
                     "data": {"order_id": order_id, "seq": i}},
         "created_at": clock.utcnow()}
        for i in range(n)
    ]  # fmt: skip
    async with sessionmaker() as session, session.begin():
        ids = (await session.execute(insert(Event).returning(Event.id), rows)).scalars()
        return sorted(ids)


async def queued(sessionmaker: Any, **where: Any) -> int:
    async with sessionmaker() as session:
        stmt = select(func.count()).select_from(WebhookOutbox).filter_by(**where)
        return int(await session.scalar(stmt) or 0)


async def attempts(sessionmaker: Any, account_id: int) -> list[Any]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.account_id == account_id)
            .order_by(WebhookDelivery.id)
        )
        return list(rows)


async def drain(dispatcher: Dispatcher, rounds: int = 20) -> None:
    """Run rounds until one finds nothing to do."""
    for _ in range(rounds):
        if not await dispatcher.tick():
            return
    raise AssertionError("the dispatcher kept finding work")
