"""What a client does to its orders: read, cancel, finish, resend, reactivate.

Each change is a conditional UPDATE; the refund and the outbox event ride in the same
transaction as the transition, so a refund happens exactly once whoever wins the race.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.catalog import jobs, sync
from app.errors import (
    CancelTooEarly,
    Conflict,
    InsufficientBalance,
    NotFound,
    ProviderError,
    ValidationFailed,
)
from app.kit import clock
from app.kit.clock import rfc3339
from app.ledger import service as ledger_service
from app.ledger import subjects
from app.orders import events, presenter, repository
from app.orders.context import OrdersContext
from app.orders.events import EventType
from app.orders.models import PUBLIC_STATUSES, Order, OrderStatus
from app.orders.routing import Candidate
from app.orders.service import CreateResult, Offer, buy_one
from app.providers import base as upstream
from app.providers.base import Provider
from app.providers.calls import provider_call

STATUS_NAMES = {s.value for s in PUBLIC_STATUSES}


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: int
    refund_amount: int
    new_balance: int


# --- reads ------------------------------------------------------------------------------------


async def get(ctx: OrdersContext, account_id: int, order_id: int) -> dict[str, Any]:
    async with ctx.autocommit.connect() as session:
        order = await repository.get_own(session, order_id, account_id)
        if order is None:
            raise NotFound(f"No order {order_id}.")
        await ctx.names.load(session, set(), {order.operator_id})
    return presenter.full(order, ctx.names, clock.utcnow())


async def list_orders(
    ctx: OrdersContext, account_id: int, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    if status is not None:
        status = status.strip().upper()
        if status not in STATUS_NAMES:
            raise ValidationFailed(
                f"status must be one of {', '.join(sorted(STATUS_NAMES))}",
                details={"fields": [{"field": "status", "message": "unknown status"}]},
            )
    async with ctx.autocommit.connect() as session:
        rows = await repository.list_for_account(session, account_id, status, limit, offset)
        await ctx.names.load(session, set(), {r.operator_id for r in rows})
    now = clock.utcnow()
    return [presenter.full(r, ctx.names, now) for r in rows]


async def list_active(ctx: OrdersContext, account_id: int) -> list[dict[str, Any]]:
    async with ctx.autocommit.connect() as session:
        rows = await repository.list_live(session, account_id)
        await ctx.names.load(session, set(), {r.operator_id for r in rows})
    now = clock.utcnow()
    return [presenter.active(r, ctx.names, now) for r in rows]


async def _own(ctx: OrdersContext, account_id: int, order_id: int) -> tuple[Any, Provider]:
    async with ctx.autocommit.connect() as session:
        order = await repository.get_own(session, order_id, account_id)
    if order is None:
        raise NotFound(f"No order {order_id}.")
    provider = await ctx.provider_by_id(order.provider_id)
    if provider is None:
        raise ProviderError("The order's provider is not enabled on this gateway.")
    return order, provider


# --- cancel -----------------------------------------------------------------------------------


async def cancel(ctx: OrdersContext, account_id: int, order_id: int) -> CancelResult:
    order, provider = await _own(ctx, account_id, order_id)
    now = clock.utcnow()
    if order.status != OrderStatus.ACTIVE or order.sms_revision > 0:
        raise Conflict(f"Order {order_id} is {order.status} and cannot be canceled.")
    if order.cancel_available_at is not None and now < order.cancel_available_at:
        wait = int((order.cancel_available_at - now).total_seconds()) + 1
        raise CancelTooEarly(
            f"Cancel is possible in {wait} s.",
            details={"cancel_available_at": rfc3339(order.cancel_available_at)},
        )
    try:
        with provider_call(provider.code, "cancel", order_id):
            await provider.cancel(order.upstream_order_id)
    except upstream.CancelTooEarly as exc:
        raise CancelTooEarly(f"The provider will not cancel yet: {exc.message}") from None
    except upstream.UpstreamError as exc:
        raise ProviderError(f"The provider refused the cancel: {exc.message}") from None
    now = clock.utcnow()
    async with ctx.engine.begin() as session:
        canceled = await repository.transition(
            session,
            order_id,
            (OrderStatus.ACTIVE,),
            {"status": OrderStatus.CANCELED, "canceled_at": now, "finished_at": now,
             "next_poll_at": None, "locked_until": None, "updated_at": now},
            account_id=account_id,
            extra_where=(Order.sms_revision == 0,),
        )  # fmt: skip
        if canceled is None:
            # An SMS or the expiry got there between our check and now; they settled it.
            raise Conflict(f"Order {order_id} changed state and cannot be canceled.")
        posted = await ledger_service.refund(
            session, subjects.ORDER, order_id, account_id, canceled.amount
        )
        await events.record(session, ctx.names, now, [(EventType.CANCELED, canceled)])
    return CancelResult(order_id, canceled.amount, posted.balance)


# --- finish -----------------------------------------------------------------------------------


async def finish(ctx: OrdersContext, account_id: int, order_id: int) -> dict[str, Any]:
    now = clock.utcnow()
    async with ctx.engine.begin() as session:
        done = await repository.transition(
            session,
            order_id,
            (OrderStatus.OTP_RECEIVED,),
            {"status": OrderStatus.COMPLETED, "finished_at": now, "next_poll_at": None,
             "locked_until": None, "release_action": "finish", "release_attempt_at": now,
             "updated_at": now},
            account_id=account_id,
        )  # fmt: skip
        if done is not None:
            await events.record(session, ctx.names, now, [(EventType.COMPLETED, done)])
    if done is None:
        async with ctx.autocommit.connect() as session:
            current = await repository.get_own(session, order_id, account_id)
        if current is None:
            raise NotFound(f"No order {order_id}.")
        raise Conflict(f"Order {order_id} is {current.status} and cannot be finished.")
    provider = await ctx.provider_by_id(done.provider_id)
    if provider is not None:
        await release(ctx, done.id, provider, done.upstream_order_id, "finish")
    return {"order_id": order_id, "status": OrderStatus.COMPLETED.value}


async def release(
    ctx: OrdersContext, order_id: int, provider: Provider, upstream_order_id: str, action: str
) -> bool:
    """Give a number back upstream now; on failure the poller retries (release_attempt_at).

    `cancel` falls back to `finish` when the provider refuses because an SMS came meanwhile:
    either way the number is given back.
    """
    try:
        if action == "cancel":
            try:
                with provider_call(provider.code, "cancel", order_id):
                    await provider.cancel(upstream_order_id)
            except upstream.Rejected:
                with provider_call(provider.code, "finish", order_id):
                    await provider.finish(upstream_order_id)
        else:
            with provider_call(provider.code, "finish", order_id):
                await provider.finish(upstream_order_id)
    except upstream.UpstreamError:
        return False
    async with ctx.engine.begin() as session:
        await repository.release_done(session, order_id)
    return True


# --- resend -----------------------------------------------------------------------------------


async def resend(ctx: OrdersContext, account_id: int, order_id: int) -> dict[str, Any]:
    order, provider = await _own(ctx, account_id, order_id)
    now = clock.utcnow()
    caps = presenter.capabilities_of(order, now)
    if not caps["can_resend"]:
        raise Conflict(f"Order {order_id} cannot be resent now.")
    if not provider.capabilities.resend:
        return {"order_id": order_id, "status": order.status, "resent": False}
    try:
        with provider_call(provider.code, "resend", order_id):
            resent = await provider.resend(order.upstream_order_id)
    except upstream.UpstreamError as exc:
        raise ProviderError(f"The provider refused the resend: {exc.message}") from None
    if not resent:
        return {"order_id": order_id, "status": order.status, "resent": False}
    now = clock.utcnow()
    cooldown = timedelta(seconds=provider.capabilities.resend_cooldown_seconds)
    async with ctx.engine.begin() as session:
        updated = await repository.transition(
            session,
            order_id,
            (OrderStatus.OTP_RECEIVED,),
            {"resend_available_at": now + cooldown, "next_poll_at": now, "updated_at": now},
            account_id=account_id,
        )
    status = updated.status if updated is not None else order.status
    return {"order_id": order_id, "status": status, "resent": True}


# --- reactivation -----------------------------------------------------------------------------


async def _reactivation_offer(
    ctx: OrdersContext, account_id: int, order_id: int
) -> tuple[Any, Provider, upstream.Money, int, int]:
    order, provider = await _own(ctx, account_id, order_id)
    if order.status != OrderStatus.COMPLETED or not order.reactivatable:
        raise Conflict(f"Order {order_id} cannot be reactivated.")
    try:
        with provider_call(provider.code, "reactivation_cost", order_id):
            quote = await provider.reactivation_cost(order.upstream_order_id)
    except upstream.UpstreamError as exc:
        raise Conflict(f"Order {order_id} cannot be reactivated: {exc.message}") from None
    # The provider's currency to IDR and its own pricing rule, as the catalog sync prices.
    async with ctx.autocommit.connect() as conn:
        rates = await sync.idr_rates(conn)
        rule = await jobs.provider_rule(conn, order.provider_id, jobs.default_rule(ctx.settings))
    if quote.currency.upper() not in rates:
        raise Conflict(f"Order {order_id} cannot be reactivated: no {quote.currency}/IDR rate.")
    cost = sync.to_idr(quote.amount, quote.currency, rates)
    return order, provider, quote, cost, rule.price(cost)


async def reactivate_options(ctx: OrdersContext, account_id: int, order_id: int) -> dict[str, int]:
    *_, price = await _reactivation_offer(ctx, account_id, order_id)
    return {"cost": price}


async def reactivate(
    ctx: OrdersContext, account_id: int, order_id: int, max_price: int | None
) -> CreateResult:
    parent, provider, quote, cost, price = await _reactivation_offer(ctx, account_id, order_id)
    if max_price is not None and price > max_price:
        raise ValidationFailed(
            f"Reactivation costs {price}, above max_price {max_price}.",
            details={"fields": [{"field": "max_price", "message": f"live cost is {price}"}],
                     "cost": price},
        )  # fmt: skip
    offer = Offer(
        Candidate(parent.product_id, provider.code, price, parent.operator_id, 1),
        parent.catalog_product_id, parent.provider_id, "", cost, quote.amount,
        quote.currency.upper(),
    )  # fmt: skip
    result = CreateResult()
    child = await buy_one(ctx, account_id, [offer], set(), result, parent=parent)
    if child is None:
        if result.out_of_balance:
            raise InsufficientBalance()
        reasons = {"reasons": result.errors[-5:]} if result.errors else None
        raise ProviderError("The provider could not reactivate the number.", details=reasons)
    result.orders.append(child)
    return result
