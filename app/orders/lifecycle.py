"""What the poller does to one order: reconcile a PENDING purchase, apply new SMS, expire.

Same rules as the client actions: conditional UPDATEs, refund and events in the
transition's transaction, upstream calls with no transaction open.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text, update

from app.db.engine import Db
from app.kit import clock
from app.ledger import service as ledger_service
from app.ledger import subjects
from app.observability.logs import get_logger
from app.orders import events, repository
from app.orders.context import OrdersContext
from app.orders.events import EventType
from app.orders.models import LIVE_STATUSES, Order, OrderStatus, Reconcile
from app.orders.otp import extract_code
from app.orders.service import activate, fail_and_refund
from app.providers.base import Provider, UpstreamError, UpstreamState, UpstreamStatus
from app.providers.calls import provider_call

log = get_logger(__name__)


def backoff(ctx: OrdersContext, errors: int) -> timedelta:
    base = ctx.settings.poll_interval_seconds
    return timedelta(
        seconds=min(base * (2 ** min(errors, 10)), ctx.settings.poll_max_backoff_seconds)
    )


async def reconcile(ctx: OrdersContext, order: Any, provider: Provider) -> None:
    """A PENDING order nobody is working on (a crash, or a lost answer): settle it."""
    try:
        with provider_call(provider.code, "find_purchase", order.id):
            purchase = await provider.find_purchase(str(order.id))
    except UpstreamError as exc:
        await retry_later(ctx, order, f"reconcile: {exc.message}")
        return
    if purchase is None:
        await fail_and_refund(ctx, order.id, "the upstream has no purchase for this order")
        return
    if order.reconcile == Reconcile.ADOPT:
        await activate(ctx, order.id, provider, purchase, None)
        return
    if await fail_and_refund(ctx, order.id, "purchase outcome arrived too late; released"):
        async with ctx.engine.begin() as session:
            await repository.schedule_release(
                session, order.id, purchase.upstream_order_id, "cancel", clock.utcnow()
            )


async def retry_later(ctx: OrdersContext, order: Any, why: str) -> None:
    now = clock.utcnow()
    log.info("poll retry later", order_id=order.id, reason=why)
    async with ctx.autocommit.connect() as session:
        await session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(
                poll_errors=Order.poll_errors + 1,
                next_poll_at=now + backoff(ctx, order.poll_errors + 1),
                locked_until=None,
            )
        )


async def advance(
    ctx: OrdersContext,
    order: Any,
    provider: Provider | None,
    status: UpstreamStatus | None = None,
) -> None:
    """Poll a live order once (or use the `status` the caller already has): new SMS in,
    expiry applied, next poll scheduled.

    Without a provider (disabled since the purchase) or with a failing one, the order
    still expires on time: the client's money never waits on an upstream."""
    now = clock.utcnow()
    try:
        if provider is None:
            raise UpstreamError("its provider is not enabled here")
        if status is None:
            with provider_call(provider.code, "status", order.id):
                status = await provider.status(order.upstream_order_id)
    except UpstreamError as exc:
        if order.expires_at is None or now < order.expires_at:
            await retry_later(ctx, order, f"status: {exc.message}")
            return
    now = clock.utcnow()
    new_texts = status.messages[order.sms_revision :] if status is not None else ()
    expired = order.expires_at is not None and now >= order.expires_at
    ended_upstream = status is not None and status.state is UpstreamState.CANCELED
    async with ctx.engine.begin() as session:
        current = order
        if new_texts:
            current = await apply_sms(ctx, session, order, new_texts, now)
            if current is None:
                return  # someone else changed it; they rescheduled it
        if expired or (ended_upstream and current.status == OrderStatus.ACTIVE):
            await expire(ctx, session, current, now, ended_upstream and not expired)
            return
        await session.execute(
            update(Order)
            .where(Order.id == order.id, Order.status.in_(LIVE_STATUSES))
            .values(
                next_poll_at=now + timedelta(seconds=ctx.settings.poll_interval_seconds),
                locked_until=None,
                poll_errors=0,
            )
        )


async def apply_sms(
    ctx: OrdersContext, session: Db, order: Any, texts: tuple[str, ...], now: datetime
) -> Any | None:
    plan = _plan_sms(order, texts, now)
    updated = await repository.transition(
        session,
        order.id,
        LIVE_STATUSES,
        {"status": OrderStatus.OTP_RECEIVED, "otp_message": plan.message, "otp_code": plan.code,
         "sms_revision": plan.revision, "otp_received_at": order.otp_received_at or now,
         "updated_at": now},
        extra_where=(Order.sms_revision == order.sms_revision,),
    )  # fmt: skip
    if updated is None:
        return None
    await repository.insert_sms(session, plan.sms_rows)
    await events.record(session, ctx.names, now, plan.events)
    return updated


