"""Webhook settings (read, change, test) and the replays ops ask for.

Decisions (see README): a URL set for the first time without a secret gets a generated
one (64 hex); `""` (or null) clears a field. Events are queued only while an account has
a URL, so setting one later never sends an old backlog; removing the URL forgets what was
queued (the events stay in `events` and ops can replay them). A successful change
re-enables delivery and resets the failure counter, and a disabled account's queue is then
delivered in order.
"""

import secrets
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.engine import Db
from app.errors import NotFound, ValidationFailed, field_error
from app.kit import clock
from app.kit.clock import rfc3339
from app.kit.json import dumps
from app.webhooks import repository, sender, ssrf

MAX_SECRET_LENGTH = 256
TEST_MESSAGE = "This is a test event from smsgate."


def present(row: Any) -> dict[str, Any]:
    return {
        "webhook_url": row.url if row else None,
        "webhook_secret": row.secret if row else None,
        "webhook_disabled_at": rfc3339(row.disabled_at) if row else None,
        "webhook_disabled_reason": row.disabled_reason if row else None,
        "webhook_consecutive_failures": row.consecutive_failures if row else 0,
    }


async def get_config(session: Db, account_id: int) -> dict[str, Any]:
    return present(await repository.get_config(session, account_id))


def _check_secret(secret: str) -> None:
    if len(secret) > MAX_SECRET_LENGTH or not secret.isprintable():
        raise field_error(
            "webhook_secret", f"must be at most {MAX_SECRET_LENGTH} printable characters"
        )


async def update_config(
    session: AsyncSession, account_id: int, changes: dict[str, str | None], settings: Settings
) -> dict[str, Any]:
    """Apply a PATCH: `changes` holds only the fields the client sent."""
    if not changes:
        raise ValidationFailed(
            "Send webhook_url, webhook_secret or both.",
            details={"fields": [{"field": "body", "message": "at least one field is required"}]},
        )
    url = changes.get("webhook_url") or None
    secret = changes.get("webhook_secret") or None
    if url is not None:
        # Before any statement: no transaction is open while the host resolves.
        try:
            await ssrf.check_url(url, allow_private=settings.webhook_allow_private,
                                 resolve=ssrf.system_resolver)  # fmt: skip
        except ssrf.UnsafeUrl as exc:
            raise field_error("webhook_url", str(exc)) from None
    if secret is not None:
        _check_secret(secret)

    current = await repository.get_config(session, account_id, for_update=True)
    old_url = current.url if current else None
    old_secret = current.secret if current else None
    new_url = url if "webhook_url" in changes else old_url
    new_secret = secret if "webhook_secret" in changes else old_secret
    if new_url and old_url is None and "webhook_secret" not in changes and new_secret is None:
        new_secret = secrets.token_hex(32)
    if new_url is None and old_url is not None:
        await repository.drop_stream(session, account_id)
    await repository.save_config(session, account_id, new_url, new_secret)
    return present(await repository.get_config(session, account_id))


async def send_test(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    account_id: int,
    settings: Settings,
) -> dict[str, Any]:
    """POST a `webhook.test` event; the receiver's status as-is (never its body)."""
    async with sessionmaker() as session:  # closed before the request goes out
        row = await repository.get_config(session, account_id)
    if row is None or not row.url:
        raise field_error("webhook_url", "no webhook URL is configured")
    body = dumps({"event": "webhook.test", "timestamp": rfc3339(clock.utcnow()),
                  "data": {"message": TEST_MESSAGE}})  # fmt: skip
    result = await sender.send(
        client, row.url, body, secret=row.secret,
        allow_private=settings.webhook_allow_private,
        timeout_seconds=settings.webhook_timeout_seconds,
    )  # fmt: skip
    if result.status_code is None:
        raise field_error("webhook_url", f"the endpoint did not answer ({result.error})")
    return {"status_code": result.status_code}


# --- replays (ops) ----------------------------------------------------------------------------


async def redeliver_event(session: Db, event_id: int) -> dict[str, Any]:
    """Queue one event for redelivery, re-signed with the account's current secret."""
    account_id = await repository.event_account(session, event_id)
    if account_id is None:
        raise NotFound(f"No event {event_id}.")
    queued = await repository.enqueue_replays(session, [event_id], clock.utcnow())
    return {"account_id": account_id, "queued": len(queued), "event_ids": queued}


async def redeliver_failed(session: Db, account_id: int, since: datetime) -> dict[str, Any]:
    """Queue every event created since `since` that was never delivered: tried and failed,
    or held back by disabled delivery."""
    event_ids = await repository.failed_since(session, account_id, since)
    queued = await repository.enqueue_replays(session, event_ids, clock.utcnow())
    return {"account_id": account_id, "queued": len(queued), "event_ids": queued}


async def deliveries(
    session: Db, account_id: int, before_id: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Attempts of one account, newest first, and the cursor of the next page."""
    rows = await repository.list_deliveries(session, account_id, before_id, limit)
    items = [
        {
            "id": d.id,
            "event_id": d.event_id,
            "event": event,
            "order_id": order_id,
            "attempted_at": rfc3339(d.attempted_at),
            "status_code": d.status_code,
            "error": d.error,
            "duration_ms": d.duration_ms,
            "succeeded": d.succeeded,
            "is_replay": d.is_replay,
        }
        for d, event, order_id in rows
    ]
    next_before = items[-1]["id"] if len(items) == limit else None
    return items, next_before
