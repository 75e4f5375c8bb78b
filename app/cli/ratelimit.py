"""`smsgate ratelimits show|set|clear`: an account's rate-limit overrides.

Running API processes pick a change up within SMSGATE_RATE_LIMIT_OVERRIDE_CACHE_SECONDS.
"""

from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

ratelimits_cli = typer.Typer(
    help="Per-account rate-limit overrides (requests per window, per endpoint group).",
    no_args_is_help=True,
)

AccountArg = Annotated[int, typer.Argument(min=1, help="The account id.")]


def _show_after(account_id: int, change: Any = None) -> None:
    # app.cli imports this module to register it: import its helpers when a command runs.
    from app.cli.support import emit, in_transaction, load_settings
    from app.ratelimit import service

    settings = load_settings()

    async def work(session: AsyncSession) -> dict[str, Any]:
        if change is not None:
            await change(session)
        return await service.show(session, settings, account_id)

    emit(in_transaction(work))


@ratelimits_cli.command("show")
def ratelimits_show(account_id: AccountArg) -> None:
    """Every group's limit for the account: default, override, and the one in force."""
    _show_after(account_id)


@ratelimits_cli.command("set")
def ratelimits_set(
    account_id: AccountArg,
    group: Annotated[str, typer.Argument(help="catalog, balance, order_reads, order_create, "
                                              "order_cancel, order_actions, webhook_config")],
    limit: Annotated[int, typer.Argument(help="Requests per window; 0 refuses all.")],
) -> None:  # fmt: skip
    """Override the account's limit for one group."""
    from app.ratelimit import service

    async def change(session: AsyncSession) -> None:
        await service.set_override(session, account_id, group, limit)

    _show_after(account_id, change)


@ratelimits_cli.command("clear")
def ratelimits_clear(
    account_id: AccountArg,
    group: Annotated[str | None, typer.Argument(help="One group; all when left out.")] = None,
) -> None:
    """Remove the account's override for one group, or all of them."""
    from app.ratelimit import service

    async def change(session: AsyncSession) -> None:
        await service.clear_overrides(session, account_id, group)

    _show_after(account_id, change)
