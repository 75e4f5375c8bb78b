"""`smsgate webhooks …`: replays for ops. They are queued; the running dispatcher (in
`serve` or `worker`) sends them, re-signed with the account's current secret."""

from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

webhooks_cli = typer.Typer(help="Webhook delivery.", no_args_is_help=True)


@webhooks_cli.command("redeliver")
def redeliver(
    event: Annotated[int | None, typer.Option(min=1, help="Redeliver this event id.")] = None,
    account: Annotated[
        int | None, typer.Option(min=1, help="Redeliver this account's failed events.")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="With --account: events created at or after (RFC 3339).")
    ] = None,
) -> None:
    """Queue one event (--event) or every undelivered event of an account since a time
    (--account --since). Prints {"account_id", "queued", "event_ids"}."""
    from app.cli.support import emit, fail, in_transaction
    from app.webhooks import service

    if (event is None) == (account is None):
        fail("give either --event ID or --account ID --since TIME", 2)
    if event is not None:
        if since is not None:
            fail("--since goes with --account", 2)
        event_id = event

        async def one(session: AsyncSession) -> dict[str, Any]:
            return await service.redeliver_event(session, event_id)

        emit(in_transaction(one))
        return
    if since is None:
        fail("--account needs --since (RFC 3339, e.g. 2026-11-23T00:00:00Z)", 2)
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        fail(f"--since is not an RFC 3339 time: {since!r}", 2)
    if moment.tzinfo is None:
        fail("--since needs a time zone (e.g. a trailing Z)", 2)
    account_id = account
    assert account_id is not None

    async def failed(session: AsyncSession) -> dict[str, Any]:
        return await service.redeliver_failed(session, account_id, moment)

    emit(in_transaction(failed))
