"""Ops on webhook delivery: the attempt log of an account, and replays (queued for the
dispatcher, re-signed with the account's current secret, never counted as failures)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from app.api.envelope import ok
from app.deps import SessionDep
from app.kit.json import JSONResponse
from app.webhooks import service

router = APIRouter(prefix="/webhooks", tags=["admin webhooks"])


class RedeliverFailed(BaseModel):
    since: AwareDatetime


@router.get("/accounts/{account_id}/deliveries")
async def list_deliveries(
    account_id: int,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    """Delivery attempts of one account, newest first; page on with `before_id`."""
    items, next_before_id = await service.deliveries(session, account_id, before_id, limit)
    return ok(items, {"limit": limit, "next_before_id": next_before_id})


@router.post("/events/{event_id}/redeliver")
async def redeliver_event(event_id: int, session: SessionDep) -> JSONResponse:
    """Queue one event for redelivery."""
    return ok(await service.redeliver_event(session, event_id))


@router.post("/accounts/{account_id}/redeliver")
async def redeliver_failed(
    account_id: int, body: RedeliverFailed, session: SessionDep
) -> JSONResponse:
    """Queue every event since `since` that was never delivered."""
    since: datetime = body.since
    return ok(await service.redeliver_failed(session, account_id, since))