async def expire(
    ctx: OrdersContext, session: Db, order: Any, now: datetime, by_upstream: bool
) -> None:
    """ACTIVE → EXPIRED with a refund; OTP_RECEIVED → COMPLETED (the SMS was delivered)."""
    if order.status == OrderStatus.ACTIVE:
        values = {"status": OrderStatus.EXPIRED, "finished_at": now, "next_poll_at": None,
                  "locked_until": None, "updated_at": now,
                  "failed_reason": "ended by the provider" if by_upstream else None,
                  "release_action": None if by_upstream else "cancel",
                  "release_attempt_at": None if by_upstream else now}  # fmt: skip
        done = await repository.transition(
            session, order.id, (OrderStatus.ACTIVE,), values,
            extra_where=(Order.sms_revision == 0,),
        )  # fmt: skip
        if done is not None:
            await ledger_service.refund(
                session, subjects.ORDER, done.id, done.account_id, done.amount
            )
            await events.record(session, ctx.names, now, [(EventType.EXPIRED, done)])
        return
    done = await repository.transition(
        session, order.id, (OrderStatus.OTP_RECEIVED,),
        {"status": OrderStatus.COMPLETED, "finished_at": now, "next_poll_at": None,
         "locked_until": None, "updated_at": now, "release_action": "finish",
         "release_attempt_at": now},
    )  # fmt: skip
    if done is not None:
        await events.record(session, ctx.names, now, [(EventType.COMPLETED, done)])


# --- batches: what a poller round learned, applied in a few statements ----------------------

_APPLY_SMS = text(
    """
    UPDATE orders o SET status = 'OTP_RECEIVED', otp_message = v.message,
        otp_code = COALESCE(v.code, o.otp_code), sms_revision = v.revision,
        otp_received_at = COALESCE(o.otp_received_at, :now), next_poll_at = :next_poll_at,
        locked_until = NULL, poll_errors = 0, updated_at = :now
    FROM unnest(CAST(:ids AS bigint[]), CAST(:seen AS int[]), CAST(:revisions AS int[]),
                CAST(:messages AS text[]), CAST(:codes AS text[]))
         AS v(id, seen, revision, message, code)
    WHERE o.id = v.id AND o.sms_revision = v.seen AND o.status IN ('ACTIVE', 'OTP_RECEIVED')
    RETURNING o.id
    """
)
_RESCHEDULE = text(
    "UPDATE orders SET next_poll_at = :next_poll_at, locked_until = NULL, poll_errors = 0 "
    "WHERE id = ANY(CAST(:ids AS bigint[])) AND status IN ('ACTIVE', 'OTP_RECEIVED')"
)


async def apply_polls(ctx: OrdersContext, polled: list[tuple[Any, UpstreamStatus]]) -> None:
    """Orders polled without error and not due to expire: new SMS in one transaction, the
    rest rescheduled in one statement. Conditional on the revision each poll started from,
    so a concurrent change (cancel, finish, another poller) wins and is left alone."""
    now = clock.utcnow()
    next_poll_at = now + timedelta(seconds=ctx.settings.poll_interval_seconds)
    quiet = [order.id for order, status in polled if len(status.messages) <= order.sms_revision]
    news = [(order, status.messages[order.sms_revision :]) for order, status in polled
            if len(status.messages) > order.sms_revision]  # fmt: skip
    if quiet:
        async with ctx.autocommit.connect() as conn:
            await conn.execute(_RESCHEDULE, {"ids": quiet, "next_poll_at": next_poll_at})
    if not news:
        return
    planned = [_plan_sms(order, texts, now) for order, texts in news]
    params = {
        "ids": [p.order.id for p in planned],
        "seen": [p.order.sms_revision for p in planned],
        "revisions": [p.revision for p in planned],
        "messages": [p.message for p in planned],
        "codes": [p.code for p in planned],
        "now": now,
        "next_poll_at": next_poll_at,
    }
    async with ctx.engine.begin() as conn:
        applied = set((await conn.execute(_APPLY_SMS, params)).scalars())
        done = [p for p in planned if p.order.id in applied]
        await repository.insert_sms(conn, [row for p in done for row in p.sms_rows])
        await events.record(conn, ctx.names, now, [e for p in done for e in p.events])


@dataclass
class _SmsPlan:
    order: Any
    revision: int
    message: str
    code: str | None
    sms_rows: list[dict[str, Any]]
    events: list[tuple[EventType, Any]]


def _plan_sms(order: Any, texts: tuple[str, ...], now: datetime) -> _SmsPlan:
    """The order after these SMS, and one event per SMS showing the order as it was then."""
    code = order.otp_code
    revision = order.sms_revision
    snapshot = SimpleNamespace(**order._mapping)
    sms_rows = []
    planned_events: list[tuple[EventType, Any]] = []
    for message in texts:
        revision += 1
        found = extract_code(message)
        code = found or code  # a later code-less SMS keeps the earlier code
        sms_rows.append({"order_id": order.id, "revision": revision, "text": message,
                         "code": found, "received_at": now})  # fmt: skip
        snapshot = SimpleNamespace(**{
            **vars(snapshot), "status": OrderStatus.OTP_RECEIVED, "otp_message": message,
            "otp_code": code, "sms_revision": revision,
            "otp_received_at": order.otp_received_at or now,
        })  # fmt: skip
        planned_events.append((EventType.OTP_RECEIVED, snapshot))
    return _SmsPlan(order, revision, texts[-1], code, sms_rows, planned_events)
