"""What the API process holds for rate limiting: one storage, the limiter, the guard."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.ratelimit.guard import AbuseGuard
from app.ratelimit.limiter import RateLimiter
from app.ratelimit.storage import Counters


@dataclass
class RateLimits:
    counters: Counters
    limiter: RateLimiter | None  # None when SMSGATE_RATE_LIMITS_ENABLED is off
    guard: AbuseGuard

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine) -> "RateLimits":
        counters = Counters(settings)
        limiter = RateLimiter(settings, counters, engine) if settings.rate_limits_enabled else None
        return cls(counters, limiter, AbuseGuard(settings, counters))

    def forget_overrides(self, account_id: int) -> None:
        """An override changed: this process applies it at once, others within the cache."""
        if self.limiter is not None:
            self.limiter.overrides.forget(account_id)

    def reset(self) -> None:
        """Forget every in-process counter, ban and cached override (tests)."""
        if self.limiter is not None:
            self.limiter.reset()
        self.counters.reset_local()

    async def close(self) -> None:
        await self.counters.close()
