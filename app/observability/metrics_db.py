"""Gauges that are facts about the database, read at scrape time (never stored per process,
so N API processes report them once, not N times).

A few aggregate statements in one read-only transaction, bounded by a statement timeout
and remembered for `metrics_db_cache_seconds`, so scrapers hitting several processes (or
scraping often) do not turn into table scans in a loop.
"""

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.kit import clock

STATEMENT_TIMEOUT_MS = 2000

_ORDERS = text(
    "SELECT o.status, p.code, count(*) FROM orders o JOIN providers p ON p.id = o.provider_id "
    "GROUP BY o.status, p.code"
)
# Uses the poller's partial index (ix_orders_due): only live orders are in it.
_OLDEST_DUE = text(
    "SELECT min(next_poll_at) FROM orders "
    "WHERE status IN ('PENDING', 'ACTIVE', 'OTP_RECEIVED') AND next_poll_at <= :now"
)
_LEDGER = text("SELECT kind, count(*), coalesce(sum(amount), 0) FROM ledger_entries GROUP BY kind")
_BALANCES = text("SELECT count(*), coalesce(sum(balance), 0) FROM accounts")


async def outbox_backlog(conn: AsyncConnection, now: datetime) -> tuple[int, float]:
    """(events not delivered yet, age in seconds of the oldest of them).

    The one place that defines "undelivered": rows of the dispatcher's queue
    (`webhook_outbox`, replays included), which a successful delivery removes.
    """
    row = (await conn.execute(text("SELECT count(*), min(created_at) FROM webhook_outbox"))).one()
    count, oldest = int(row[0]), row[1]
    return count, max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


@dataclass(frozen=True)
class Snapshot:
    orders: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, provider)
    poller_lag_seconds: float = 0.0
    outbox_backlog: int = 0
    outbox_oldest_seconds: float = 0.0
    ledger: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind → (entries, IDR)
    accounts: int = 0
    balances: int = 0


async def read_snapshot(engine: AsyncEngine) -> Snapshot:
    now = clock.utcnow()
    async with engine.connect() as conn, conn.begin():
        await conn.execute(text("SET TRANSACTION READ ONLY"))
        await conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        orders = {(s, p): int(n) for s, p, n in await conn.execute(_ORDERS)}
        oldest_due = await conn.scalar(_OLDEST_DUE, {"now": now})
        backlog, backlog_age = await outbox_backlog(conn, now)
        ledger = {k: (int(n), int(total)) for k, n, total in await conn.execute(_LEDGER)}
        accounts, balances = (await conn.execute(_BALANCES)).one()
    lag = max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0
    return Snapshot(orders, lag, backlog, backlog_age, ledger, int(accounts), int(balances))


class SnapshotCache:
    """One snapshot per `ttl` seconds per process; concurrent scrapes share one read."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl
        self._value: Snapshot | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> Snapshot:
        async with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = await read_snapshot(self.engine)
                self._at = time.monotonic()
            return self._value


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Snapshot | None) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "smsgate_metrics_database_up",
            "1 when this scrape could read the database-derived gauges, else 0.",
            value=1 if self.snapshot is not None else 0,
        )
        yield up
        s = self.snapshot
        if s is None:
            return
        orders = GaugeMetricFamily(
            "smsgate_orders", "Orders by status and provider.", labels=("status", "provider")
        )
        for (status, provider), count in sorted(s.orders.items()):
            orders.add_metric((status, provider), count)
        yield orders
        yield GaugeMetricFamily(
            "smsgate_poller_lag_seconds",
            "How late the most overdue live order is for its next poll (0: none is due).",
            value=s.poller_lag_seconds,
        )
        yield GaugeMetricFamily(
            "smsgate_outbox_backlog",
            "Order events (webhook outbox) not delivered yet.",
            value=s.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "smsgate_outbox_oldest_age_seconds",
            "Age of the oldest undelivered order event (0: none).",
            value=s.outbox_oldest_seconds,
        )
        entries = GaugeMetricFamily(
            "smsgate_ledger_entries", "Ledger entries by kind.", labels=("kind",)
        )
        amounts = GaugeMetricFamily(
            "smsgate_ledger_amount_idr",
            "Sum of ledger amounts by kind, IDR (debits negative).",
            labels=("kind",),
        )
        for kind, (count, total) in sorted(s.ledger.items()):
            entries.add_metric((kind,), count)
            amounts.add_metric((kind,), total)
        yield entries
        yield amounts
        yield GaugeMetricFamily("smsgate_accounts", "Accounts.", value=s.accounts)
        yield GaugeMetricFamily(
            "smsgate_account_balances_idr",
            "Sum of every account's balance, IDR (equals the sum of the ledger).",
            value=s.balances,
        )
