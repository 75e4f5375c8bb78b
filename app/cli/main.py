"""The `smsgate` command. Output for scripts is JSON on stdout; messages go to stderr.

Exit codes: 0 done, 1 refused or failed (the message says why), 2 bad arguments.
"""

import asyncio
import os
import sys
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import ops as ops_cli
from app.cli.providers import providers_cli
from app.cli.ratelimit import ratelimits_cli
from app.cli.support import database_url, emit, fail, in_transaction, load_settings, with_runtime
from app.cli.webhooks import webhooks_cli

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
cli.add_typer(webhooks_cli, name="webhooks")
cli.add_typer(ops_cli.orders_cli, name="orders")
cli.command("report")(ops_cli.report)
ops_cli.add_account_commands(accounts_cli, tokens_cli)
cli.add_typer(ratelimits_cli, name="ratelimits")


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

    from app.cli import bootstrap, serving
    from app.db import migrate
    from app.runtime import Runtime

    settings = load_settings()
    logging_args = serving.prepare(settings)
    url = database_url(settings)
    migrate.upgrade(url)

    async def prepare(runtime: Runtime) -> bootstrap.DemoAccount | None:
        outcomes = await bootstrap.sync_provider_catalogs(
            runtime.sessionmaker, runtime.providers, settings
        )
        for outcome in outcomes:
            if outcome.error:
                typer.echo(
                    f"warning: provider {outcome.provider}: catalog sync failed: {outcome.error}",
                    err=True,
                )
        return await bootstrap.create_demo_account(runtime.sessionmaker, settings)

    demo = with_runtime(prepare, settings, url)
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
        **logging_args,
    )


@cli.command()
def worker() -> None:
    """Run the background workers (order poller, webhook dispatcher) without serving HTTP."""
    import signal

    from app import runtime
    from app.db import migrate
    from app.observability.logs import configure_logging
    from app.providers import registry as provider_registry

    settings = load_settings()
    configure_logging(settings, extra_secrets=provider_registry.secret_values(settings))
    url = database_url(settings)
    if not migrate.is_at_head(url):
        fail("the database schema is not at head: run `smsgate migrate` (or serve) first")

    async def run() -> None:
        async with runtime.running(settings, url=url, workers=True) as built:
            ops = None
            if settings.worker_port:
                from app.cli.worker_server import OpsServer

                ops = OpsServer(built)

            def stop() -> None:
                built.stop()
                if ops is not None:
                    ops.stop()

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
            await asyncio.gather(built.wait(), *([ops.run()] if ops is not None else []))

    typer.echo("smsgate worker: polling orders and delivering webhooks (Ctrl+C stops after "
               "the current round)", err=True)  # fmt: skip
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
    from app.db import migrate

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
        account_id = await ledger_service.open_account(session, name, balance)
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
        posted = await ledger_service.credit(session, account_id, amount, reference)
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


cli.add_typer(providers_cli, name="providers")


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
