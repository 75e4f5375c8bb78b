"""Idempotency-Key handling for every endpoint that spends money (spec/API.md, Idempotency).

The first request with a key claims it: a row keyed by (account, scope, key) holding the
hash of its body. Its final answer, status and exact bytes, is stored on the row; a
retry with the same body gets those bytes again, with another body 422
IDEMPOTENCY_KEY_REUSED. `scope` names the endpoint and version ("v1:create"): the same
key on another endpoint is another request, and a /v2 replay never returns a /v1 body.

Two entry points, one per kind of work:
- `run_phased`, for work that calls an upstream (so runs with no transaction open): the
  claim commits on its own, the work runs, the answer is stored by a last statement. A
  retry while the work runs is 409 REQUEST_IN_PROGRESS. An unexpected failure is stored
  as its 500: part of the work may be done (orders bought and charged), so running it
  again could charge twice; the client checks its orders and retries with a new key.
- `run_in_transaction`, for work that never leaves Postgres: claim, work and answer in the
  caller's transaction. A concurrent request with the key waits on the claim's row lock,
  then replays the answer; a failed request rolls its claim back with everything else,
  leaving the key free for a corrected retry. The caller must let the error roll back
  the transaction (the request's session dependency does).
"""

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.engine import Db
from app.errors import IdempotencyKeyReused, RequestInProgress, field_error
from app.idempotency.statements import CLAIM, EXISTING, PURGE, SAVE
from app.kit import clock, pg
from app.kit.json import dumps

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Ask:
    """One request under a key: who asks, on which endpoint, with which body."""

    account_id: int
    scope: str
    key: str
    request_hash: bytes

    def claim(self) -> dict[str, Any]:
        """The parameters of statements.CLAIM and EXISTING."""
        return {**self._ident(), "b_request_hash": self.request_hash, "b_now": clock.utcnow()}

    def save(self, answer: Answer) -> dict[str, Any]:
        """The parameters of statements.SAVE."""
        stored = {"b_status": answer.status, "b_body": answer.body, "b_now": clock.utcnow()}
        return {**self._ident(), **stored}

    def _ident(self) -> dict[str, Any]:
        return {"b_account_id": self.account_id, "b_scope": self.scope, "b_key": self.key}


INTERNAL_ERROR = Answer(
    500,
    dumps({"success": False, "error": {"code": "INTERNAL_ERROR", "message": "Internal error."}}),
)

Work = Callable[[], Awaitable[Answer]]


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not KEY_PATTERN.match(key):
        raise field_error("Idempotency-Key", "must match ^[A-Za-z0-9_-]{1,128}$")
    return key


def request_hash(body: BaseModel | Mapping[str, Any]) -> bytes:
    """The same request in another spelling (key order, spaces) hashes the same."""
    data = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).digest()


def ask(
    account_id: int, scope: str, key: str | None, body: BaseModel | Mapping[str, Any]
) -> Ask | None:
    """None without a key: no deduplication."""
    key = check_key(key)
    return None if key is None else Ask(account_id, scope, key, request_hash(body))


def _replay(ask: Ask, request_hash: bytes, status: int | None, body: bytes | None) -> Answer:
    if request_hash != ask.request_hash:
        raise IdempotencyKeyReused()
    if status is None or body is None:
        raise RequestInProgress()
    return Answer(status, body)


async def run_phased(autocommit: AsyncEngine, ask: Ask | None, work: Work) -> Answer:
    """`autocommit` is an engine in AUTOCOMMIT mode: every statement here stands alone,
    and none is open while `work` runs."""
    if ask is None:
        return await work()
    claim = ask.claim()
    async with autocommit.connect() as conn:
        if await pg.fetchrow(conn, CLAIM.sql, *CLAIM.args(claim)) is None:
            row = await pg.fetchrow(conn, EXISTING.sql, *EXISTING.args(claim))
            assert row is not None  # keys are never deleted within their lifetime
            return _replay(ask, row.request_hash, row.response_status, row.response_body)
    try:
        answer = await work()
    except Exception:
        await _save_phased(autocommit, ask, INTERNAL_ERROR)
        raise
    await _save_phased(autocommit, ask, answer)
    return answer


async def _save_phased(autocommit: AsyncEngine, ask: Ask, answer: Answer) -> None:
    async with autocommit.connect() as conn:
        await pg.execute(conn, SAVE.sql, *SAVE.args(ask.save(answer)))


async def run_in_transaction(session: AsyncSession, ask: Ask | None, work: Work) -> Answer:
    """Claim, `work` and the stored answer all in `session`'s transaction; an error from
    `work` propagates so that the caller rolls the claim back with the rest."""
    if ask is None:
        return await work()
    claim = ask.claim()
    if await session.scalar(CLAIM.clause, claim) is None:
        row = (await session.execute(EXISTING.clause, claim)).one()
        return _replay(ask, row.request_hash, row.response_status, row.response_body)
    answer = await work()
    await session.execute(SAVE.clause, ask.save(answer))
    return answer


async def purge(db: Db, before: datetime) -> int:
    """Forget keys claimed before `before` (the TTL, at least 24 h, is the caller's)."""
    result = await db.execute(PURGE.clause, {"b_before": before})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
