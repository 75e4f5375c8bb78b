"""Statements of the webhooks domain: settings, the delivery queue, the attempt log.

Nothing here commits; the dispatcher and the services own their transactions.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, delete, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.db.engine import Db
from app.events.models import Event
from app.webhooks.models import WebhookConfig, WebhookDelivery, WebhookOutbox

DISABLED_REASON = "consecutive_failed_user_endpoint"

# --- settings ---------------------------------------------------------------------------


async def get_config(session: Db, account_id: int, *, for_update: bool = False) -> Any:
    stmt = (
        select(WebhookConfig)
        .where(WebhookConfig.account_id == account_id)
        .execution_options(populate_existing=True)  # fresh after a Core UPDATE/upsert
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def save_config(session: Db, account_id: int, url: str | None, secret: str | None) -> None:
    """Store URL and secret; re-enable delivery and reset the failure counter."""
    # The lease goes too: a delivery in flight to the old URL can neither renew it (it
    # stops after that event) nor count its outcome against the new settings.
    values = {"url": url, "secret": secret, "disabled_at": None, "disabled_reason": None,
              "consecutive_failures": 0, "next_attempt_at": None, "locked_until": None,
              "lease_token": None}  # fmt: skip
    stmt = pg_insert(WebhookConfig).values(account_id=account_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["account_id"], set_=values))


async def drop_stream(session: Db, account_id: int) -> None:
    """Forget the account's queued (not replayed) events: its owner removed the URL."""
    await session.execute(
        delete(WebhookOutbox).where(
            WebhookOutbox.account_id == account_id, WebhookOutbox.is_replay.is_(False)
        )
    )


# --- the account streams ------------------------------------------------------------------

_CLAIM_STREAMS = text("""
UPDATE webhook_configs c SET locked_until = :until, lease_token = :token
WHERE c.account_id IN (
    SELECT w.account_id FROM webhook_configs w
    WHERE w.url IS NOT NULL AND w.disabled_at IS NULL
      AND (w.locked_until IS NULL OR w.locked_until <= :now)
      AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= :now)
      AND EXISTS (SELECT 1 FROM webhook_outbox q
                  WHERE q.account_id = w.account_id AND NOT q.is_replay)
    ORDER BY w.next_attempt_at NULLS FIRST, w.account_id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED)
RETURNING c.account_id
""")


async def claim_streams(
    session: Db, now: datetime, until: datetime, token: uuid.UUID, limit: int
) -> list[int]:
    """Lease accounts that have queued events and may be sent to now (one statement)."""
    params = {"now": now, "until": until, "token": token, "limit": limit}
    return list((await session.execute(_CLAIM_STREAMS, params)).scalars())


_NEXT_EVENTS = text("""
SELECT q.id AS outbox_id, q.event_id, e.payload, c.url, c.secret
FROM webhook_configs c
JOIN webhook_outbox q ON q.account_id = c.account_id AND NOT q.is_replay
JOIN events e ON e.id = q.event_id
WHERE c.account_id = :account_id AND c.lease_token = :token
  AND c.url IS NOT NULL AND c.disabled_at IS NULL
ORDER BY q.event_id
LIMIT :limit
""")


async def next_events(session: Db, account_id: int, token: uuid.UUID, limit: int) -> Sequence[Any]:
    """The oldest queued events of a stream we still hold, with the current URL and secret
    (none when the lease was lost, delivery was disabled or the URL removed)."""
    params = {"account_id": account_id, "token": token, "limit": limit}
    return (await session.execute(_NEXT_EVENTS, params)).all()


async def stream_delivered(
    session: Db, account_id: int, token: uuid.UUID, outbox_id: int, until: datetime
) -> bool:
    """Dequeue a delivered event, reset the failure counter, renew the lease. False when
    the lease was lost meanwhile (a PATCH, an expiry): the counter is then left alone and
    the event is dequeued anyway (it was delivered). The config row is touched before the
    queue, in the order a PATCH locks them, so the two never deadlock."""
    renewed = await session.execute(
        update(WebhookConfig)
        .where(WebhookConfig.account_id == account_id, WebhookConfig.lease_token == token)
        .values(consecutive_failures=0, locked_until=until)
        .returning(WebhookConfig.account_id)
    )
    await session.execute(delete(WebhookOutbox).where(WebhookOutbox.id == outbox_id))
    return renewed.first() is not None


_STREAM_FAILED = text("""
UPDATE webhook_configs SET
    consecutive_failures = consecutive_failures + 1,
    next_attempt_at = CAST(:now AS timestamptz) + make_interval(secs => LEAST(
        CAST(:max_delay AS float8),
        CAST(:base AS float8) * power(3, LEAST(consecutive_failures, 30))
    ) * CAST(:jitter AS float8)),
    disabled_at = CASE WHEN consecutive_failures + 1 >= :max_failures
                       THEN CAST(:now AS timestamptz) ELSE disabled_at END,
    disabled_reason = CASE WHEN consecutive_failures + 1 >= :max_failures
                           THEN :reason ELSE disabled_reason END,
    locked_until = NULL, lease_token = NULL
WHERE account_id = :account_id AND lease_token = :token
RETURNING consecutive_failures, disabled_at
""")


