"""/v2/orders: the /v1 order services, amounts projected to USD at the edge.

Requests carry `max_price`/`min_price` as USD decimal strings: max is floored and min
ceiled to IDR (never more permissive than asked). Money-free endpoints are /v1's own."""

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.responses import Response

from app.api.envelope import ERRORS, ok, success_bytes
from app.api.idempotent import Endpoint, IdempotencyKey
from app.api.rate_limits import AbuseGuardDep
from app.api.v1 import orders as v1
from app.api.v2.fx import Fx, FxDep
from app.deps import OrdersDep, PrincipalDep
from app.errors import field_error
from app.kit import clock, money
from app.orders import actions, presenter, service
from app.orders.context import OrdersContext
from app.orders.schemas import Id, OrderCreate, OrderRef
from app.orders.service import CreateResult

router = APIRouter(prefix="/orders", tags=["v2 orders"], responses=ERRORS)
for path, endpoint, method in (
    ("/active", v1.list_active_orders, "GET"),
    ("/finish", v1.finish_order, "POST"),
    ("/resend", v1.resend_order, "POST"),
):
    router.add_api_route(path, endpoint, methods=[method], name=f"v2_{endpoint.__name__}")

UsdAmount = Annotated[StrictStr, Field(max_length=32, examples=["0.50"])]


class OrderCreateUsd(OrderCreate):
    """The /v1 body with `max_price`/`min_price` as USD decimal strings."""

    max_price: UsdAmount | None = None  # type: ignore[assignment]
    min_price: UsdAmount | None = None  # type: ignore[assignment]

    def in_idr(self, fx: Fx) -> OrderCreate:
        limits = {
            "max_price": _idr(self.max_price, "max_price", fx, money.usd_to_idr_floor),
            "min_price": _idr(self.min_price, "min_price", fx, money.usd_to_idr_ceil),
        }
        return OrderCreate.model_validate({**self.model_dump(), **limits})


class OrderReactivateUsd(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id
    max_price: UsdAmount | None = None


def _idr(value: str | None, name: str, fx: Fx, convert: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(convert(money.parse_usd(value), fx.rate))
    except ValueError as exc:
        raise field_error(name, str(exc)) from None


def _order(item: dict[str, Any], fx: Fx) -> dict[str, Any]:
    return {**item, "amount": fx.price(item["amount"])}


def _created(view: tuple[OrdersContext, Fx], result: CreateResult) -> bytes:
    ctx, fx = view
    now = clock.utcnow()
    orders = [_order(presenter.created(o, ctx.names, now), fx) for o in result.orders]
    return success_bytes({"orders": orders, "failed_count": result.failed_count}, fx.meta())


CREATE = Endpoint("v2:create", render=_created)
REACTIVATE = Endpoint("v2:reactivate", render=_created)


@router.get("")
async def list_orders_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, limit: v1.Limit = 20,
    offset: v1.Offset = 0, status: v1.StatusFilter = None,
) -> Response:  # fmt: skip
    """The caller's orders, newest first; amounts in USD."""
    orders = await actions.list_orders(ctx, principal.account_id, status, limit, offset)
    return ok([_order(o, fx) for o in orders], fx.meta())


@router.get("/{order_id:order_id}")
async def get_order_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, order_id: v1.OrderId
) -> Response:
    """One order of the caller; amount in USD."""
    return ok(_order(await actions.get(ctx, principal.account_id, order_id), fx), fx.meta())


@router.post("/create")
async def create_order_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, body: OrderCreateUsd,
    guard: AbuseGuardDep, idempotency_key: IdempotencyKey,
) -> Response:  # fmt: skip
    """Buy numbers; max_price/min_price are USD decimal strings."""
    order, account_id = body.in_idr(fx), principal.account_id
    return await CREATE.phased(
        ctx.autocommit, account_id, idempotency_key, body,
        lambda: guard.track(service.create(ctx, account_id, order)), view=(ctx, fx),
    )  # fmt: skip


@router.post("/cancel")
async def cancel_order_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, body: OrderRef
) -> Response:
    """Cancel an ACTIVE order without SMS; the refund and new balance in USD."""
    result = await actions.cancel(ctx, principal.account_id, body.id)
    data = {
        "order_id": result.order_id,
        "status": "CANCELED",
        "refund_amount": fx.price(result.refund_amount),
        "new_balance": fx.balance(result.new_balance),
    }
    return ok(data, fx.meta())


@router.post("/reactivate")
async def reactivate_order_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, body: OrderReactivateUsd,
    guard: AbuseGuardDep, idempotency_key: IdempotencyKey,
) -> Response:  # fmt: skip
    """Another code on the number of a COMPLETED order; max_price in USD."""
    max_price = _idr(body.max_price, "max_price", fx, money.usd_to_idr_floor)
    account_id = principal.account_id
    return await REACTIVATE.phased(
        ctx.autocommit, account_id, idempotency_key, body,
        lambda: guard.track(actions.reactivate(ctx, account_id, body.id, max_price)),
        view=(ctx, fx),
    )  # fmt: skip


@router.get("/{order_id:order_id}/reactivate-options")
async def get_reactivate_options_usd(
    principal: PrincipalDep, ctx: OrdersDep, fx: FxDep, order_id: v1.OrderId
) -> Response:
    """What reactivating this order would cost now, in USD."""
    options = await actions.reactivate_options(ctx, principal.account_id, order_id)
    return ok({"cost": fx.price(options["cost"])}, fx.meta())
