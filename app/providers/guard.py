"""Provider health: a circuit breaker and concurrency/rate caps around every adapter call.

`GuardedProvider` wraps an adapter of any family (every coroutine method, see `operations`)
and is what the rest of the gateway calls. Per process:
- the breaker opens after `failures` transient errors (Unavailable, Indeterminate) within
  `window` seconds, fails purchases (`protocols.PURCHASES`: buy, rent, send …) fast while
  open, and after `cooldown` lets exactly one trial purchase through (half-open): success
  closes it, failure opens it again; polls, cancels and releases of numbers already bought
  always go through;
- out of funds or a refused key at the provider opens it for the long `funds_cooldown`;
- a refusal (no stock, bad service, too early) is a healthy answer and resets the count;
- at most `max_concurrency` calls in flight and `max_rps` calls a second; a call waits at
  most `queue_seconds` for a slot, then fails over as Unavailable;
- an upstream 429 (Unavailable with `retry_after`) pauses the provider for that long.

Routing asks `usable()` and skips providers that would fail fast. Every state change is
reported through `on_change` (persisted to `provider_health`, shown by `smsgate providers
status`). The hot path reads no shared store: each process's breaker decides alone, and
learns what the others reported (an outage, a pause or resume by ops, a probe that found
the provider usable again) from `adopt`, fed every few seconds from `provider_health` by
the probe worker (app.workers.provider_probe), which also `probe`s a paused provider with a
cheap read and `resume`s it when that answers.
"""

import asyncio
import functools
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

from aiolimiter import AsyncLimiter

from app.kit import clock
from app.observability import metrics
from app.providers.errors import (
    ConfigError,
    Indeterminate,
    OutOfFunds,
    Unavailable,
    UpstreamError,
)
from app.providers.pauses import OPS_PAUSE_MESSAGE, PauseReason, reason_of
from app.providers.protocols import PURCHASES

log = logging.getLogger(__name__)
T = TypeVar("T")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    failures: int = 5
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    funds_cooldown_seconds: float = 900.0
    max_concurrency: int = 0  # 0: no cap
    max_rps: float = 0.0  # 0: no cap
    queue_seconds: float = 5.0


def _now() -> float:
    return clock.utcnow().timestamp()


class Breaker:
    """The breaker's state machine; no I/O. Times are epoch seconds from app.kit.clock."""

    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy
        self.state = BreakerState.CLOSED
        self.opened_until: float | None = None
        self.failures: deque[float] = deque()
        self.consecutive = 0
        self.total_failures = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.trial_in_flight = False
        self.reason: PauseReason | None = None

    def usable(self) -> bool:
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self.opened_until is not None and _now() >= self.opened_until
        return not self.trial_in_flight

    def before_call(self) -> None:
        """Raise Unavailable when the call must not go out; claim the trial when half-open."""
        if self.state is BreakerState.OPEN:
            now = _now()
            if self.opened_until is not None and now < self.opened_until:
                raise Unavailable(
                    f"circuit open after: {self.last_error}",
                    retry_after=self.opened_until - now,
                )
            self.state = BreakerState.HALF_OPEN
            self.trial_in_flight = False
        if self.state is BreakerState.HALF_OPEN:
            if self.trial_in_flight:
                raise Unavailable("circuit half-open: a trial call is in flight")
            self.trial_in_flight = True

    def success(self) -> bool:
        """A healthy answer. True when the state changed (worth reporting)."""
        changed = self.state is not BreakerState.CLOSED or self.consecutive > 0
        self.state = BreakerState.CLOSED
        self.opened_until = None
        self.failures.clear()
        self.consecutive = 0
        self.trial_in_flight = False
        self.reason = None
        return changed

    def release(self) -> None:
        """The call ended without telling anything about health (cancelled, paused)."""
        self.trial_in_flight = False

    def hold(self, until: float, message: str, reason: PauseReason) -> None:
        """Open until `until` (epoch seconds) for a reason not counted as a failure: ops
        paused it, or another process reported it open."""
        self.state = BreakerState.OPEN
        self.opened_until = until
        self.last_error, self.last_error_at = message[:500], _now()
        self.reason = reason
        self.trial_in_flight = False

    def failure(
        self,
        message: str,
        cooldown: float | None = None,
        *,
        ends_trial: bool = True,
        reason: PauseReason = PauseReason.BREAKER,
    ) -> None:
        """A transient failure, or (with `cooldown`) one that opens the breaker at once.
        `ends_trial`: it was the half-open trial call (a purchase), not another call."""
        now = _now()
        self.total_failures += 1
        self.consecutive += 1
        self.last_error, self.last_error_at = message[:500], now
        self.failures.append(now)
        while self.failures and self.failures[0] < now - self.policy.window_seconds:
            self.failures.popleft()
        if (
            cooldown is not None
            or (ends_trial and self.state is BreakerState.HALF_OPEN)
            or len(self.failures) >= self.policy.failures
        ):
            self.state = BreakerState.OPEN
            self.opened_until = max(
                self.opened_until or 0.0, now + (cooldown or self.policy.cooldown_seconds)
            )
            if self.reason is None or cooldown is not None:
                self.reason = reason
        if ends_trial:
            self.trial_in_flight = False

    def snapshot(self) -> dict[str, Any]:
        def at(ts: float | None) -> datetime | None:
            return None if ts is None else datetime.fromtimestamp(ts, UTC)

        return {
            "breaker_state": str(self.state),
            "opened_until": at(self.opened_until)
            if self.state is not BreakerState.CLOSED
            else None,
            "consecutive_failures": self.consecutive,
            "total_failures": self.total_failures,
            "last_error": self.last_error,
            "last_error_at": at(self.last_error_at),
        }


