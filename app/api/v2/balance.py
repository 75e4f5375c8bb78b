"""GET /v2/balance: the balance as a USD money object (2 decimals)."""

from fastapi import APIRouter
from starlette.responses import Response

from app.api.envelope import ERRORS, ok
from app.api.v2.fx import FxDep
from app.deps import PrincipalDep, SessionDep
from app.ledger import service as ledger_service

router = APIRouter(tags=["v2 balance"], responses=ERRORS)


@router.get("/balance")
async def get_balance_usd(principal: PrincipalDep, session: SessionDep, fx: FxDep) -> Response:
    """The caller's balance in USD (canonical IDR alongside)."""
    balance = await ledger_service.get_balance(session, principal.account_id)
    return ok({"balance": fx.balance(balance)}, fx.meta())
