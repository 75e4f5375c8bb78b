"""The `smsgate` command. Output for scripts is JSON on stdout; messages go to stderr.

Exit codes: 0 done, 1 refused or failed (the message says why), 2 bad arguments.
"""

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.ratelimit.cli import ratelimits_cli

T = TypeVar("T")

cli = typer.Typer(
    name="smsgate",
    help="smsgate: virtual numbers and SMS codes behind the smscode.gg API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
accounts_cli = typer.Typer(help="Accounts and their money.", no_args_is_help=True)
tokens_cli = typer.Typer(help="API tokens.", no_args_is_help=True)
rates_cli = typer.Typer(help="Exchange rates.", no_args_is_help=True)
cli.add_typer(accounts_cli, name="accounts")
cli.add_typer(tokens_cli, name="tokens")
cli.add_typer(rates_cli, name="rates")
cli.add_typer(ratelimits_cli, name="ratelimits")


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def emit(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        fail(f"bad configuration: {problems}")


def database_url(settings: Settings) -> str:
    from app.migrate import resolve_database_url

    try:
        return resolve_database_url(settings)
    except Exception as exc:  # the embedded server failed to start: say so, no trace
        fail(f"cannot start the embedded Postgres in {settings.embedded_pgdata}: {exc}")


def in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction on the configured database; map errors to messages."""
    from app.db import make_engine, make_sessionmaker
    from app.errors import GatewayError

    settings = load_settings()
    url = database_url(settings)

    async def run() -> T:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        fail(exc.message, 2 if exc.code == "VALIDATION_ERROR" else 1)
    except (OperationalError, DBAPIError, OSError) as exc:
        if "does not exist" in str(exc) and "relation" in str(exc):
            fail("the database is not migrated: run `smsgate migrate` first")
        fail(f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}")


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default SMSGATE_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (SMSGATE_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Processes.")] = None,
) -> None:
    """Migrate, load provider catalogs, then serve the API."""
    import uvicorn

    from app import bootstrap, migrate
    from app.db import make_engine, make_sessionmaker
    from app.providers.registry import build_providers

    settings = load_settings()
    url = database_url(settings)
    migrate.upgrade(url)

    async def prepare() -> bootstrap.DemoAccount | None:
        engine = make_engine(url)
        try:
            sessionmaker = make_sessionmaker(engine)
            await bootstrap.sync_provider_catalogs(sessionmaker, build_providers(settings))
            return await bootstrap.create_demo_account(sessionmaker, settings)
        finally:
            await engine.dispose()

    demo = asyncio.run(prepare())
    if demo is not None:
        typer.echo(
            "\nCreated the `demo` account. Its API token (shown once, saved to "
            f"{demo.token_file}):\n\n    {demo.token}\n\n"
            f"    curl -H 'Authorization: Bearer {demo.token}' "
            f"http://{host or settings.host}:{port or settings.port}/v1/catalog/countries\n",
            err=True,
        )
    # Worker processes read their settings from the environment: hand them the database.
    os.environ["DATABASE_URL"] = url
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
    )


@cli.command()
def worker() -> None:
    """Run the background workers (the order poller) without serving HTTP."""
    import signal

    from app import migrate
    from app.db import make_engine
    from app.orders.context import OrdersContext
    from app.providers.registry import build_providers
    from app.workers.poller import Poller

    settings = load_settings()
    url = database_url(settings)
    if not migrate.is_at_head(url):
        fail("the database schema is not at head: run `smsgate migrate` (or serve) first")

    async def run() -> None:
        engine = make_engine(url, settings)
        poller = Poller(OrdersContext(engine, build_providers(settings), settings))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, poller.stop)
        try:
            await poller.run()
        finally:
            await engine.dispose()

    typer.echo("smsgate worker: polling orders (Ctrl+C stops after the current round)", err=True)
    asyncio.run(run())


@cli.command()
def audit() -> None:
    """Check the money invariants; exit 1 and print the offending rows when one fails."""
    from app.ledger import audit as ledger_audit

    report = in_transaction(ledger_audit.run)
    emit({"ok": report.ok, "accounts": report.accounts, "orders": report.orders,
          "problems": report.problems})  # fmt: skip
    if not report.ok:
        raise typer.Exit(1)


@cli.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema to the latest version."""
    from app import migrate

    settings = load_settings()
    url = database_url(settings)
    try:
        migrate.upgrade(url)
    except (OperationalError, DBAPIError, OSError) as exc:
        fail(f"migration failed: {str(exc).splitlines()[0]}")
    emit({"migrated_to": migrate.head_revision()})


@accounts_cli.command("create")
def accounts_create(
    name: str,
    balance: Annotated[int, typer.Option(min=0, help="Opening balance in IDR.")] = 0,
) -> None:
    """Create an account (and its first API token). Prints {"account_id", "token"}."""
    from app.auth import service as auth_service
    from app.ledger import service as ledger_service

    async def work(session: AsyncSession) -> dict[str, Any]:
        account_id = await ledger_service.create_account(session, name, balance)
        issued = await auth_service.issue_token(session, account_id)
        return {"account_id": account_id, "token": issued.token}

    emit(in_transaction(work))


@accounts_cli.command("topup")
def accounts_topup(
    account_id: Annotated[int, typer.Argument(min=1)],
    amount: Annotated[int, typer.Argument(min=1, help="IDR to credit.")],
    reference: Annotated[str | None, typer.Option(help="Why: a payment id, a note.")] = None,
) -> None:
    """Credit an account (a ledger top-up). Prints the new balance."""
    from app.ledger import service as ledger_service

    async def work(session: AsyncSession) -> dict[str, Any]:
        posted = await ledger_service.topup(session, account_id, amount, reference)
        return {
            "account_id": posted.account_id,
            "entry_id": posted.entry_id,
            "amount": posted.amount,
            "balance": posted.balance,
        }

    emit(in_transaction(work))


@tokens_cli.command("create")
def tokens_create(account_id: Annotated[int, typer.Argument(min=1)]) -> None:
    """Issue another API token for an account (shown once)."""
    from app.auth import service as auth_service

    async def work(session: AsyncSession) -> dict[str, Any]:
        issued = await auth_service.issue_token(session, account_id)
        return {
            "token_id": issued.id,
            "account_id": issued.account_id,
            "token": issued.token,
            "prefix": issued.prefix,
        }

    emit(in_transaction(work))


@tokens_cli.command("revoke")
def tokens_revoke(token_prefix_or_id: str) -> None:
    """Revoke a token by its id, its prefix (as listed) or the token itself."""
    from app.auth import service as auth_service

    async def work(session: AsyncSession) -> dict[str, Any]:
        return {
            "token_id": await auth_service.revoke_token(session, token_prefix_or_id),
            "revoked": True,
        }

    emit(in_transaction(work))


@rates_cli.command("set")
def rates_set(pair: str, rate: str) -> None:
    """Set an exchange rate, e.g. `smsgate rates set USD/IDR 16250`."""
    from app.catalog import service as catalog_service
    from app.kit.clock import rfc3339

    async def work(session: AsyncSession) -> dict[str, Any]:
        stored = await catalog_service.set_rate(session, pair, rate)
        return {
            "pair": stored.pair,
            "rate": format(stored.rate.normalize(), "f"),
            "rate_as_of": rfc3339(stored.as_of),
        }

    emit(in_transaction(work))


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