async def stream_failed(
    session: Db,
    account_id: int,
    token: uuid.UUID,
    now: datetime,
    *,
    base: float,
    max_delay: float,
    jitter: float,
    max_failures: int,
) -> Any:
    """Count a failure, schedule the retry (backoff * jitter), disable at the limit, and
    release the stream. None when the lease was lost (the failure is then not counted)."""
    params = {"account_id": account_id, "token": token, "now": now, "base": base,
              "max_delay": max_delay, "jitter": jitter, "max_failures": max_failures,
              "reason": DISABLED_REASON}  # fmt: skip
    return (await session.execute(_STREAM_FAILED, params)).first()


async def release_stream(session: Db, account_id: int, token: uuid.UUID) -> None:
    await session.execute(
        update(WebhookConfig)
        .where(WebhookConfig.account_id == account_id, WebhookConfig.lease_token == token)
        .values(locked_until=None, lease_token=None)
    )


# --- replays --------------------------------------------------------------------------------

_CLAIM_REPLAYS = text("""
WITH claimed AS (
    UPDATE webhook_outbox SET locked_until = :until, attempts = attempts + 1
    WHERE id IN (
        SELECT id FROM webhook_outbox
        WHERE is_replay AND next_attempt_at <= :now
          AND (locked_until IS NULL OR locked_until <= :now)
        ORDER BY id LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING id, event_id, account_id, attempts)
SELECT claimed.id AS outbox_id, claimed.event_id, claimed.account_id, claimed.attempts,
       e.payload, c.url, c.secret
FROM claimed
JOIN events e ON e.id = claimed.event_id
LEFT JOIN webhook_configs c ON c.account_id = claimed.account_id
ORDER BY claimed.event_id
""")


async def claim_replays(session: Db, now: datetime, until: datetime, limit: int) -> Sequence[Any]:
    params = {"now": now, "until": until, "limit": limit}
    return (await session.execute(_CLAIM_REPLAYS, params)).all()


async def replay_finished(session: Db, outbox_id: int, event_id: int, delivered: bool) -> None:
    """Dequeue a replay; when it was delivered, the stream does not send the event again."""
    await session.execute(delete(WebhookOutbox).where(WebhookOutbox.id == outbox_id))
    if delivered:
        await session.execute(
            delete(WebhookOutbox).where(
                WebhookOutbox.event_id == event_id, WebhookOutbox.is_replay.is_(False)
            )
        )


async def replay_later(session: Db, outbox_id: int, at: datetime) -> None:
    await session.execute(
        update(WebhookOutbox)
        .where(WebhookOutbox.id == outbox_id)
        .values(next_attempt_at=at, locked_until=None)
    )


async def enqueue_replays(session: Db, event_ids: Sequence[int], now: datetime) -> list[int]:
    """Queue a replay of each event (once: an event already waiting for one is skipped)."""
    if not event_ids:
        return []
    waiting = select(WebhookOutbox.event_id).where(
        WebhookOutbox.is_replay.is_(True), WebhookOutbox.event_id.in_(event_ids)
    )
    source = select(
        Event.id, Event.account_id, literal(True), literal(now, DateTime(timezone=True))
    ).where(Event.id.in_(event_ids), Event.id.not_in(waiting))
    stmt = (
        insert(WebhookOutbox)
        .from_select(["event_id", "account_id", "is_replay", "next_attempt_at"], source)
        .returning(WebhookOutbox.event_id)
    )
    return sorted((await session.execute(stmt)).scalars())


_FAILED_SINCE = text("""
SELECT e.id FROM events e
WHERE e.account_id = :account_id AND e.created_at >= :since
  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.succeeded)
  AND (EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
       OR EXISTS (SELECT 1 FROM webhook_outbox q JOIN webhook_configs c
                    ON c.account_id = q.account_id AND c.disabled_at IS NOT NULL
                  WHERE q.event_id = e.id AND NOT q.is_replay))
ORDER BY e.id
""")


async def failed_since(session: Db, account_id: int, since: datetime) -> list[int]:
    """Events since `since` never delivered: tried and failed, or held by a disabled stream."""
    params = {"account_id": account_id, "since": since}
    return list((await session.execute(_FAILED_SINCE, params)).scalars())


async def event_account(session: Db, event_id: int) -> int | None:
    return await session.scalar(select(Event.account_id).where(Event.id == event_id))


# --- the attempt log ------------------------------------------------------------------------


async def record_attempt(session: Db, **values: Any) -> None:
    await session.execute(insert(WebhookDelivery).values(**values))


async def list_deliveries(
    session: Db, account_id: int, before_id: int | None, limit: int
) -> Sequence[Any]:
    stmt = (
        select(WebhookDelivery, Event.type, Event.order_id)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.account_id == account_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return (await session.execute(stmt)).all()
