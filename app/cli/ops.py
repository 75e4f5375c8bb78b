"""Everyday operator commands: `smsgate orders …`, `smsgate report`, account/token views.

They call the same services as /admin. People get tables; `--json` prints the JSON the
admin API would put in `data` (one object per line for searches), for scripts.
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

orders_cli = typer.Typer(help="Orders of every account (search, show, export).",
                         no_args_is_help=True)  # fmt: skip

Json = Annotated[bool, typer.Option("--json", help="JSON for scripts instead of a table.")]
When = Annotated[datetime | None, typer.Option(help="UTC unless an offset is given.")]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(_plain(value), ensure_ascii=False))


def _table(rows: list[dict[str, Any]], columns: list[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = [_plain(row.get(c)) for c in columns]
        table.add_row(*("" if v is None else str(v) for v in cells))
    Console(width=200).print(table)


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else (value.replace(tzinfo=UTC))


def _filter(**values: Any) -> Any:
    from app.ops import order_search as search

    statuses = search.parse_statuses(values.pop("status"))
    for name in ("created_from", "created_to", "finished_from", "finished_to"):
        values[name] = _utc(values[name])
    return search.OrderFilter(statuses=statuses, **values)


ORDER_COLUMNS = ["id", "account_id", "status", "provider", "country", "service",
                 "phone_number", "amount", "cost", "created_at", "finished_at"]  # fmt: skip


@orders_cli.command("search")
def orders_search(
    account_id: Annotated[int | None, typer.Option(min=1)] = None,
    status: Annotated[list[str] | None, typer.Option(help="Repeat or comma-separate.")] = None,
    provider: Annotated[str | None, typer.Option()] = None,
    product_id: Annotated[int | None, typer.Option(min=1)] = None,
    catalog_product_id: Annotated[int | None, typer.Option(min=1)] = None,
    country: Annotated[str | None, typer.Option(help="ISO code or id.")] = None,
    service: Annotated[str | None, typer.Option(help="Code or id.")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    upstream_order_id: Annotated[str | None, typer.Option()] = None,
    created_from: When = None,
    created_to: When = None,
    finished_from: When = None,
    finished_to: When = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: Json = False,
) -> None:
    """Search orders across accounts, newest first (one page; --cursor for the next)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cli.support import in_transaction
    from app.ops import order_search as search

    async def work(session: AsyncSession) -> search.Page:
        f = _filter(account_id=account_id, status=status, provider=provider,
                    product_id=product_id, catalog_product_id=catalog_product_id,
                    country=country, service=service, phone_number=phone,
                    upstream_order_id=upstream_order_id, created_from=created_from,
                    created_to=created_to, finished_from=finished_from,
                    finished_to=finished_to)  # fmt: skip
        return await search.search(session, f, limit=limit, cursor=cursor)

    page = in_transaction(work)
    if as_json:
        _print_json({"orders": page.items, "next_cursor": page.next_cursor})
        return
    _table(page.items, ORDER_COLUMNS)
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}", err=True)


@orders_cli.command("show")
def orders_show(order_id: Annotated[int, typer.Argument(min=1)], as_json: Json = False) -> None:
    """One order's full history: transitions, SMS, money."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cli.support import in_transaction
    from app.ops import order_history as history

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await history.order_history(session, order_id)

    found = in_transaction(work)
    if as_json:
        _print_json(found)
        return
    order = found["order"]
    _table([{"field": k, "value": v} for k, v in order.items()], ["field", "value"],
           title=f"order {order_id}")  # fmt: skip
    _table(found["transitions"], ["at", "status", "source"], title="transitions")
    _table(found["sms"], ["revision", "received_at", "code", "text"], title="sms")
    _table(found["ledger"], ["id", "kind", "amount", "balance_after", "created_at"],
           title="ledger")  # fmt: skip


@orders_cli.command("export")
def orders_export(
    csv: Annotated[bool, typer.Option("--csv", help="CSV (the only format).")] = True,
    output: Annotated[Path | None, typer.Option("-o", help="File (default stdout).")] = None,
    account_id: Annotated[int | None, typer.Option(min=1)] = None,
    status: Annotated[list[str] | None, typer.Option()] = None,
    provider: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option()] = None,
    service: Annotated[str | None, typer.Option()] = None,
    created_from: When = None,
    created_to: When = None,
    finished_from: When = None,
    finished_to: When = None,
) -> None:
    """Every matching order as CSV, streamed in batches."""

    from app.cli.support import fail, with_runtime
    from app.errors import GatewayError
    from app.ops import order_export as export
    from app.runtime import Runtime

    try:
        f = _filter(account_id=account_id, status=status, provider=provider, country=country,
                    service=service, created_from=created_from, created_to=created_to,
                    finished_from=finished_from, finished_to=finished_to)  # fmt: skip
    except GatewayError as exc:
        fail(exc.message, 2)

    async def run(runtime: Runtime) -> int:
        sink = output.open("wb") if output else sys.stdout.buffer
        rows = -1
        try:
            async for chunk in export.csv_chunks(runtime.engine, f):
                sink.write(chunk)
                rows += chunk.count(b"\n")
        finally:
            sink.flush()
            if output:
                sink.close()
        return rows

    rows = with_runtime(run)
    typer.echo(f"exported {rows} orders", err=True)


def report(
    since: Annotated[datetime, typer.Option("--from", help="Start (UTC unless an offset).")],
    until: Annotated[datetime, typer.Option("--to", help="End, exclusive.")],
    by: Annotated[str, typer.Option(help="account, provider, service or day.")] = "account",
    account_id: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: Json = False,
) -> None:
    """Orders, revenue, provider cost and margin for a time range (matches the ledger)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.cli.support import in_transaction
    from app.ops import reports as service

    async def work(session: AsyncSession) -> dict[str, Any]:
        start, end = _utc(since), _utc(until)
        assert start is not None and end is not None
        return await service.report(session, by, start, end, account_id)

    result = in_transaction(work)
    if as_json:
        _print_json(result)
        return
    keys = [k for k in (result["rows"][0] if result["rows"] else {}) if k not in _MEASURES]
    rows = [*result["rows"], {**result["totals"], (keys or ["total"])[0]: "total"}]
    _table(rows, [*(keys or ["total"]), *_MEASURES], title=f"by {by}")


