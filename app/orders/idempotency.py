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

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import IdempotencyKeyReused, RequestInProgress, field_error
from app.kit import clock
from app.kit.json import dumps
from app.orders.models import IdempotencyKey

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


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int,
    scope: str,
    key: str | None,
    body_hash: bytes,
    work: Callable[[], Awaitable[StoredResponse]],
) -> StoredResponse:
    if key is None:
        return await work()
    async with sessionmaker() as session, session.begin():
        claimed = await session.scalar(
            insert(IdempotencyKey)
            .values(
                account_id=account_id,
                scope=scope,
                key=key,
                request_hash=body_hash,
                created_at=clock.utcnow(),
            )  # fmt: skip
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed is None:
            row = (
                await session.execute(
                    select(
                        IdempotencyKey.request_hash,
                        IdempotencyKey.response_status,
                        IdempotencyKey.response_body,
                    ).where(
                        IdempotencyKey.account_id == account_id,
                        IdempotencyKey.scope == scope,
                        IdempotencyKey.key == key,
                    )
                )
            ).one()
            if row.request_hash != body_hash:
                raise IdempotencyKeyReused()
            if row.response_status is None:
                raise RequestInProgress()
            return StoredResponse(row.response_status, row.response_body)

    where = (
        IdempotencyKey.account_id == account_id,
        IdempotencyKey.scope == scope,
        IdempotencyKey.key == key,
    )
    try:
        response = await work()
    except Exception:
        await _save(sessionmaker, where, StoredResponse(500, INTERNAL_ERROR_BODY))
        raise
    await _save(sessionmaker, where, response)
    return response


INTERNAL_ERROR_BODY = dumps(
    {"success": False, "error": {"code": "INTERNAL_ERROR", "message": "Internal error."}}
)


async def _save(
    sessionmaker: async_sessionmaker[AsyncSession], where: tuple[Any, ...], response: StoredResponse
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(IdempotencyKey)
            .where(*where)
            .values(
                response_status=response.status,
                response_body=response.body,
                completed_at=clock.utcnow(),
            )
        )
