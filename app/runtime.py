"""The process's object graph, built and closed in one place for `serve` (create_app's
lifespan), `smsgate worker` and the CLI commands that need the database or the providers.

`build()` makes everything and starts nothing; `start()` runs the background workers (only
a runtime built with workers has any); `aclose()` stops them and closes what was opened, in
the reverse order. `running()` is the three as one `async with`.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.auth.service import TokenAuthenticator
from app.catalog.health import HealthWriter
from app.config import Settings
from app.db.engine import make_engine, make_sessionmaker
from app.kit.polling import PollStep
from app.observability.health import Readiness
from app.observability.metrics_db import SnapshotCache
from app.orders.context import OrdersContext
from app.orders.worker import OrdersStep
from app.providers.protocols import ActivationProvider
from app.providers.registry import build_providers, close_providers
from app.ratelimit.state import RateLimits
from app.workers.catalog_sync import CatalogSyncer
from app.workers.dispatcher import Dispatcher
from app.workers.loop import Worker
from app.workers.poller import Poller
from app.workers.provider_probe import ProviderProbe


@dataclass(eq=False)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    health_writer: HealthWriter
    providers: dict[str, ActivationProvider]
    orders: OrdersContext
    rate_limits: RateLimits
    authenticator: TokenAuthenticator
    readiness: Readiness
    metrics_db: SnapshotCache
    poller: Poller | None = None
    workers: tuple[Worker, ...] = ()
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def autocommit(self) -> AsyncEngine:
        """The same pool without BEGIN/COMMIT (see OrdersContext.autocommit)."""
        return self.orders.autocommit

    @property
    def provider_codes(self) -> tuple[str, ...]:
        return tuple(self.providers)

    def start(self) -> None:
        """Run the workers as tasks of the current loop; /readyz watches the poller's."""
        self.tasks = [asyncio.create_task(worker.run()) for worker in self.workers]
        if self.poller is not None:
            self.readiness.task = self.tasks[self.workers.index(self.poller)]

    def stop(self) -> None:
        """Ask the workers to stop after their current round (safe from a signal handler)."""
        for worker in self.workers:
            worker.stop()

    async def wait(self) -> None:
        """Until every worker has stopped."""
        await asyncio.gather(*self.tasks)

    async def aclose(self) -> None:
        self.stop()
        try:
            await self.wait()
        finally:
            self.tasks = []
            await self.health_writer.drain()
            await close_providers(self.providers)
            await self.rate_limits.close()
            await self.engine.dispose()


def poll_steps(orders: OrdersContext) -> list[PollStep[Any]]:
    """Every kind the poll loop advances, one line per kind (tests build their loop here too)."""
    return [OrdersStep(orders)]


def build(settings: Settings, *, url: str | None = None, workers: bool = False) -> Runtime:
    """Everything, connected lazily (nothing talks to the database or an upstream yet).
    `url` is the resolved database URL (default: resolved from `settings` here, which may
    start the embedded Postgres); `workers` adds the poller, the catalog sync, the webhook
    dispatcher and the provider probes, for `start()` to run (the shared breaker refresh
    runs in every process)."""
    if url is None:
        from app.db.migrate import resolve_database_url

        url = resolve_database_url(settings)
    engine = make_engine(url, settings)
    sessionmaker = make_sessionmaker(engine)
    health_writer = HealthWriter(engine)
    providers = build_providers(settings, health_writer)
    orders = OrdersContext(engine, providers, settings)
    poller = Poller(poll_steps(orders), engine, settings) if workers else None
    # Every process adopts the breaker states the others report; only where the workers
    # run are paused providers probed (one prober per deployment's worker, not per replica).
    probe = ProviderProbe(engine, providers, settings, probing=workers)
    running: tuple[Worker, ...] = (probe,)
    if poller is not None:
        syncer = CatalogSyncer(engine, sessionmaker, providers, settings)
        running = (poller, syncer, Dispatcher(engine, settings), probe)
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        health_writer=health_writer,
        providers=providers,
        orders=orders,
        rate_limits=RateLimits.build(settings, engine),
        authenticator=TokenAuthenticator(sessionmaker, settings.token_cache_seconds),
        readiness=Readiness(engine, settings, poller, None),
        metrics_db=SnapshotCache(engine, settings.metrics_db_cache_seconds),
        poller=poller,
        workers=running,
    )


@asynccontextmanager
async def running(
    settings: Settings, *, url: str | None = None, workers: bool = False
) -> AsyncIterator[Runtime]:
    """build → start → (the body) → aclose, whatever the body raises."""
    runtime = build(settings, url=url, workers=workers)
    runtime.start()
    try:
        yield runtime
    finally:
        await runtime.aclose()
