"""/admin/accounts/{account_id}/rate-limits: an account's limits and their overrides.

A change applies at once in the process that served it and in the others within
SMSGATE_RATE_LIMIT_OVERRIDE_CACHE_SECONDS.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.envelope import ok
from app.api.params import PathId
from app.deps import SessionDep, runtime
from app.kit.json import JSONResponse
from app.ratelimit import service

router = APIRouter(prefix="/accounts/{account_id}/rate-limits", tags=["admin rate limits"])

AccountId = PathId
GroupName = Annotated[str, Path(max_length=64)]


class LimitOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: StrictInt = Field(ge=0, le=service.MAX_LIMIT, description="Requests per window.")


def _forget(request: Request, account_id: int) -> None:
    limits = runtime(request).rate_limits
    limits.forget_overrides(account_id)


@router.get("")
async def get_rate_limits(
    request: Request, session: SessionDep, account_id: AccountId
) -> JSONResponse:
    """Every group's limit for the account: default, override, and the one in force."""
    return ok(await service.show(session, runtime(request).settings, account_id))


@router.put("/{group}")
async def put_rate_limit(
    request: Request, session: SessionDep, account_id: AccountId, group: GroupName,
    body: LimitOverride,
) -> JSONResponse:  # fmt: skip
    """Set the account's limit for one group (replaces the default)."""
    await service.set_override(session, account_id, group, body.limit)
    await session.commit()  # before forgetting the cached one, or it could be re-read stale
    _forget(request, account_id)
    return ok(await service.show(session, runtime(request).settings, account_id))


@router.delete("/{group}")
async def delete_rate_limit(
    request: Request, session: SessionDep, account_id: AccountId, group: GroupName
) -> JSONResponse:
    """Back to the default for one group."""
    await service.clear_overrides(session, account_id, group)
    await session.commit()
    _forget(request, account_id)
    return ok(await service.show(session, runtime(request).settings, account_id))


@router.delete("")
async def delete_rate_limits(
    request: Request, session: SessionDep, account_id: AccountId
) -> JSONResponse:
    """Back to the defaults for every group."""
    await service.clear_overrides(session, account_id, None)
    await session.commit()
    _forget(request, account_id)
    return ok(await service.show(session, runtime(request).settings, account_id))
