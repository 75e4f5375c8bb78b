"""The `provider_health` rows: what the breakers and the catalog sync last reported."""

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.catalog.models import Product, Provider, ProviderHealth
from app.kit import clock
from app.kit.clock import utcnow
from app.providers.base import Money
from app.providers.pauses import OPS_PAUSE_MESSAGE

log = logging.getLogger(__name__)


async def record_sync(
    session: AsyncSession,
    provider_id: int,
    report: dict[str, Any] | None,
    error: str | None,
    balance: Money | None,
) -> None:
    now = utcnow()
    # Not `updated_at`: that is when the breaker was last reported, which other processes
    # compare to decide whether the row's breaker state is news (see shared_breakers).
    values: dict[str, Any] = {"provider_id": provider_id}
    if error is None:
        values |= {"last_sync_at": now, "last_sync_report": report, "last_sync_error": None}
    else:
        values |= {"last_sync_error": error[:500]}
    if balance is not None:
        values |= {
            "balance": Decimal(balance.amount),
            "balance_currency": balance.currency,
            "balance_at": now,
        }
    stmt = insert(ProviderHealth).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider_id"],
            set_={k: stmt.excluded[k] for k in values if k != "provider_id"},
        )
    )


async def record_breaker(
    conn: AsyncConnection | AsyncSession, code: str, snapshot: dict[str, Any]
) -> None:
    """One process's breaker report for provider `code` (last writer wins); the snapshot's
    own `updated_at`, when it has one, is when the report was made."""
    provider_id = await conn.scalar(select(Provider.id).where(Provider.code == code))
    if provider_id is None:
        return
    values = {"provider_id": provider_id, "updated_at": utcnow(), **snapshot}
    stmt = insert(ProviderHealth).values(values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["provider_id"],
            set_={k: stmt.excluded[k] for k in values if k != "provider_id"},
        )
    )


async def record_pause(
    session: AsyncSession, code: str, seconds: float | None
) -> dict[str, Any] | None:
    """Ops pause provider `code` for `seconds` (None: resume it now), for every process:
    each adopts the row within SMSGATE_BREAKER_PROBE_SECONDS. None for an unknown code."""
    if await session.scalar(select(Provider.id).where(Provider.code == code)) is None:
        return None
    now = clock.utcnow()  # the guards' clock: they compare it with their own reports
    snapshot: dict[str, Any] = {"updated_at": now}
    if seconds is None:
        snapshot |= {"breaker_state": "closed", "opened_until": None, "consecutive_failures": 0}
    else:
        snapshot |= {
            "breaker_state": "open",
            "opened_until": now + timedelta(seconds=seconds),
            "last_error": OPS_PAUSE_MESSAGE,
            "last_error_at": now,
        }
    await record_breaker(session, code, snapshot)
    return {"code": code, **snapshot}


async def shared_breakers(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every provider's last reported breaker state (any process's), for `adopt`."""
    rows = await conn.execute(
        select(
            Provider.code,
            ProviderHealth.breaker_state,
            ProviderHealth.opened_until,
            ProviderHealth.last_error,
            ProviderHealth.updated_at,
        ).join(ProviderHealth, ProviderHealth.provider_id == Provider.id)
    )
    return [dict(row._mapping) for row in rows]


async def status(session: AsyncSession | AsyncConnection) -> list[dict[str, Any]]:
    """Every known provider with its health, for `smsgate providers status` and /admin."""
    products = (
        select(
            Product.provider_id,
            func.count().label("tiers"),
            func.count().filter(Product.available > 0).label("in_stock"),
        )
        .group_by(Product.provider_id)
        .subquery()
    )
    rows = await session.execute(
        select(Provider, ProviderHealth, products.c.tiers, products.c.in_stock)
        .outerjoin(ProviderHealth, ProviderHealth.provider_id == Provider.id)
        .outerjoin(products, products.c.provider_id == Provider.id)
        .order_by(Provider.id)
    )
    out = []
    for provider, health, tiers, in_stock in rows:
        out.append(
            {
                "code": provider.code,
                "name": provider.name,
                "enabled": provider.enabled,
                "tiers": tiers or 0,
                "tiers_in_stock": in_stock or 0,
                "breaker_state": health.breaker_state if health else "closed",
                "opened_until": iso(health.opened_until) if health else None,
                "consecutive_failures": health.consecutive_failures if health else 0,
                "total_failures": health.total_failures if health else 0,
                "last_error": health.last_error if health else None,
                "last_error_at": iso(health.last_error_at) if health else None,
                "balance": format(health.balance.normalize(), "f")
                if health and health.balance is not None
                else None,
                "balance_currency": health.balance_currency if health else None,
                "balance_at": iso(health.balance_at) if health else None,
                "last_sync_at": iso(health.last_sync_at) if health else None,
                "last_sync_error": health.last_sync_error if health else None,
                "last_sync_report": health.last_sync_report if health else None,
                "pricing": {
                    "markup_percent": None
                    if provider.markup_percent is None
                    else format(provider.markup_percent.normalize(), "f"),
                    "fixed_fee": provider.fixed_fee,
                    "round_to": provider.round_to,
                },
            }
        )
    return out


def shown(recorded: dict[str, Any]) -> dict[str, Any]:
    """A record_pause result for JSON: its times in RFC 3339."""
    return {k: iso(v) if isinstance(v, datetime) else v for k, v in recorded.items()}


def iso(value: Any) -> str | None:
    from app.kit.clock import rfc3339

    return rfc3339(value) if value is not None else None


class HealthWriter:
    """Persists breaker reports off the caller's path: the call that tripped the breaker
    does not wait for the write, and a failed write is logged, not raised."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, code: str, snapshot: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._write(code, snapshot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, code: str, snapshot: dict[str, Any]) -> None:
        try:
            async with self._engine.connect() as conn:
                await record_breaker(conn, code, snapshot)
        except Exception:
            log.exception("could not record the health of provider %s", code)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
