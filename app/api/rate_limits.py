"""Rate limits at the HTTP edge: the /v1 and /v2 routers' dependency, the headers, and
the abuse guard's dependency for the create endpoints.

Order per request: authentication first (a missing or bad token is 401 at once and
counts against nothing: there is no token to key a budget on), then the token's budget
in the route's group, then (create and reactivate only) the abuse guard, then the
handler. A refused request stores nothing under its Idempotency-Key, so a retry after
`Retry-After` runs normally. /admin routes are not limited (operators, admin token).
"""

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from app.deps import PrincipalDep, runtime
from app.errors import RateLimitExceeded
from app.ratelimit.groups import group_of
from app.ratelimit.guard import AbuseGuard

T = TypeVar("T")


async def enforce_rate_limit(request: Request, principal: PrincipalDep) -> None:
    limits = runtime(request).rate_limits
    limiter = limits.limiter
    if limiter is None:
        return
    # The dependency runs only on a matched route, so the path names it.
    group = group_of(request.method, request.scope["path"])
    if group is None:
        return
    verdict = await limiter.hit(principal.token_id, principal.account_id, group)
    # RequestIdMiddleware puts these on the response, whatever answers (429 included).
    request.state.response_headers = verdict.headers()
    if not verdict.allowed:
        raise RateLimitExceeded(
            f"Over the limit of {verdict.limit} requests per {limiter.window} s "
            f"for {group.value}; retry after the window resets.",
            details={
                "group": group.value,
                "limit": verdict.limit,
                "window_seconds": limiter.window,
            },
            headers={"Retry-After": str(max(1, verdict.reset_after()))},
        )


@dataclass(frozen=True, slots=True)
class CreateWatch:
    guard: AbuseGuard
    account_id: int

    async def track(self, work: Awaitable[T]) -> T:
        """Run a create or reactivate and let the abuse guard count its outcome."""
        return await self.guard.watch(self.account_id, work)


async def _abuse_guard(request: Request, principal: PrincipalDep) -> CreateWatch:
    limits = runtime(request).rate_limits
    await limits.guard.check(principal.account_id)
    return CreateWatch(limits.guard, principal.account_id)


AbuseGuardDep = Annotated[CreateWatch, Depends(_abuse_guard)]
RateLimited = Depends(enforce_rate_limit)
