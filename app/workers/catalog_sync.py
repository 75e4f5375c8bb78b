"""The periodic catalog sync: every `catalog_sync_seconds`, each enabled provider's catalog
is pulled once, by whichever process claims it first (a conditional UPDATE on its
`provider_health` row, so replicas do not all hit the upstream; no lock is held while the
upstream answers)."""

import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.catalog import jobs
from app.catalog.models import Provider as ProviderRow
from app.catalog.models import ProviderHealth
from app.config import Settings
from app.kit import clock
from app.providers.base import Provider
from app.workers.loop import Worker

log = logging.getLogger(__name__)


async def claim(engine: AsyncEngine, code: str, interval: float) -> bool:
    """True for the one process that should sync `code` now."""
    now = clock.utcnow()
    async with engine.begin() as conn:
        provider_id = await conn.scalar(select(ProviderRow.id).where(ProviderRow.code == code))
        if provider_id is None:
            return True  # never synced: the sync creates the row
        await conn.execute(
            insert(ProviderHealth)
            .values(provider_id=provider_id)
            .on_conflict_do_nothing(index_elements=["provider_id"])
        )
        claimed = await conn.execute(
            update(ProviderHealth)
            .where(
                ProviderHealth.provider_id == provider_id,
                or_(
                    ProviderHealth.last_sync_at.is_(None),
                    ProviderHealth.last_sync_at <= now - timedelta(seconds=interval * 0.9),
                ),
            )
            .values(last_sync_at=now)
        )
        return bool(claimed.rowcount)


class CatalogSyncer(Worker):
    """Every `catalog_sync_seconds` (0: never), sync the providers that are due."""

    name = "catalog sync"

    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        providers: Mapping[str, Provider],
        settings: Settings,
    ) -> None:
        super().__init__(settings.catalog_sync_seconds)
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.providers = providers
        self.settings = settings

    async def tick(self) -> list[jobs.SyncOutcome]:
        interval = self.settings.catalog_sync_seconds

        async def due(code: str) -> bool:
            return await claim(self.engine, code, interval)

        return await jobs.sync_all(self.sessionmaker, self.providers, self.settings, due)

    async def round(self) -> int:
        await self.tick()
        return 0  # never busy: the next round is an interval away

    async def run(self) -> None:
        if self.settings.catalog_sync_seconds > 0:
            await super().run()