_MEASURES = ["orders", "refunded", "revenue", "cost", "margin"]
ACCOUNT_COLUMNS = ["id", "name", "balance", "disabled", "created_at"]


def add_account_commands(accounts_cli: typer.Typer, tokens_cli: typer.Typer) -> None:
    """`accounts list/show/disable/enable` and `tokens list` on the existing groups."""
    from sqlalchemy.ext.asyncio import AsyncSession

    @accounts_cli.command("list")
    def accounts_list(
        name: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
        disabled: Annotated[bool | None, typer.Option("--disabled/--enabled")] = None,
        limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1_000,
        as_json: Json = False,
    ) -> None:
        """Accounts by id."""
        from app.cli.support import in_transaction
        from app.ops import accounts

        async def work(session: AsyncSession) -> list[dict[str, Any]]:
            return await accounts.list_accounts(session, limit=limit, name=name,
                                                disabled=disabled)  # fmt: skip

        rows = in_transaction(work)
        _print_json(rows) if as_json else _table(rows, ACCOUNT_COLUMNS)

    @accounts_cli.command("show")
    def accounts_show(
        account_id: Annotated[int, typer.Argument(min=1)], as_json: Json = False
    ) -> None:
        """One account with its token and live-order counts."""
        from app.cli.support import in_transaction
        from app.ops import accounts

        async def work(session: AsyncSession) -> dict[str, Any]:
            return await accounts.get_account(session, account_id)

        row = in_transaction(work)
        _print_json(row) if as_json else _table(
            [{"field": k, "value": v} for k, v in row.items()], ["field", "value"]
        )

    def _set_disabled(account_id: int, disabled: bool, as_json: bool) -> None:
        from app.cli.support import in_transaction
        from app.ops import accounts

        async def work(session: AsyncSession) -> dict[str, Any]:
            return await accounts.set_disabled(session, account_id, disabled)

        row = in_transaction(work)
        _print_json(row) if as_json else _table([row], ACCOUNT_COLUMNS)
        typer.echo("running servers see this within SMSGATE_TOKEN_CACHE_SECONDS", err=True)

    @accounts_cli.command("disable")
    def accounts_disable(
        account_id: Annotated[int, typer.Argument(min=1)], as_json: Json = False
    ) -> None:
        """Stop the account's tokens from working (its money and orders stay)."""
        _set_disabled(account_id, True, as_json)

    @accounts_cli.command("enable")
    def accounts_enable(
        account_id: Annotated[int, typer.Argument(min=1)], as_json: Json = False
    ) -> None:
        """Give a disabled account its API access back."""
        _set_disabled(account_id, False, as_json)

    @tokens_cli.command("list")
    def tokens_list(
        account_id: Annotated[int, typer.Argument(min=1)], as_json: Json = False
    ) -> None:
        """An account's tokens: id, prefix, dates (never the token)."""
        from app.auth import service as auth_service
        from app.cli.support import in_transaction

        async def work(session: AsyncSession) -> list[dict[str, Any]]:
            return await auth_service.list_tokens(session, account_id)

        rows = in_transaction(work)
        columns = ["id", "prefix", "active", "created_at", "revoked_at"]
        _print_json(rows) if as_json else _table(rows, columns)
