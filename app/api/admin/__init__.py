"""The operators' API under /admin: authenticated by SMSGATE_ADMIN_TOKEN only.

Each area is a module with its own router, included here; every route depends on
`require_admin`, so an account token (or none) never reaches a handler.
"""

from fastapi import APIRouter, Depends

from app.api.admin import accounts, money, orders, providers, rate_limits, rates, reports, webhooks
from app.api.admin.auth import require_admin
from app.api.envelope import ok
from app.kit.json import JSONResponse

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
router.include_router(webhooks.router)
router.include_router(rate_limits.router)


@router.get("/whoami")
async def whoami() -> JSONResponse:
    """A cheap way for ops to check the admin token."""
    return ok({"role": "admin"})


router.include_router(accounts.router)
router.include_router(money.router)
router.include_router(orders.router)
router.include_router(reports.router)
router.include_router(providers.router)
router.include_router(rates.router)
