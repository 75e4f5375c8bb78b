"""The schema is made only by Alembic: upgrade head → downgrade base → upgrade head works,
and the models and the migrations agree."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.db import migrate
from app.db.engine import make_engine, make_sessionmaker
from app.ledger import audit
from app.models import Base


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _diff(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_upgrade_downgrade_upgrade(fresh_database) -> None:
    url = fresh_database()
    migrate.upgrade(url)
    assert {"accounts", "ledger_entries", "api_tokens", "products", "exchange_rates"} <= _tables(
        url
    )
    assert migrate.is_at_head(url)
    migrate.downgrade(url, "base")
    assert _tables(url) == {"alembic_version"}
    migrate.upgrade(url)
    assert migrate.is_at_head(url)


def test_models_match_migrations(fresh_database) -> None:
    url = fresh_database()
    migrate.upgrade(url)
    assert _diff(url) == []


# --- 0009: an existing database with money and webhooks in it ------------------------------

SEED_0008 = """
INSERT INTO accounts (id, name, balance) VALUES (1, 'acme', 900), (2, 'quiet', 0);
INSERT INTO providers (id, code, name) VALUES (1, 'p1', 'P1');
INSERT INTO countries (id, code, name, dial_code) VALUES (1, 'ID', 'Indonesia', '62');
INSERT INTO services (id, code, name) VALUES (1, 'wa', 'WhatsApp');
INSERT INTO catalog_products (id, country_id, service_id) VALUES (1, 1, 1);
INSERT INTO products (id, catalog_product_id, provider_id, upstream_key, cost, price)
VALUES (1, 1, 1, 'ID:wa', 80, 100);
INSERT INTO orders (id, account_id, product_id, catalog_product_id, provider_id, status,
                    amount, cost)
VALUES (1, 1, 1, 1, 1, 'ACTIVE', 100, 80), (2, 1, 1, 1, 1, 'CANCELED', 200, 80),
       (3, 1, 1, 1, 1, 'FAILED', 150, 80);
INSERT INTO ledger_entries (account_id, kind, amount, balance_after, order_id, reference)
VALUES (1, 'topup', 1000, 1000, NULL, 'opening balance'),
       (1, 'order_debit', -100, 900, 1, NULL), (1, 'order_debit', -200, 700, 2, NULL),
       (1, 'order_refund', 200, 900, 2, NULL), (1, 'order_debit', -150, 750, 3, NULL),
       (1, 'order_refund', 150, 900, 3, NULL), (1, 'adjustment', 5, 905, NULL, 'x'),
       (1, 'adjustment', -5, 900, NULL, 'x');
INSERT INTO webhook_configs (account_id, url, secret) VALUES (1, 'https://hooks.example/x', 's');
INSERT INTO order_events (account_id, order_id, event, payload) VALUES
    (1, 1, 'order.otp_received', '{"event": "order.otp_received", "data": {"order_id": "1",
     "sms": [{"text": "kode 1234 \\u00e9"}], "price": 100}, "timestamp": "2026-11-30T10:00:00Z"}'),
    (1, 2, 'order.canceled', '{"event": "order.canceled", "data": {"order_id": "2"},
     "timestamp": "2026-11-30T10:01:00.250Z"}'),
    (2, 1, 'order.completed', '{"event": "order.completed", "data": {}, "timestamp": "t"}');
INSERT INTO webhook_deliveries (account_id, event_id, is_replay, attempted_at, status_code,
                                error, duration_ms, succeeded)
VALUES (1, 1, false, now(), 500, NULL, 12, false);
INSERT INTO webhook_outbox (event_id, account_id, is_replay) VALUES (2, 1, true);
"""
EVENTS_BEFORE = "SELECT id, account_id, order_id, event, payload::text FROM order_events"
EVENTS_AFTER = "SELECT id, account_id, order_id, type, payload::text FROM events"
KEPT = {
    "ledger": "SELECT id, account_id, kind, amount, balance_after, order_id, reference"
    " FROM ledger_entries",
    "accounts": "SELECT id, balance FROM accounts",
    "outbox": "SELECT id, event_id, account_id, is_replay FROM webhook_outbox",
    "deliveries": "SELECT id, event_id, account_id, status_code FROM webhook_deliveries",
}


def _sql(url: str, statements: str | list[str]) -> list[list[tuple[object, ...]]]:
    """Run statements in one transaction; the rows of each, sorted."""

    async def run() -> list[list[tuple[object, ...]]]:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                if isinstance(statements, str):
                    raw = await conn.get_raw_connection()
                    await raw.driver_connection.execute(statements)  # several statements
                    return []
                return [sorted(tuple(r) for r in await conn.execute(text(s))) for s in statements]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _audit(url: str) -> Any:
    async def run() -> Any:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await audit.run(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_0009_keeps_money_events_and_outbox(fresh_database) -> None:
    url = fresh_database()
    migrate.upgrade(url, "0008")
    _sql(url, SEED_0008)
    events, *kept = _sql(url, [EVENTS_BEFORE, *KEPT.values()])
    # The trigger queued acme's two events (not quiet's: no URL); plus the replay.
    assert len(events) == 3 and [r[1:] for r in kept[2]] == [
        (1, 1, False),
        (2, 1, False),
        (2, 1, True),
    ]

    for _ in range(2):  # upgrade, and again after a round trip through the downgrade
        migrate.upgrade(url)
        assert migrate.is_at_head(url)
        assert _sql(url, [EVENTS_AFTER, *KEPT.values()]) == [events, *kept]
        [kinds] = _sql(url, ["SELECT DISTINCT subject_kind FROM events"])
        assert kinds == [("order",)]
        report = _audit(url)
        assert report.ok, report.problems
        assert (report.accounts, report.orders) == (2, 3)
        migrate.downgrade(url, "0008")
        assert _sql(url, [EVENTS_BEFORE, *KEPT.values()]) == [events, *kept]

    migrate.upgrade(url)
    assert _diff(url) == []
    # New events continue the old ids and the renamed trigger still queues them.
    _sql(url, "INSERT INTO events (account_id, subject_kind, order_id, type, payload)"
              " VALUES (1, 'order', 3, 'order.expired', '{}')")  # fmt: skip
    [queued] = _sql(url, ["SELECT event_id FROM webhook_outbox WHERE NOT is_replay"])
    assert queued == [(1,), (2,), (4,)]
