"""GET /v1/balance."""

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from app.api.envelope import ERRORS, Envelope, ok
from app.deps import PrincipalDep, SessionDep
from app.ledger import service as ledger_service

router = APIRouter(tags=["balance"], responses=ERRORS)


class BalanceRead(BaseModel):
    currency: str
    balance: int


@router.get("/balance", responses={200: {"model": Envelope[BalanceRead]}})
async def get_balance(principal: PrincipalDep, session: SessionDep) -> Response:
    """The caller's balance in IDR."""
    balance = await ledger_service.get_balance(session, principal.account_id)
    return ok({"currency": "IDR", "balance": balance})
