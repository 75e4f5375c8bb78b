"""The per-token, per-group limiter: fixed windows counted on a `limits` storage.

Why fixed windows: one atomic INCR (+ EXPIRE on the first hit, a Lua script of `limits`)
per request, O(1) memory per token and group, and an exact `X-RateLimit-Reset` (when the
window ends the budget is whole again). A moving window would keep up to `limit`
timestamps per key (1,200 for the create group) and run a heavier script per request, to
avoid a burst of at most twice the limit across a window boundary, which these limits,
meant to stop runaway clients, can afford. A window starts at a token's first request
in the group.

The counter is `limits`' FixedWindowRateLimiter.hit done by hand: its hit() answers only
yes/no, and the headers need the count, so the increment is read directly. The key
holds no limit, so changing an override keeps the count of the current window.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.kit import clock
from app.ratelimit.groups import Group, default_limits
from app.ratelimit.models import RateLimitOverride
from app.ratelimit.storage import Counters


@dataclass(frozen=True, slots=True)
class Verdict:
    limit: int
    remaining: int
    reset_at: float  # epoch seconds: when the window ends
    allowed: bool

    def reset_after(self, now: float | None = None) -> int:
        """Whole seconds until the window ends (at least 1 while it runs)."""
        left = self.reset_at - (clock.timestamp() if now is None else now)
        return max(1, math.ceil(left)) if left > 0 else 0

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_after()).encode()),
        ]


class OverrideCache:
    """Each account's overrides, read from Postgres at most once per `ttl` per process."""

    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._cache: TTLCache[int, Mapping[str, int]] | None = (
            TTLCache(maxsize=100_000, ttl=ttl) if ttl > 0 else None
        )

    async def get(self, account_id: int) -> Mapping[str, int]:
        if self._cache is not None:
            cached = self._cache.get(account_id)
            if cached is not None:
                return cached
        stmt = select(RateLimitOverride.endpoint_group, RateLimitOverride.max_requests).where(
            RateLimitOverride.account_id == account_id
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        overrides: Mapping[str, int] = {group: limit for group, limit in rows}
        if self._cache is not None:
            self._cache[account_id] = overrides
        return overrides

    def forget(self, account_id: int | None = None) -> None:
        if self._cache is None:
            return
        if account_id is None:
            self._cache.clear()
        else:
            self._cache.pop(account_id, None)


class RateLimiter:
    def __init__(self, settings: Settings, counters: Counters, engine: AsyncEngine) -> None:
        self.window = settings.rate_limit_window_seconds
        self.defaults = default_limits(settings)
        self.counters = counters
        self.overrides = OverrideCache(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            settings.rate_limit_override_cache_seconds,
        )
        # Window ends seen by this process, so a hit costs one storage call, not two.
        self._resets: TTLCache[str, float] = TTLCache(maxsize=200_000, ttl=self.window)

    async def limit_for(self, account_id: int, group: Group) -> int:
        overrides = await self.overrides.get(account_id)
        return overrides.get(group.value, self.defaults[group])

    async def hit(self, token_id: int, account_id: int, group: Group) -> Verdict:
        """Count one request of this token in this group and say whether it may proceed."""
        limit = await self.limit_for(account_id, group)
        key = f"rl/{group.value}/{token_id}"
        count = await self.counters.incr(key, self.window)
        now = clock.timestamp()
        reset_at = self._resets.get(key) if count > 1 else None
        if reset_at is None or reset_at <= now:
            if count == 1:
                reset_at = now + self.window  # this hit opened the window
            else:
                reset_at = await self.counters.get_expiry(key)
            self._resets[key] = reset_at
        return Verdict(limit, max(0, limit - count), reset_at, count <= limit)

    def reset(self) -> None:
        """Forget local counters and cached overrides (tests)."""
        self.counters.reset_local()
        self.overrides.forget()
        self._resets.clear()
