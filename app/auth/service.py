"""Issuing, revoking and checking API tokens.

Tokens are random (256 bits), shown once, and stored as SHA-256 digests: a lookup is by
digest, so the database never sees the token and comparing digests leaks nothing useful.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.models import Account
from app.auth.models import ApiToken
from app.errors import NotFound, ValidationFailed
from app.kit.clock import utcnow

TOKEN_PREFIX = "sg_"
PREFIX_LENGTH = 10  # "sg_" + 7 characters: enough to tell tokens apart in a listing


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    account_id: int
    token: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: int
    token_id: int


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue_token(session: AsyncSession, account_id: int) -> IssuedToken:
    exists = await session.scalar(select(Account.id).where(Account.id == account_id))
    if exists is None:
        raise NotFound(f"No account {account_id}.")
    token = new_token()
    token_id = await session.scalar(
        insert(ApiToken)
        .values(account_id=account_id, token_hash=hash_token(token), prefix=token[:PREFIX_LENGTH])
        .returning(ApiToken.id)
    )
    assert token_id is not None
    return IssuedToken(token_id, account_id, token, token[:PREFIX_LENGTH])


async def revoke_token(session: AsyncSession, prefix_or_id: str) -> int:
    """Revoke by token id, by its shown prefix, or by the whole token. Returns the token id."""
    ref = prefix_or_id.strip()
    if not ref:
        raise ValidationFailed("Give a token id, prefix or the token itself.")
    if ref.isdigit():
        where = ApiToken.id == int(ref)
    elif len(ref) > PREFIX_LENGTH:
        where = ApiToken.token_hash == hash_token(ref)
    else:
        where = ApiToken.prefix == ref
    rows = (await session.execute(select(ApiToken.id, ApiToken.revoked_at).where(where))).all()
    if not rows:
        raise NotFound(f"No token matches {ref!r}.")
    if len(rows) > 1:
        raise ValidationFailed(f"{len(rows)} tokens match {ref!r}; revoke by id instead.")
    token_id, revoked_at = rows[0]
    if revoked_at is None:
        await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow())
        )
    return int(token_id)


_MISSING = object()


class TokenAuthenticator:
    """Resolves bearer tokens to principals, caching results briefly per process.

    The cache keeps a token lookup off the hot path; a revocation or a disabled account
    takes effect in other processes within `ttl_seconds`, in this one at once.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], ttl_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._cache: TTLCache[bytes, Principal | None] | None = (
            TTLCache(maxsize=50_000, ttl=ttl_seconds) if ttl_seconds > 0 else None
        )

    def forget(self) -> None:
        if self._cache is not None:
            self._cache.clear()

    async def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        if self._cache is not None:
            # One read: `digest in cache` then `cache[digest]` could see the entry expire
            # in between (a KeyError, a 500). None (a refused token) is cached too.
            cached = self._cache.get(digest, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        principal = await self._lookup(digest)
        if self._cache is not None:
            self._cache[digest] = principal
        return principal

    async def _lookup(self, digest: bytes) -> Principal | None:
        stmt = (
            select(ApiToken.id, ApiToken.account_id, ApiToken.token_hash)
            .join(Account, Account.id == ApiToken.account_id)
            .where(
                ApiToken.token_hash == digest,
                ApiToken.revoked_at.is_(None),
                Account.disabled_at.is_(None),
            )
        )
        async with self._sessionmaker() as session:
            row = (await session.execute(stmt)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Principal(account_id=row.account_id, token_id=row.id)


async def list_tokens(session: AsyncSession, account_id: int) -> list[dict[str, Any]]:
    """An account's tokens: id, prefix and dates. The digest never leaves this module."""
    exists = await session.scalar(select(Account.id).where(Account.id == account_id))
    if exists is None:
        raise NotFound(f"No account {account_id}.")
    rows = await session.execute(
        select(ApiToken.id, ApiToken.prefix, ApiToken.created_at, ApiToken.revoked_at)
        .where(ApiToken.account_id == account_id)
        .order_by(ApiToken.id)
    )
    return [dict(row._mapping, active=row.revoked_at is None) for row in rows]


async def revoke_account_token(session: AsyncSession, account_id: int, token_id: int) -> None:
    """Revoke one token of one account (another account's token is not found)."""
    revoked = await session.scalar(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.account_id == account_id)
        .values(revoked_at=func.coalesce(ApiToken.revoked_at, utcnow()))
        .returning(ApiToken.id)
    )
    if revoked is None:
        raise NotFound(f"Account {account_id} has no token {token_id}.")
