"""Reading and changing an account's rate-limit overrides (admin API and CLI)."""

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Account
from app.config import Settings
from app.errors import NotFound, field_error
from app.ratelimit.groups import Group, default_limits
from app.ratelimit.models import RateLimitOverride

MAX_LIMIT = 10_000_000


def parse_group(value: str) -> Group:
    try:
        return Group(value.strip().lower())
    except ValueError:
        known = ", ".join(g.value for g in Group)
        raise field_error("group", f"unknown group {value!r}; one of {known}") from None


def check_limit(value: int) -> int:
    if not 0 <= value <= MAX_LIMIT:
        raise field_error("limit", f"must be between 0 and {MAX_LIMIT}")
    return value


async def _require_account(session: AsyncSession, account_id: int) -> None:
    if await session.scalar(select(Account.id).where(Account.id == account_id)) is None:
        raise NotFound(f"No account {account_id}.")


async def show(session: AsyncSession, settings: Settings, account_id: int) -> dict[str, Any]:
    """Every group's limit for the account: the default, the override, the one in force."""
    await _require_account(session, account_id)
    rows = await session.execute(
        select(RateLimitOverride.endpoint_group, RateLimitOverride.max_requests).where(
            RateLimitOverride.account_id == account_id
        )
    )
    overrides = {group: limit for group, limit in rows}
    defaults = default_limits(settings)
    return {
        "account_id": account_id,
        "window_seconds": settings.rate_limit_window_seconds,
        "limits": {
            group.value: {
                "limit": overrides.get(group.value, defaults[group]),
                "default": defaults[group],
                "override": overrides.get(group.value),
            }
            for group in Group
        },
    }


async def set_override(session: AsyncSession, account_id: int, group: str, limit: int) -> None:
    parsed, limit = parse_group(group), check_limit(limit)
    await _require_account(session, account_id)
    stmt = insert(RateLimitOverride).values(
        account_id=account_id, endpoint_group=parsed.value, max_requests=limit
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RateLimitOverride.account_id, RateLimitOverride.endpoint_group],
            set_={"max_requests": limit, "updated_at": func.now()},
        )
    )


async def clear_overrides(session: AsyncSession, account_id: int, group: str | None) -> int:
    """Remove one group's override, or all of the account's. Returns how many went."""
    where = [RateLimitOverride.account_id == account_id]
    if group is not None:
        where.append(RateLimitOverride.endpoint_group == parse_group(group).value)
    await _require_account(session, account_id)
    result = await session.execute(
        delete(RateLimitOverride).where(*where).returning(RateLimitOverride.endpoint_group)
    )
    return len(result.all())
