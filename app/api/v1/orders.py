"""/v1/orders: reads, create (idempotent), cancel, finish, resend, reactivate."""

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.api.envelope import ERRORS, Envelope, ok, success_bytes
from app.api.idempotent import Endpoint, IdempotencyKey
from app.api.params import PathId
from app.api.rate_limits import AbuseGuardDep
from app.deps import OrdersDep, PrincipalDep
from app.kit import clock
from app.orders import actions, presenter, service
from app.orders.context import OrdersContext
from app.orders.schemas import (
    ActiveOrderRead,
    CancelRead,
    CreateResultRead,
    FinishRead,
    OrderCreate,
    OrderReactivate,
    OrderRead,
    OrderRef,
    ReactivateOptionsRead,
    ResendRead,
)
from app.orders.service import CreateResult

router = APIRouter(prefix="/orders", tags=["orders"], responses=ERRORS)

OrderId = PathId
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
StatusFilter = Annotated[str | None, Query(max_length=32)]


def _created(ctx: OrdersContext, result: CreateResult) -> bytes:
    now = clock.utcnow()
    orders = [presenter.created(o, ctx.names, now) for o in result.orders]
    return success_bytes({"orders": orders, "failed_count": result.failed_count})


CREATE = Endpoint("v1:create", render=_created)
REACTIVATE = Endpoint("v1:reactivate", render=_created)


@router.get("", responses={200: {"model": Envelope[list[OrderRead]]}})
async def list_orders(
    principal: PrincipalDep,
    ctx: OrdersDep,
    limit: Limit = 20,
    offset: Offset = 0,
    status: StatusFilter = None,
) -> Response:
    """The caller's orders, newest first."""
    return ok(await actions.list_orders(ctx, principal.account_id, status, limit, offset))


@router.get("/active", responses={200: {"model": Envelope[list[ActiveOrderRead]]}})
async def list_active_orders(principal: PrincipalDep, ctx: OrdersDep) -> Response:
    """ACTIVE and OTP_RECEIVED orders, newest first (compact, money-free)."""
    return ok(await actions.list_active(ctx, principal.account_id))


@router.get("/{order_id:order_id}", responses={200: {"model": Envelope[OrderRead]}})
async def get_order(principal: PrincipalDep, ctx: OrdersDep, order_id: OrderId) -> Response:
    """One order of the caller."""
    return ok(await actions.get(ctx, principal.account_id, order_id))


@router.post("/create", responses={200: {"model": Envelope[CreateResultRead]}})
async def create_order(
    principal: PrincipalDep,
    ctx: OrdersDep,
    body: OrderCreate,
    guard: AbuseGuardDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Buy numbers: an exact tier (product_id) or routed (catalog_product_id)."""
    account_id = principal.account_id
    return await CREATE.phased(
        ctx.autocommit, account_id, idempotency_key, body,
        lambda: guard.track(service.create(ctx, account_id, body)), view=ctx,
    )  # fmt: skip


@router.post("/cancel", responses={200: {"model": Envelope[CancelRead]}})
async def cancel_order(principal: PrincipalDep, ctx: OrdersDep, body: OrderRef) -> Response:
    """Cancel an ACTIVE order without SMS; refunds it."""
    result = await actions.cancel(ctx, principal.account_id, body.id)
    return ok(
        {
            "order_id": result.order_id,
            "status": "CANCELED",
            "refund_amount": result.refund_amount,
            "new_balance": result.new_balance,
        }
    )


@router.post("/finish", responses={200: {"model": Envelope[FinishRead]}})
async def finish_order(principal: PrincipalDep, ctx: OrdersDep, body: OrderRef) -> Response:
    """Complete an order that received its SMS; releases the number."""
    return ok(await actions.finish(ctx, principal.account_id, body.id))


@router.post("/resend", responses={200: {"model": Envelope[ResendRead]}})
async def resend_order(principal: PrincipalDep, ctx: OrdersDep, body: OrderRef) -> Response:
    """Ask for another SMS on the number."""
    return ok(await actions.resend(ctx, principal.account_id, body.id))


@router.post("/reactivate", responses={200: {"model": Envelope[CreateResultRead]}})
async def reactivate_order(
    principal: PrincipalDep,
    ctx: OrdersDep,
    body: OrderReactivate,
    guard: AbuseGuardDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Buy another code on the number of a COMPLETED order."""
    account_id = principal.account_id
    return await REACTIVATE.phased(
        ctx.autocommit, account_id, idempotency_key, body,
        lambda: guard.track(actions.reactivate(ctx, account_id, body.id, body.max_price)),
        view=ctx,
    )  # fmt: skip


@router.get(
    "/{order_id:order_id}/reactivate-options",
    responses={200: {"model": Envelope[ReactivateOptionsRead]}},
)
async def get_reactivate_options(
    principal: PrincipalDep, ctx: OrdersDep, order_id: OrderId
) -> Response:
    """What reactivating this order would cost now."""
    return ok(await actions.reactivate_options(ctx, principal.account_id, order_id))
