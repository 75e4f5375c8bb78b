"""Resolve the database (DATABASE_URL or the embedded server) and run Alembic on it."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.config import Settings, get_settings
from app.db.engine import make_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # app/db/migrate.py → the checkout


def resolve_database_url(settings: Settings | None = None) -> str:
    """DATABASE_URL when set; otherwise start (or join) the embedded server."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    from app.db.embedded import ensure_running

    return ensure_running(settings.embedded_pgdata)


def alembic_config(database_url: str) -> Config:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused"))
    return script.get_current_head()


async def current_revision(database_url: str) -> str | None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def is_at_head(database_url: str) -> bool:
    return asyncio.run(current_revision(database_url)) == head_revision()
