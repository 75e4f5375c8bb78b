"""What every `smsgate` sub-command shares: messages, JSON output, settings, a transaction.

Kept apart from app.cli so modules that add sub-commands (app.catalog.cli, …) can import
it without importing the command table that imports them.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings

if TYPE_CHECKING:  # the runtime imports every domain: commands import it when they run
    from app.runtime import Runtime

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False))


def load_settings() -> Settings:
    """The core settings, with every enabled provider's settings block checked too: a bad
    or missing value stops the command here, naming the variable."""
    from app.providers.registry import ProviderSettingsError, load_blocks

    try:
        settings = Settings()
        load_blocks(settings)
        return settings
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        fail(f"bad configuration: {problems}")
    except ProviderSettingsError as exc:
        fail(f"bad configuration: {exc}")


def database_url(settings: Settings) -> str:
    from app.db.migrate import resolve_database_url

    try:
        return resolve_database_url(settings)
    except Exception as exc:  # the embedded server failed to start: say so, no trace
        fail(f"cannot start the embedded Postgres in {settings.embedded_pgdata}: {exc}")


def with_runtime(
    work: Callable[["Runtime"], Awaitable[T]],
    settings: Settings | None = None,
    url: str | None = None,
) -> T:
    """Run `work` with the process's runtime (database, providers; no workers) on the
    configured database (or `url`, already resolved), closed afterwards; database and
    gateway errors become messages."""
    from app import runtime
    from app.errors import GatewayError

    settings = settings or load_settings()
    url = url or database_url(settings)

    async def run() -> T:
        async with runtime.running(settings, url=url) as built:
            return await work(built)

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        fail(exc.message, 2 if exc.code == "VALIDATION_ERROR" else 1)
    except (OperationalError, DBAPIError, OSError) as exc:
        if "does not exist" in str(exc) and "relation" in str(exc):
            fail("the database is not migrated: run `smsgate migrate` first")
        fail(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database; map errors to messages."""

    async def run(built: "Runtime") -> T:
        async with built.sessionmaker() as session, session.begin():
            return await work(session)

    return with_runtime(run)
