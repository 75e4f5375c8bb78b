"""The ASGI application: create_app() and its lifespan."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from app import api
from app.auth.service import TokenAuthenticator
from app.catalog.health import HealthWriter
from app.config import Settings, get_settings
from app.db.engine import make_engine, make_sessionmaker
from app.errors import install_handlers
from app.observability.health import Readiness
from app.observability.logs import configure_logging
from app.observability.metrics import process_exiting
from app.observability.metrics_db import SnapshotCache
from app.observability.middleware import AccessMiddleware, BodyLimitMiddleware, RequestIdMiddleware
from app.orders.context import OrdersContext
from app.providers.registry import build_providers, close_providers
from app.ratelimit.state import RateLimits
from app.workers.catalog_sync import CatalogSyncer
from app.workers.dispatcher import Dispatcher
from app.workers.poller import Poller


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from app.db.migrate import resolve_database_url

        engine = make_engine(resolve_database_url(settings), settings)
        sessionmaker = make_sessionmaker(engine)
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker
        app.state.authenticator = TokenAuthenticator(sessionmaker, settings.token_cache_seconds)
        health_writer = HealthWriter(engine)
        app.state.providers = build_providers(settings, health_writer)
        app.state.provider_codes = tuple(app.state.providers)
        app.state.orders = OrdersContext(engine, app.state.providers, settings)
        app.state.rate_limits = RateLimits.build(settings, engine)
        workers: list[Poller | CatalogSyncer | Dispatcher] = []
        if settings.run_workers:
            workers = [
                Poller(app.state.orders),
                CatalogSyncer(engine, sessionmaker, app.state.providers, settings),
                Dispatcher(engine, settings),
            ]
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
            app.state.http = http
            tasks = [asyncio.create_task(worker.run()) for worker in workers]
            poller = next((w for w in workers if isinstance(w, Poller)), None)
            app.state.readiness = Readiness(engine, settings, poller, tasks[0] if poller else None)
            app.state.metrics_db = SnapshotCache(engine, settings.metrics_db_cache_seconds)
            try:
                yield
            finally:
                for worker in workers:
                    worker.stop()
                await asyncio.gather(*tasks)
                await health_writer.drain()
                await close_providers(app.state.providers)
                await app.state.rate_limits.close()
                await engine.dispose()
                process_exiting()

    app = FastAPI(
        title="smsgate",
        version="0.1.0",
        summary="Virtual numbers and SMS one-time codes behind the smscode.gg API.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_handlers(app)
    app.include_router(api.router)
    # Added innermost first: the access log sees every answer (a 413, the last-resort 500),
    # and the request id is on every response.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(AccessMiddleware)
    return app
