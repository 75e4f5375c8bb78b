"""Ops on webhook delivery: the attempt log of an account, and replays (queued for the
dispatcher, re-signed with the account's current secret, never counted as failures)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from app.accounts.models import Account
from app.api.envelope import ok
from app.api.params import PathId, QueryId
from app.deps import SessionDep
from app.errors import NotFound
from app.kit.json import JSONResponse
from app.webhooks import service

router = APIRouter(prefix="/webhooks", tags=["admin webhooks"])


class RedeliverFailed(BaseModel):
    since: AwareDatetime


@router.get("/accounts/{account_id}/deliveries")
async def list_deliveries(
    account_id: PathId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: QueryId = None,
) -> JSONResponse:
    """Delivery attempts of one account, newest first; page on with `before_id`."""
    items, next_before_id = await service.deliveries(session, account_id, before_id, limit)
    return ok(items, {"limit": limit, "next_before_id": next_before_id})


@router.post("/events/{event_id}/redeliver")
async def redeliver_event(event_id: PathId, session: SessionDep) -> JSONResponse:
    """Queue one event for redelivery."""
    return ok(await service.redeliver_event(session, event_id))


@router.post("/accounts/{account_id}/redeliver")
async def redeliver_failed(
    account_id: PathId, body: RedeliverFailed, session: SessionDep
) -> JSONResponse:
    """Queue every event since `since` that was never delivered."""
    # An account that does not exist is 404, not "0 queued": the operator mistyped the id.
    if await session.scalar(select(Account.id).where(Account.id == account_id)) is None:
        raise NotFound(f"No account {account_id}.")
    since: datetime = body.since
    return ok(await service.redeliver_failed(session, account_id, since))
