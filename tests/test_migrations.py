"""The schema is made only by Alembic: upgrade head → downgrade base → upgrade head works,
and the models and the migrations agree."""

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.db import migrate
from app.db.engine import make_engine
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
