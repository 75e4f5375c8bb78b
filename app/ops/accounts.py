"""Accounts as operators see them: listing, one account, disabling and enabling.

Money never moves here (that is ledger.service); disabling only stops the account's
tokens from authenticating (auth.service checks `disabled_at` on every lookup).
"""

from typing import Any

from sqlalchemy import func, select, update

from app.accounts.models import Account
from app.auth.models import ApiToken
from app.db.engine import Db
from app.errors import NotFound
from app.kit.clock import utcnow
from app.orders.models import LIVE_STATUSES, Order

_COLUMNS = (
    Account.id,
    Account.name,
    Account.balance,
    Account.disabled_at,
    Account.created_at,
    Account.updated_at,
)


def _account(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["disabled"] = item["disabled_at"] is not None
    return item


async def list_accounts(
    session: Db,
    *,
    limit: int,
    after_id: int | None = None,
    name: str | None = None,
    disabled: bool | None = None,
) -> list[dict[str, Any]]:
    """Accounts by id ascending, `limit` of them after `after_id` (keyset)."""
    stmt = select(*_COLUMNS).order_by(Account.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(Account.id > after_id)
    if name:
        escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Account.name.ilike(f"%{escaped}%", escape="\\"))
    if disabled is not None:
        stmt = stmt.where(
            Account.disabled_at.is_not(None) if disabled else Account.disabled_at.is_(None)
        )
    return [_account(row) for row in (await session.execute(stmt)).all()]


async def get_account(session: Db, account_id: int) -> dict[str, Any]:
    """One account with its active-token and live-order counts."""
    row = (await session.execute(select(*_COLUMNS).where(Account.id == account_id))).first()
    if row is None:
        raise NotFound(f"No account {account_id}.")
    item = _account(row)
    item["active_tokens"] = int(
        await session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.account_id == account_id, ApiToken.revoked_at.is_(None))
        )
        or 0
    )
    item["live_orders"] = int(
        await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.account_id == account_id, Order.status.in_(LIVE_STATUSES))
        )
        or 0
    )
    return item


async def set_disabled(session: Db, account_id: int, disabled: bool) -> dict[str, Any]:
    """Disable (or enable) an account. Idempotent: disabling twice keeps the first time.

    Live orders are left alone: they run to their end and are refunded by the usual rules;
    the account only loses API access.
    """
    now = utcnow()
    stmt = update(Account).where(Account.id == account_id)
    if disabled:
        stmt = stmt.values(disabled_at=func.coalesce(Account.disabled_at, now), updated_at=now)
    else:
        stmt = stmt.values(disabled_at=None, updated_at=now)
    found = await session.scalar(stmt.returning(Account.id))
    if found is None:
        raise NotFound(f"No account {account_id}.")
    return await get_account(session, account_id)
