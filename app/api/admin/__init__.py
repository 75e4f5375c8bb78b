"""The operators' API under /admin: authenticated by SMSGATE_ADMIN_TOKEN only.

Each area is a module with its own router, included here; every route depends on
`require_admin`, so an account token (or none) never reaches a handler.
"""

from fastapi import APIRouter, Depends

from app.api.admin import rate_limits
from app.api.admin.auth import require_admin
from app.api.envelope import ok
from app.kit.json import JSONResponse

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
router.include_router(rate_limits.router)


@router.get("/whoami")
async def whoami() -> JSONResponse:
    """A cheap way for ops to check the admin token."""
    return ok({"role": "admin"})
