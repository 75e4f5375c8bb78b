"""/admin/accounts/{id}: top-ups, adjustments (idempotent) and the ledger."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from app.api.admin.params import Cursor, Id, Limit, Since, Until, utc
from app.api.envelope import ok, success_bytes
from app.api.idempotent import Endpoint, IdempotencyKey
from app.deps import SessionDep
from app.errors import field_error
from app.kit.pagination import NOT_OURS, InvalidCursor, decode_cursor, encode_cursor
from app.ledger import credits, history
from app.ledger.service import MAX_AMOUNT

router = APIRouter(prefix="/accounts/{account_id}")


class TopupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1, le=MAX_AMOUNT)
    reference: str = Field(min_length=1, max_length=credits.MAX_REFERENCE)


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)
    reference: str = Field(min_length=1, max_length=credits.MAX_REFERENCE)


def _entry(_: None, entry: dict[str, Any]) -> bytes:
    return success_bytes(entry)


# One scope for both: a top-up and an adjustment cannot share a key.
MONEY = Endpoint("admin:money", render=_entry)


async def _credit(
    session: SessionDep,
    account_id: int,
    kind: Literal["topup", "adjustment"],
    body: TopupCreate | AdjustmentCreate,
    key: str | None,
) -> Response:
    if body.amount == 0:
        raise field_error("amount", "must not be zero")
    request = credits.Credit.of(kind, body.amount, body.reference)
    await credits.check_account(session, account_id)  # before its key row refers to it
    return await MONEY.in_transaction(
        session, account_id, key, request.fields(),
        lambda: credits.credit(session, account_id, request), view=None,
    )  # fmt: skip


@router.post("/topups")
async def create_topup(
    account_id: Id, body: TopupCreate, session: SessionDep, idempotency_key: IdempotencyKey
) -> Response:
    """Credit the account. With Idempotency-Key, a retry replays the first answer."""
    return await _credit(session, account_id, "topup", body, idempotency_key)


@router.post("/adjustments")
async def create_adjustment(
    account_id: Id,
    body: AdjustmentCreate,
    session: SessionDep,
    idempotency_key: IdempotencyKey,
) -> Response:
    """Correct the balance either way; never below zero (409 INSUFFICIENT_BALANCE)."""
    return await _credit(session, account_id, "adjustment", body, idempotency_key)


@router.get("/ledger")
async def list_ledger(
    account_id: Id,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
    kind: Annotated[list[str] | None, Query(max_length=10)] = None,
    since: Since = None,
    until: Until = None,
) -> Response:
    """Ledger rows newest first; balance_after is the running balance."""
    try:
        before = decode_cursor(cursor)
    except InvalidCursor:
        raise field_error("cursor", NOT_OURS) from None
    rows = await history.entries(
        session,
        account_id,
        limit=limit,
        before_id=before,
        kinds=kind,
        since=utc(since),
        until=utc(until),
    )
    next_cursor = encode_cursor(rows[-1]["id"]) if len(rows) == limit else None
    return ok(rows, meta={"limit": limit, "next_cursor": next_cursor})
