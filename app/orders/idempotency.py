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
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.errors import IdempotencyKeyReused, RequestInProgress, field_error
from app.kit import clock
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


_CLAIM = text(
    "INSERT INTO idempotency_keys (account_id, scope, key, request_hash, created_at) "
    "VALUES (:account_id, :scope, :key, :request_hash, :now) "
    "ON CONFLICT DO NOTHING RETURNING key"
)
_EXISTING = text(
    "SELECT request_hash, response_status, response_body FROM idempotency_keys "
    "WHERE account_id = :account_id AND scope = :scope AND key = :key"
)
_SAVE = text(
    "UPDATE idempotency_keys SET response_status = :status, response_body = :body, "
    "completed_at = :now WHERE account_id = :account_id AND scope = :scope AND key = :key"
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
    ident = {"account_id": account_id, "scope": scope, "key": key}
    async with autocommit.connect() as conn:
        claimed = await conn.scalar(
            _CLAIM, {**ident, "request_hash": body_hash, "now": clock.utcnow()}
        )
        if claimed is None:
            row = (await conn.execute(_EXISTING, ident)).one()
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


async def _save(autocommit: AsyncEngine, ident: dict[str, Any], response: StoredResponse) -> None:
    params = {**ident, "status": response.status, "body": response.body, "now": clock.utcnow()}
    async with autocommit.connect() as conn:
        await conn.execute(_SAVE, params)
