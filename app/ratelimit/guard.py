"""The abuse guard: an account whose order creations keep failing through its own doing
is blocked from creating for a while (429 TEMP_BANNED_ABUSE_GUARD).

What counts, per create or reactivate request that actually ran (idempotent replays do
not run, so do not count):
- a failure: it ended NO_OFFER_AVAILABLE (asked for something that is not on offer, e.g.
  a sold-out product or a max_price under every offer) or INSUFFICIENT_BALANCE (cannot
  pay). Both are the client's to fix, and a client looping on them is what this stops.
- a success: it created at least one order (a partial success is a success).
- nothing at all: PROVIDER_ERROR (the upstream failed or refused: an outage must never
  ban clients), validation and idempotency errors (rejected before any work; the rate
  limit bounds them), and internal errors (ours).

An account is banned for `abuse_ban_seconds` when, within one window of
`abuse_window_seconds`, it has at least `abuse_min_failures` failures and they are at
least `abuse_failure_ratio` of its counted requests. Windows are aligned to the epoch,
so every process counts in the same window; the counters and the ban live in the
rate-limit storage (Redis when set, else this process) and use app.kit.clock's time.
"""

import logging
import math
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from app.config import Settings
from app.errors import InsufficientBalance, NoOfferAvailable, TempBannedAbuseGuard
from app.kit import clock
from app.kit.clock import rfc3339
from app.ratelimit.storage import Counters

log = logging.getLogger(__name__)

T = TypeVar("T")

ABUSIVE = (NoOfferAvailable, InsufficientBalance)


class AbuseGuard:
    def __init__(self, settings: Settings, counters: Counters) -> None:
        self.enabled = settings.abuse_guard_enabled
        self.window = settings.abuse_window_seconds
        self.min_failures = settings.abuse_min_failures
        self.failure_ratio = settings.abuse_failure_ratio
        self.ban_seconds = settings.abuse_ban_seconds
        self.counters = counters

    async def check(self, account_id: int) -> None:
        """Raise TEMP_BANNED_ABUSE_GUARD while the account is banned."""
        if not self.enabled:
            return
        key = f"ab/{account_id}/ban"
        if await self.counters.get(key) <= 0:
            return
        until = await self.counters.get_expiry(key)
        retry_after = max(1, math.ceil(until - clock.timestamp()))
        raise TempBannedAbuseGuard(
            "Order creation is blocked for a while: too many of this account's recent "
            "creations failed (no offer or no balance).",
            details={"until": rfc3339(datetime.fromtimestamp(math.ceil(until), UTC))},
            headers={"Retry-After": str(retry_after)},
        )

    async def watch(self, account_id: int, work: Awaitable[T]) -> T:
        """Await a create (or reactivate) and count its outcome."""
        try:
            result = await work
        except ABUSIVE:
            await self.record(account_id, failed=True)
            raise
        await self.record(account_id, failed=False)
        return result

    async def record(self, account_id: int, *, failed: bool) -> None:
        if not self.enabled:
            return
        window = int(clock.timestamp() // self.window)
        prefix = f"ab/{account_id}/{window}"
        expiry = 2 * self.window  # outlives its window wherever in it the first event fell
        if not failed:
            await self.counters.incr(f"{prefix}/ok", expiry)
            return
        failures = await self.counters.incr(f"{prefix}/failed", expiry)
        if failures < self.min_failures:
            return
        successes = await self.counters.get(f"{prefix}/ok")
        if failures / (failures + successes) >= self.failure_ratio:
            await self._ban(account_id, prefix, failures, successes)

    async def _ban(self, account_id: int, prefix: str, failures: int, successes: int) -> None:
        await self.counters.incr(f"ab/{account_id}/ban", self.ban_seconds)
        # Start afresh after the ban: the failures that caused it do not cause another.
        await self.counters.clear(f"{prefix}/failed")
        await self.counters.clear(f"{prefix}/ok")
        log.warning(
            "abuse guard: account %s may not create for %s s (%s failed, %s succeeded)",
            account_id, self.ban_seconds, failures, successes,
        )  # fmt: skip