OnChange = Callable[[str, dict[str, Any]], None]
P = TypeVar("P")

# Not upstream calls: closing the adapter's own client must not wait for a rate slot.
_LIFECYCLE = frozenset({"aclose"})


def operations(adapter: object) -> tuple[str, ...]:
    """The upstream calls of an adapter: its public coroutine methods, of whatever family."""
    kind = type(adapter)
    return tuple(
        name
        for name in dir(kind)
        if not name.startswith("_")
        and name not in _LIFECYCLE
        and inspect.iscoroutinefunction(getattr(kind, name, None))
    )


class GuardedProvider:
    """An adapter behind its breaker and caps, offering the same protocols as the adapter.

    Every upstream call of the adapter (`operations`) is bound here at construction,
    wrapped in `call`; nothing is declared per family, so a new capability is guarded the
    day its adapter implements it. Other attributes (capabilities, the sandbox's test
    switches) are the adapter's own, read through."""

    def __init__(self, inner: object, policy: GuardPolicy, on_change: OnChange | None = None):
        self.inner = inner
        self.code: str = getattr(inner, "code")  # noqa: B009 (any family's adapter)
        self.name: str = getattr(inner, "name")  # noqa: B009
        self.policy = policy
        self.breaker = Breaker(policy)
        self._on_change = on_change
        self._slots = asyncio.Semaphore(policy.max_concurrency) if policy.max_concurrency else None
        self._limiter = AsyncLimiter(policy.max_rps, 1.0) if policy.max_rps else None
        self._paused_until = 0.0
        # The newest report of this provider's health we know: our own last one, or the
        # last one adopted from provider_health (older rows there are not news).
        self._known_at = 0.0
        for operation in operations(inner):
            if hasattr(GuardedProvider, operation) or operation in vars(self):
                # An adapter call named like the guard's own (`call`, `usable`) would hide it.
                raise TypeError(f"{self.code}: operation {operation!r} clashes with the guard")
            setattr(self, operation, self._guarded(operation))

    def __getattr__(self, name: str) -> Any:
        # Only what __init__ did not bind: data attributes and sync helpers, never a call.
        return getattr(self.inner, name)

    def _guarded(self, operation: str) -> Callable[..., Awaitable[Any]]:
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            # Looked up at call time, like a direct call would: a method replaced on the
            # adapter later (a test's spy) is the one that runs.
            method = getattr(self.inner, operation)
            return await self.call(operation, lambda: method(*args, **kwargs))

        return functools.update_wrapper(guarded, getattr(type(self.inner), operation))

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def usable(self) -> bool:
        return _now() >= self._paused_until and self.breaker.usable()

    def _report(self) -> None:
        metrics.set_breaker_state(self.code, str(self.breaker.state))
        self._known_at = max(self._known_at, _now())
        if self._on_change is not None:
            # Stamped with the time we know it as, so `adopt` never takes our own report
            # back as news.
            stamp = datetime.fromtimestamp(self._known_at, UTC)
            self._on_change(self.code, {**self.breaker.snapshot(), "updated_at": stamp})

    @property
    def paused_for(self) -> PauseReason | None:
        """Why purchases are held back by the breaker, or None when it is closed."""
        if self.breaker.state is BreakerState.CLOSED:
            return None
        return self.breaker.reason or PauseReason.BREAKER

    async def probe(self) -> Any:
        """A cheap read that never spends money: the balance (a Money or None), or the
        catalog for an adapter without one. Capped like any call but not counted by the
        breaker; raises the adapter's UpstreamError when it fails."""
        read = getattr(self.inner, "balance", None) or getattr(self.inner, "catalog", None)
        if read is None:
            raise ConfigError(f"{self.code}: nothing cheap to probe")
        try:
            async with AsyncExitStack() as stack:
                if self._slots is not None or self._limiter is not None:
                    await self._wait_turn(stack)
                return await read()
        except _Busy as exc:
            raise Unavailable(str(exc)) from None

    def resume(self) -> bool:
        """Purchases go out again now (a probe was answered, or ops said so); reported.
        True when the breaker was not closed."""
        if self.breaker.state is BreakerState.CLOSED:
            return False
        self.breaker.success()
        self._report()
        return True

    def pause(self, seconds: float, message: str = OPS_PAUSE_MESSAGE) -> None:
        """Hold purchases back for `seconds` by hand (probes leave it alone); reported."""
        self.breaker.hold(_now() + seconds, message, PauseReason.OPS)
        self._report()

    def adopt(
        self, state: str, opened_until: float | None, last_error: str | None, at: float
    ) -> bool:
        """Another process's report from provider_health (made at `at`, epoch seconds): a
        pause reported after what we knew holds purchases back here too, and a report that
        the provider is closed again lifts our pause. Not reported back (it is the row's).
        True when it changed this breaker."""
        if at <= self._known_at:
            return False
        self._known_at = at
        changed = False
        if state != BreakerState.CLOSED and opened_until is not None and opened_until > _now():
            if (
                self.breaker.state is BreakerState.CLOSED
                or (self.breaker.opened_until or 0.0) < opened_until
            ):
                self.breaker.hold(opened_until, last_error or "open in another process",
                                  reason_of(last_error))  # fmt: skip
                changed = True
        elif state == BreakerState.CLOSED and self.breaker.state is not BreakerState.CLOSED:
            self.breaker.success()
            changed = True
        if changed:
            metrics.set_breaker_state(self.code, str(self.breaker.state))
        return changed

    async def call(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """Every call is capped and honours a 429 pause. Only purchases are held back by an
        open breaker: the numbers already bought must still be polled, cancelled and given
        back while we cannot buy (out of funds, a flaky upstream). Every call's transient
        failures count toward opening it; only a purchase's success closes it."""
        now = _now()
        if now < self._paused_until:
            raise Unavailable(
                "upstream asked us to slow down (429)", retry_after=self._paused_until - now
            )
        purchase = operation in PURCHASES
        before = self.breaker.state
        if purchase:
            self.breaker.before_call()
        try:
            if self._slots is None and self._limiter is None:
                result = await call()  # uncapped (the sandbox): nothing to wait for
            else:
                async with AsyncExitStack() as stack:
                    await self._wait_turn(stack)
                    result = await call()
        except (OutOfFunds, ConfigError) as exc:
            self._failed(
                f"{operation}: {type(exc).__name__}: {exc.message}", purchase,
                cooldown=self.policy.funds_cooldown_seconds,
                reason=PauseReason.FUNDS if isinstance(exc, OutOfFunds) else PauseReason.KEY,
            )  # fmt: skip
            log.warning("provider %s: %s; purchases paused", self.code, exc.message)
            raise
        except (Unavailable, Indeterminate) as exc:
            if exc.retry_after:
                self._paused_until = max(self._paused_until, _now() + exc.retry_after)
                self._release(purchase)
            else:
                self._failed(f"{operation}: {exc.message}", purchase)
            raise
        except _Busy as exc:
            self._release(purchase)
            raise Unavailable(str(exc)) from None
        except UpstreamError:  # a refusal is a healthy answer
            self._succeeded(purchase, before)
            raise
        except BaseException:
            self._release(purchase)
            raise
        self._succeeded(purchase, before)
        return result

    def _failed(
        self,
        message: str,
        purchase: bool,
        cooldown: float | None = None,
        reason: PauseReason = PauseReason.BREAKER,
    ) -> None:
        self.breaker.failure(message, cooldown=cooldown, ends_trial=purchase, reason=reason)
        self._report()

    def _succeeded(self, purchase: bool, before: BreakerState) -> None:
        if purchase and (self.breaker.success() or before is not self.breaker.state):
            self._report()

    def _release(self, purchase: bool) -> None:
        if purchase:
            self.breaker.release()

    async def _wait_turn(self, stack: AsyncExitStack) -> None:
        try:
            async with asyncio.timeout(self.policy.queue_seconds):
                if self._slots is not None:
                    await stack.enter_async_context(self._slots)
                if self._limiter is not None:
                    await self._limiter.acquire()
        except TimeoutError:
            raise _Busy(
                f"provider {self.code} busy: no free slot within {self.policy.queue_seconds}s"
            ) from None


def guarded(adapter: P, policy: GuardPolicy, on_change: OnChange | None = None) -> P:
    """`adapter` behind a guard, typed as the adapter: the guard offers every protocol the
    adapter implements (each call wrapped), so callers keep the adapter's static type."""
    return cast(P, GuardedProvider(adapter, policy, on_change))


class _Busy(Exception):
    pass
