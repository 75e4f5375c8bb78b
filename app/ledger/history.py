"""An account's ledger for operators: newest first, keyset-paginated, with running balance.

`balance_after` is the running balance: each row's UPDATE of the account produced it under
the account row's lock, and ids are taken after that UPDATE, so per account the id order
is the order the balance moved in.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.accounts.models import Account
from app.db.engine import Db
from app.errors import NotFound, field_error
from app.ledger.models import EntryKind, LedgerEntry

KINDS = tuple(kind.value for kind in EntryKind)


def parse_kinds(kinds: list[str] | None) -> list[str] | None:
    if not kinds:
        return None
    wanted = [k.strip().lower() for k in kinds if k.strip()]
    unknown = sorted(set(wanted) - set(KINDS))
    if unknown:
        raise field_error(
            "kind", f"unknown kind(s) {', '.join(unknown)}; one of {', '.join(KINDS)}"
        )
    return wanted or None


async def entries(
    session: Db,
    account_id: int,
    *,
    limit: int,
    before_id: int | None = None,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to `limit` rows older than `before_id`, created in [since, until)."""
    exists = await session.scalar(select(Account.id).where(Account.id == account_id))
    if exists is None:
        raise NotFound(f"No account {account_id}.")
    stmt = (
        select(
            LedgerEntry.id,
            LedgerEntry.kind,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
            LedgerEntry.order_id,
            LedgerEntry.reference,
            LedgerEntry.created_at,
        )
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        stmt = stmt.where(LedgerEntry.id < before_id)
    kinds = parse_kinds(kinds)
    if kinds:
        stmt = stmt.where(LedgerEntry.kind.in_(kinds))
    if since is not None:
        stmt = stmt.where(LedgerEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(LedgerEntry.created_at < until)
    return [dict(row._mapping) for row in (await session.execute(stmt)).all()]


async def order_entries(session: Db, order_id: int) -> list[dict[str, Any]]:
    """The money of one order (its debit and, if any, its refund)."""
    rows = await session.execute(
        select(
            LedgerEntry.id,
            LedgerEntry.kind,
            LedgerEntry.amount,
            LedgerEntry.balance_after,
            LedgerEntry.created_at,
        )
        .where(LedgerEntry.order_id == order_id)
        .order_by(LedgerEntry.id)
    )
    return [dict(row._mapping) for row in rows]
