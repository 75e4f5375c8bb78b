"""Syncing providers' catalogs: at start, periodically, and on `smsgate providers sync`.

The upstream calls (catalog, balance) run with no transaction open; the write is one
transaction per provider. One provider failing (down, garbage, no exchange rate) never
stops the others: its error is recorded in `provider_health` and reported.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.catalog import health, sync
from app.catalog.models import Provider as ProviderRow
from app.catalog.pricing import PricingRule, rule_for
from app.config import Settings
from app.db.engine import Db
from app.providers.base import Money, Provider, UpstreamError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    provider: str
    report: sync.SyncReport | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.report is not None:
            return {"ok": True, **self.report.as_dict()}
        return {"provider": self.provider, "ok": False, "error": self.error}


def default_rule(settings: Settings | None) -> PricingRule:
    if settings is None:
        return PricingRule()
    return PricingRule(
        markup_percent=settings.pricing_markup_percent,
        fixed_fee=settings.pricing_fixed_fee,
        round_to=settings.pricing_round_to,
    )


async def provider_rule(session: Db, provider_id: int, default: PricingRule) -> PricingRule:
    row = (
        await session.execute(
            select(ProviderRow.markup_percent, ProviderRow.fixed_fee, ProviderRow.round_to).where(
                ProviderRow.id == provider_id
            )
        )
    ).one()
    return rule_for(row.markup_percent, row.fixed_fee, row.round_to, default)


async def sync_provider(
    sessionmaker: async_sessionmaker[AsyncSession],
    code: str,
    provider: Provider,
    settings: Settings | None = None,
) -> sync.SyncReport:
    """Pull one provider's catalog into ours. Raises UpstreamError or sync.MissingRate."""
    async with sessionmaker() as session, session.begin():
        provider_id = await sync.ensure_provider(session, code, provider.name)
    try:
        catalog = await provider.catalog()
        balance: Money | None
        try:
            balance = await provider.balance()
        except UpstreamError as exc:
            log.warning("provider %s: balance unavailable: %s", code, exc.message)
            balance = None
        async with sessionmaker() as session, session.begin():
            rule = await provider_rule(session, provider_id, default_rule(settings))
            report = await sync.sync_catalog(session, provider_id, code, catalog, rule)
            await health.record_sync(session, provider_id, report.as_dict(), None, balance)
    except (UpstreamError, sync.MissingRate) as exc:
        message = exc.message if isinstance(exc, UpstreamError) else str(exc)
        async with sessionmaker() as session, session.begin():
            await health.record_sync(session, provider_id, None, message, None)
        raise
    if report.unmapped_countries or report.unmapped_services:
        log.warning(
            "provider %s: %d offers skipped; unmapped countries %s, services %s "
            "(map them with `smsgate providers map`)",
            code,
            report.skipped_offers,
            report.unmapped_countries,
            report.unmapped_services,
        )
    return report


async def sync_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    providers: Mapping[str, Provider],
    settings: Settings | None = None,
    due: Callable[[str], Awaitable[bool]] | None = None,
) -> list[SyncOutcome]:
    """Sync each provider (those `due` says yes to); errors are reported, not raised."""
    outcomes = []
    for code, provider in providers.items():
        if due is not None and not await due(code):
            continue
        try:
            report = await sync_provider(sessionmaker, code, provider, settings)
        except UpstreamError as exc:
            log.warning("provider %s: catalog sync failed: %s", code, exc.message)
            outcomes.append(SyncOutcome(code, error=exc.message))
        except sync.MissingRate as exc:
            log.error("provider %s: catalog sync refused: %s", code, exc)
            outcomes.append(SyncOutcome(code, error=str(exc)))
        else:
            outcomes.append(SyncOutcome(code, report))
    return outcomes
