"""The periodic catalog sync: one process per interval syncs a provider, the others skip."""

import asyncio

from sqlalchemy import select

from app.catalog.models import ProviderHealth
from app.workers.catalog_sync import CatalogSyncer


class CountingSandbox:
    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.catalogs = 0

    async def catalog(self):
        self.catalogs += 1
        await asyncio.sleep(0.05)
        return await self.inner.catalog()

    async def balance(self):
        return None


async def test_replicas_sync_each_provider_once_per_interval(
    app, sessionmaker, sandbox, settings, clock, factory
):
    await factory.sandbox_catalog()
    provider = CountingSandbox(sandbox)
    tuned = settings.model_copy(update={"catalog_sync_seconds": 600})
    engine = app.state.runtime.engine
    syncers = [CatalogSyncer(engine, sessionmaker, {"sandbox": provider}, tuned)
               for _ in range(4)]  # fmt: skip

    await asyncio.gather(*(s.tick() for s in syncers))
    assert provider.catalogs == 0  # the sync at start (the factory's) was just now

    clock.advance(300)
    await asyncio.gather(*(s.tick() for s in syncers))
    assert provider.catalogs == 0  # not due yet

    clock.advance(301)
    outcomes = await asyncio.gather(*(s.tick() for s in syncers))
    assert provider.catalogs == 1  # four replicas, one sync
    assert sum(len(o) for o in outcomes) == 1

    clock.advance(601)
    await asyncio.gather(*(s.tick() for s in syncers))
    assert provider.catalogs == 2
    async with sessionmaker() as session:
        health = await session.scalar(select(ProviderHealth))
        assert health is not None and health.last_sync_error is None
