"""`smsgate providers …`: health, pause and resume, catalog sync, pricing rules and catalog
mappings."""

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli.support import (
    database_url,
    emit,
    fail,
    in_transaction,
    load_settings,
    with_runtime,
)  # fmt: skip

providers_cli = typer.Typer(
    help="Upstream providers: health, sync, pricing, mappings.", no_args_is_help=True
)


@providers_cli.command("status")
def status() -> None:
    """Every provider: enabled, breaker state, last error, upstream balance, last sync."""
    from app.catalog import health

    async def work(session: AsyncSession) -> dict[str, Any]:
        return {"providers": await health.status(session)}

    emit(in_transaction(work))


def _record_pause(code: str, seconds: float | None) -> None:
    from app.catalog import health

    async def work(session: AsyncSession) -> dict[str, Any] | None:
        return await health.record_pause(session, code, seconds)

    recorded = in_transaction(work)
    if recorded is None:
        fail(f"unknown provider {code!r}", 2)
    emit(health.shown(recorded))


@providers_cli.command("pause")
def pause(
    code: str,
    seconds: Annotated[float, typer.Option(min=1, help="How long purchases are held back.")] = 3600,
) -> None:
    """Hold a provider's purchases back by hand, in every process (they follow within
    SMSGATE_BREAKER_PROBE_SECONDS); probes leave it paused. Live orders go on."""
    _record_pause(code, seconds)


@providers_cli.command("resume")
def resume(code: str) -> None:
    """Let a provider's purchases go out again now, in every process, whatever paused it."""
    _record_pause(code, None)


@providers_cli.command("sync")
def sync_cmd(
    code: Annotated[
        str | None, typer.Argument(help="One provider (default: every enabled one).")
    ] = None,
) -> None:
    """Pull providers' catalogs now (prices, stock, new countries and services)."""
    from app.catalog import jobs
    from app.db import migrate
    from app.runtime import Runtime

    settings = load_settings()
    if code is not None and code not in settings.providers:
        fail(f"provider {code!r} is not enabled (SMSGATE_PROVIDERS={','.join(settings.providers)})",
             2)  # fmt: skip
    url = database_url(settings)
    if not migrate.is_at_head(url):
        fail("the database schema is not at head: run `smsgate migrate` (or serve) first")

    async def run(runtime: Runtime) -> list[jobs.SyncOutcome]:
        chosen = {c: p for c, p in runtime.providers.items() if code is None or c == code}
        return await jobs.sync_all(runtime.sessionmaker, chosen, settings)

    outcomes = with_runtime(run, settings, url)
    emit({"synced": [o.as_dict() for o in outcomes]})
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


def _decimal(value: str | None, name: str) -> Decimal | None:
    if value is None or value == "default":
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        fail(f"{name}: not a number: {value!r}", 2)


@providers_cli.command("pricing")
def pricing(
    code: str,
    markup: Annotated[str | None, typer.Option(help="Percent markup, or 'default'.")] = None,
    fee: Annotated[int | None, typer.Option(min=0, help="Fixed IDR fee per number.")] = None,
    round_to: Annotated[int | None, typer.Option(min=1, help="Round prices up to this.")] = None,
) -> None:
    """Set a provider's pricing rule (unset parts take SMSGATE_PRICING_*); applies at the
    next sync."""
    from app.catalog import provider_settings

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await provider_settings.set_pricing(
            session, code, markup_percent=_decimal(markup, "markup"), fixed_fee=fee,
            round_to=round_to,
        )  # fmt: skip

    emit(in_transaction(work))


@providers_cli.command("map")
def map_cmd(
    code: str,
    kind: Annotated[str, typer.Argument(help="country or service")],
    upstream_code: Annotated[str, typer.Argument(help="The provider's own id.")],
    canonical: Annotated[
        str | None, typer.Argument(help="ISO code or service slug; omit with --ignore.")
    ] = None,
    ignore: Annotated[bool, typer.Option(help="Leave this item out of the catalog.")] = False,
) -> None:
    """Correct or fill a mapping; the sync never overwrites it. Applies at the next sync."""
    from app.catalog import provider_settings

    if (canonical is None) == (not ignore):
        fail("give either a canonical code or --ignore", 2)

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await provider_settings.set_mapping(session, code, kind, upstream_code, canonical)

    emit(in_transaction(work))


@providers_cli.command("mappings")
def mappings(
    code: str,
    unmapped: Annotated[bool, typer.Option(help="Only what could not be mapped.")] = False,
) -> None:
    """A provider's country and service mappings (and what the sync could not map)."""
    from app.catalog import provider_settings

    async def work(session: AsyncSession) -> dict[str, Any]:
        rows = await provider_settings.list_mappings(session, code, unmapped_only=unmapped)
        return {"provider": code, "mappings": rows}

    emit(in_transaction(work))
