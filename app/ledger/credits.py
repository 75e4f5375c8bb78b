"""Operator money moves (top-ups and adjustments), exactly once per Idempotency-Key.

The key is claimed, the money posted and the answer stored in ONE transaction (nothing
here calls an upstream), so there is no window where a key is claimed but its work is
lost: a concurrent request with the same key waits on the claim's row lock and then
replays the stored answer, and a failed request (insufficient balance, unknown account)
rolls its claim back with everything else, leaving the key free for a retry. Keys live
in `idempotency_keys` under the target account with scope "admin:money": a top-up and an
adjustment cannot share a key; the usual purge removes them after the TTL.

The money rules stay in ledger.service.post: an adjustment may be negative but never
takes the balance below zero (409 INSUFFICIENT_BALANCE, nothing written).
"""

from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account
from app.errors import IdempotencyKeyReused, NotFound, RequestInProgress, field_error
from app.kit import clock
from app.ledger import service as ledger_service
from app.ledger.models import EntryKind, LedgerEntry
from app.orders.idempotency import StoredResponse, check_key, request_hash

SCOPE = "admin:money"
KINDS = {"topup": EntryKind.TOPUP, "adjustment": EntryKind.ADJUSTMENT}
MAX_REFERENCE = 500

_CLAIM = text(
    "INSERT INTO idempotency_keys (account_id, scope, key, request_hash, created_at) "
    "VALUES (:account_id, :scope, :key, :hash, :now) ON CONFLICT DO NOTHING RETURNING key"
)
_EXISTING = text(
    "SELECT request_hash, response_status, response_body FROM idempotency_keys "
    "WHERE account_id = :account_id AND scope = :scope AND key = :key"
)
_SAVE = text(
    "UPDATE idempotency_keys SET response_status = :status, response_body = :body, "
    "completed_at = :now WHERE account_id = :account_id AND scope = :scope AND key = :key"
)


def check_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference or len(reference) > MAX_REFERENCE:
        raise field_error("reference", f"required, 1-{MAX_REFERENCE} characters")
    return reference


async def credit(
    session: AsyncSession,
    account_id: int,
    kind: str,
    amount: int,
    reference: str,
    key: str | None,
    render: Callable[[dict[str, Any]], bytes],
) -> StoredResponse:
    """Post a top-up or an adjustment; with a key, at most once. `render` turns the posted
    entry into the response body that is stored and replayed."""
    entry_kind = KINDS[kind]
    reference = check_reference(reference)
    key = check_key(key)
    if await session.scalar(select(Account.id).where(Account.id == account_id)) is None:
        raise NotFound(f"No account {account_id}.")
    ident = {"account_id": account_id, "scope": SCOPE, "key": key}
    if key is not None:
        body = {"kind": kind, "amount": amount, "reference": reference}
        digest = request_hash(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
        claimed = await session.scalar(_CLAIM, {**ident, "hash": digest, "now": clock.utcnow()})
        if claimed is None:
            row = (await session.execute(_EXISTING, ident)).one()
            if row.request_hash != digest:
                raise IdempotencyKeyReused()
            if row.response_status is None:  # not written by this module; be safe
                raise RequestInProgress()
            return StoredResponse(row.response_status, row.response_body)
    if entry_kind is EntryKind.TOPUP:
        posted = await ledger_service.topup(session, account_id, amount, reference)
    else:
        posted = await ledger_service.post(
            session, account_id, entry_kind, amount, reference=reference
        )
    created_at = await session.scalar(
        select(LedgerEntry.created_at).where(LedgerEntry.id == posted.entry_id)
    )
    stored = StoredResponse(
        200,
        render(
            {
                "entry_id": posted.entry_id,
                "account_id": account_id,
                "kind": entry_kind.value,
                "amount": posted.amount,
                "balance": posted.balance,
                "reference": reference,
                "created_at": created_at,
            }
        ),
    )
    if key is not None:
        await session.execute(
            _SAVE, {**ident, "status": stored.status, "body": stored.body, "now": clock.utcnow()}
        )
    return stored
