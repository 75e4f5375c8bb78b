"""Idempotency-Key handling for create and reactivate (spec/API.md, Idempotency).

The first request with a key claims it (a row with no response yet); its final answer,
status and exact bytes, is stored on the row. A retry with the same body gets those
bytes again; with another body 422 IDEMPOTENCY_KEY_REUSED; while the first still runs
409 REQUEST_IN_PROGRESS. An unexpected failure is stored as its 500 answer too: part of
the work may have been done (orders bought and charged), so running it again could
charge twice; the client checks its orders and retries with a new key.
"""

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import IdempotencyKeyReused, RequestInProgress, field_error
from app.kit import clock, pg
from app.kit.json import dumps

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        raise field_error("Idempotency-Key", "must match ^[A-Za-z0-9_-]{1,128}$")
    return key


def request_hash(canonical_body: bytes) -> bytes:
    return hashlib.sha256(canonical_body).digest()


_CLAIM = (
    "INSERT INTO idempotency_keys (account_id, scope, key, request_hash, created_at) "
    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING key"
)
_EXISTING = (
    "SELECT request_hash, response_status, response_body FROM idempotency_keys "
    "WHERE account_id = $1 AND scope = $2 AND key = $3"
)
_SAVE = (
    "UPDATE idempotency_keys SET response_status = $4, response_body = $5, completed_at = $6 "
    "WHERE account_id = $1 AND scope = $2 AND key = $3"
)

INTERNAL_ERROR_BODY = dumps(
    {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "Internal error."}}
)


async def run_once(
    autocommit: AsyncEngine,
    account_id: int,
    scope: str,
    key: str | None,
    body_hash: bytes,
    work: Callable[[], Awaitable[StoredResponse]],
) -> StoredResponse:
    """`autocommit` is an engine in AUTOCOMMIT mode: every statement here stands alone."""
    if key is None:
        return await work()
    ident = (account_id, scope, key)
    async with autocommit.connect() as conn:
        claimed = await pg.fetchrow(conn, _CLAIM, *ident, body_hash, clock.utcnow())
        if claimed is None:
            row = await pg.fetchrow(conn, _EXISTING, *ident)
            assert row is not None  # keys are never deleted within their lifetime
            if row.request_hash != body_hash:
                raise IdempotencyKeyReused()
            if row.response_status is None:
                raise RequestInProgress()
            return StoredResponse(row.response_status, row.response_body)
    try:
        response = await work()
    except Exception:
        await _save(autocommit, ident, StoredResponse(500, INTERNAL_ERROR_BODY))
        raise
    await _save(autocommit, ident, response)
    return response


async def _save(
    autocommit: AsyncEngine, ident: tuple[int, str, str], response: StoredResponse
) -> None:
    async with autocommit.connect() as conn:
        await pg.execute(conn, _SAVE, *ident, response.status, response.body, clock.utcnow())
