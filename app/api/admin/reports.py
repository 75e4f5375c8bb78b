"""/admin/reports: orders, revenue, provider cost and margin for a time range."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from app.api.admin.params import utc
from app.api.envelope import ok
from app.api.params import QueryId
from app.deps import SessionDep
from app.ops import reports as service

router = APIRouter(prefix="/reports")


@router.get("")
async def get_report(
    session: SessionDep,
    since: Annotated[datetime, Query(alias="from")],
    until: Annotated[datetime, Query(alias="to")],
    group_by: Annotated[str, Query(max_length=16)] = "account",
    account_id: QueryId = None,
) -> Response:
    """Per account, provider, service or UTC day in [from, to); sums match the ledger."""
    since_utc, until_utc = utc(since), utc(until)
    assert since_utc is not None and until_utc is not None
    return ok(await service.report(session, group_by, since_utc, until_utc, account_id))
