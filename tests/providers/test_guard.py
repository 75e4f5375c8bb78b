"""The provider guard: breaker transitions, long pauses for funds/key, 429 pauses, caps."""

import asyncio
from decimal import Decimal
from typing import Any, Protocol

import pytest

from app.observability import metrics
from app.providers.base import (
    Capabilities,
    ConfigError,
    Indeterminate,
    Money,
    OutOfFunds,
    Purchase,
    Rejected,
    Unavailable,
    UpstreamStatus,
)
from app.providers.guard import (
    Breaker,
    BreakerState,
    GuardedProvider,
    GuardPolicy,
    guarded,
    operations,
)
from app.providers.pauses import OPS_PAUSE_MESSAGE, PauseReason
from app.providers.protocols import (
    ActivationSource,
    BalanceSource,
    CatalogSource,
    EmailSource,
    MessageSender,
    RentalSource,
    Upstream,
    sources,
    supports,
)
from app.providers.sandbox import SandboxProvider
from tests.conftest import FakeClock

POLICY = GuardPolicy(failures=3, window_seconds=60, cooldown_seconds=30, funds_cooldown_seconds=900)


class Scripted:
    """An adapter whose next answers are scripted: an exception to raise or a value."""

    code = "scripted"
    name = "Scripted"
    capabilities = Capabilities(resend=False, reactivate=False, min_cancel_seconds=0,
                                rental_seconds=60)  # fmt: skip

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        self.delay = 0.0

    async def _answer(self, value: Any) -> Any:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            step = self.script.pop(0) if self.script else value
            if isinstance(step, BaseException):
                raise step
            return step
        finally:
            self.in_flight -= 1

    async def buy(self, upstream_key: str, reference: str) -> Purchase:
        return await self._answer(Purchase("u-1", "+6281"))  # type: ignore[no-any-return]

    async def status(self, upstream_order_id: str) -> UpstreamStatus:
        return await self._answer(None)  # type: ignore[no-any-return]

    async def balance(self) -> Money | None:
        return await self._answer(Money(Decimal(1)))  # type: ignore[no-any-return]


@pytest.fixture
def adapter() -> Scripted:
    return Scripted()


def guard_of(adapter: Scripted, policy: GuardPolicy = POLICY, reports: list | None = None):
    def on_change(code: str, snapshot: dict[str, Any]) -> None:
        if reports is not None:
            reports.append(snapshot)

    return GuardedProvider(adapter, policy, on_change)  # type: ignore[arg-type]


async def test_opens_after_n_transient_failures_then_fails_fast(adapter, clock: FakeClock):
    reports: list[dict[str, Any]] = []
    guard = guard_of(adapter, reports=reports)
    adapter.script = [Unavailable("502"), Indeterminate("reset"), Unavailable("garbage")]
    for _ in range(3):
        with pytest.raises((Unavailable, Indeterminate)):
            await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.OPEN and not guard.usable()
    assert metrics.BREAKER_STATE.labels("scripted")._value.get() == 2  # open, on /metrics
    assert reports[-1]["breaker_state"] == "open"
    assert reports[-1]["consecutive_failures"] == 3
    assert "garbage" in reports[-1]["last_error"]
    with pytest.raises(Unavailable, match="circuit open") as raised:
        await guard.buy("k", "2")
    assert adapter.calls == 3  # the open breaker did not call upstream
    assert raised.value.retry_after == pytest.approx(30)


async def test_failures_outside_the_window_do_not_add_up(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    for _ in range(2):
        adapter.script = [Unavailable("502")]
        with pytest.raises(Unavailable):
            await guard.buy("k", "1")
        clock.advance(61)
    adapter.script = [Unavailable("502")]
    with pytest.raises(Unavailable):
        await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.CLOSED


async def test_half_open_trial_closes_on_success_and_reopens_on_failure(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    adapter.script = [Unavailable("x")] * 3
    for _ in range(3):
        with pytest.raises(Unavailable):
            await guard.buy("k", "1")
    clock.advance(31)
    assert guard.usable()
    adapter.script = [Unavailable("still down")]
    with pytest.raises(Unavailable, match="still down"):
        await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.OPEN  # one failed trial re-opens at once
    clock.advance(31)
    assert (await guard.buy("k", "1")).upstream_order_id == "u-1"
    assert guard.breaker.state is BreakerState.CLOSED and guard.breaker.consecutive == 0


async def test_only_one_trial_call_while_half_open(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    adapter.script = [Unavailable("x")] * 3
    for _ in range(3):
        with pytest.raises(Unavailable):
            await guard.buy("k", "1")
    clock.advance(31)
    adapter.delay = 0.05
    results = await asyncio.gather(*(guard.buy("k", str(i)) for i in range(5)),
                                   return_exceptions=True)  # fmt: skip
    assert sum(isinstance(r, Purchase) for r in results) == 1
    assert all(isinstance(r, Unavailable) for r in results if not isinstance(r, Purchase))
    assert adapter.calls == 3 + 1


@pytest.mark.parametrize("error", [OutOfFunds("NO_BALANCE"), ConfigError("BAD_KEY")])
async def test_out_of_funds_or_bad_key_is_a_long_pause(adapter, clock: FakeClock, error):
    guard = guard_of(adapter)
    adapter.script = [error]
    with pytest.raises(type(error)):
        await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.OPEN
    clock.advance(899)
    assert not guard.usable()
    clock.advance(2)
    assert guard.usable()


async def test_a_refusal_is_a_healthy_answer(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    adapter.script = [Unavailable("x"), Unavailable("y"), Rejected("NO_NUMBERS")]
    for _ in range(3):
        with pytest.raises((Unavailable, Rejected)):
            await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.CLOSED and guard.breaker.consecutive == 0


async def test_429_pauses_without_opening(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    adapter.script = [Unavailable("429 Too Many Requests", retry_after=10)]
    with pytest.raises(Unavailable):
        await guard.buy("k", "1")
    assert guard.breaker.state is BreakerState.CLOSED and not guard.usable()
    with pytest.raises(Unavailable, match="slow down"):
        await guard.status("u-1")
    assert adapter.calls == 1
    clock.advance(10)
    assert guard.usable()
    await guard.balance()
    assert adapter.calls == 2


async def test_concurrency_cap_holds_and_a_full_queue_fails_over(adapter):
    # A queue long enough that no call of the first six can time out however slow the
    # machine: this half is about the cap, the second about the queue's bound.
    patient = guard_of(adapter, GuardPolicy(max_concurrency=2, queue_seconds=60))
    adapter.delay = 0.05
    results = await asyncio.gather(*(patient.buy("k", str(i)) for i in range(6)))
    assert len(results) == 6 and adapter.peak == 2

    guard = guard_of(adapter, GuardPolicy(max_concurrency=2, queue_seconds=0.2))
    adapter.delay = 0.5
    results = await asyncio.gather(*(guard.buy("k", str(i)) for i in range(3)),
                                   return_exceptions=True)  # fmt: skip
    busy = [r for r in results if isinstance(r, Unavailable)]
    assert len(busy) == 1 and "busy" in busy[0].message
    assert guard.breaker.consecutive == 0  # our own queue is not the provider's failure


async def test_rate_cap_spaces_calls(adapter):
    guard = guard_of(adapter, GuardPolicy(max_rps=20, queue_seconds=5))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(guard.balance() for _ in range(40)))
    # 20 a second with a burst of 20: the second 20 need about a second.
    assert loop.time() - started >= 0.8


async def test_an_open_breaker_holds_back_purchases_only(adapter, clock: FakeClock):
    """Out of funds: no more buying for the long cooldown, but the numbers already bought
    are still polled (and a poll's success does not close the breaker)."""
    guard = guard_of(adapter)
    adapter.script = [OutOfFunds("NO_BALANCE")]
    with pytest.raises(OutOfFunds):
        await guard.buy("k", "1")
    assert await guard.status("u-1") is None  # went upstream
    assert guard.breaker.state is BreakerState.OPEN and not guard.usable()
    with pytest.raises(Unavailable, match="circuit open"):
        await guard.buy("k", "2")
    assert adapter.calls == 2


async def test_poll_failures_open_the_breaker_for_purchases(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    adapter.script = [Unavailable("502")] * 3
    for _ in range(3):
        with pytest.raises(Unavailable):
            await guard.status("u-1")
    assert guard.breaker.state is BreakerState.OPEN
    with pytest.raises(Unavailable, match="circuit open"):
        await guard.buy("k", "1")
    assert await guard.status("u-1") is None  # polls still go out


class PingSource(Upstream, Protocol):
    """A family the guard has never heard of."""

    async def ping(self, target: str) -> str: ...


class Pinger:
    code = "pinger"
    name = "Pinger"

    def __init__(self) -> None:
        self.scripted = Scripted()

    async def ping(self, target: str) -> str:
        return await self.scripted._answer(f"pong {target}")  # type: ignore[no-any-return]

    async def _private(self) -> None:  # not an upstream call
        raise AssertionError

    async def aclose(self) -> None:
        self.closed = True


async def test_a_new_familys_calls_are_guarded_with_no_code_in_the_guard(clock: FakeClock):
    pinger = Pinger()
    guard = GuardedProvider(pinger, POLICY)
    assert operations(pinger) == ("ping",)
    assert supports(guard, PingSource) and not supports(guard, ActivationSource)
    assert not supports(guard, RentalSource)
    assert await guard.ping("a") == "pong a"  # type: ignore[attr-defined]
    # Its transient failures count toward the breaker like any poll.
    pinger.scripted.script = [Unavailable("502")] * 3
    for _ in range(3):
        with pytest.raises(Unavailable):
            await guard.ping("a")  # type: ignore[attr-defined]
    assert guard.breaker.state is BreakerState.OPEN
    assert metrics.BREAKER_STATE.labels("pinger")._value.get() == 2
    # A 429 pauses it: the next call does not go out.
    guard.breaker = Breaker(POLICY)
    pinger.scripted.script = [Unavailable("429", retry_after=5)]
    with pytest.raises(Unavailable):
        await guard.ping("a")  # type: ignore[attr-defined]
    calls = pinger.scripted.calls
    with pytest.raises(Unavailable, match="slow down"):
        await guard.ping("a")  # type: ignore[attr-defined]
    assert pinger.scripted.calls == calls
    await guard.aclose()
    assert pinger.closed


async def test_a_new_familys_calls_are_capped():
    pinger = Pinger()
    guard = GuardedProvider(pinger, GuardPolicy(max_concurrency=2, queue_seconds=5))
    pinger.scripted.delay = 0.05
    answers = await asyncio.gather(*(guard.ping(str(i)) for i in range(6)))  # type: ignore[attr-defined]
    assert answers == [f"pong {i}" for i in range(6)] and pinger.scripted.peak == 2


def test_a_guarded_adapter_offers_exactly_its_adapters_capabilities():
    sandbox = SandboxProvider()
    guard = guarded(sandbox, POLICY)
    assert isinstance(guard, GuardedProvider) and guard.inner is sandbox
    for family in (CatalogSource, BalanceSource, ActivationSource):
        assert supports(guard, family) and supports(sandbox, family)
    for family in (RentalSource, EmailSource, MessageSender):
        assert not supports(guard, family) and not supports(sandbox, family)
    assert guard.capabilities is sandbox.capabilities  # data is the adapter's own
    assert set(operations(sandbox)) == {
        "catalog", "balance", "buy", "find_purchase", "status", "cancel", "finish", "resend",
        "reactivation_cost", "reactivate",
    }  # fmt: skip
    assert list(sources({"s": guard, "p": GuardedProvider(Pinger(), POLICY)}, CatalogSource)) == [
        "s"
    ]


def test_an_operation_named_like_the_guards_own_is_refused():
    class Clashing(Pinger):
        async def usable(self) -> bool:  # would hide the routing check
            return True

    with pytest.raises(TypeError, match="'usable' clashes"):
        GuardedProvider(Clashing(), POLICY)


async def test_a_method_replaced_on_the_adapter_later_is_the_one_called():
    pinger = Pinger()
    guard = GuardedProvider(pinger, POLICY)

    async def spy(target: str) -> str:
        return f"spied {target}"

    pinger.ping = spy  # type: ignore[method-assign]
    assert await guard.ping("a") == "spied a"  # type: ignore[attr-defined]


# --- recovery: the reason of a pause, probes, pause/resume by hand, other processes' reports


async def _trip(guard: GuardedProvider, adapter: Scripted, exc: Exception) -> None:
    adapter.script = [exc]
    with pytest.raises(type(exc)):
        await guard.buy("k", "1")


async def test_a_pause_knows_its_reason(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    assert guard.paused_for is None
    await _trip(guard, adapter, OutOfFunds("NO_BALANCE"))
    assert guard.paused_for is PauseReason.FUNDS
    assert guard.resume() and guard.paused_for is None and guard.usable()
    await _trip(guard, adapter, ConfigError("BAD_KEY"))
    assert guard.paused_for is PauseReason.KEY
    guard.resume()
    for _ in range(3):
        await _trip(guard, adapter, Unavailable("502"))
    assert guard.paused_for is PauseReason.BREAKER
    # A long pause is not shortened, nor renamed, by a transient failure on top of it.
    guard.resume()
    await _trip(guard, adapter, OutOfFunds("NO_BALANCE"))
    adapter.script = [Unavailable("502")]
    with pytest.raises(Unavailable):
        await guard.status("u-1")
    assert guard.paused_for is PauseReason.FUNDS


async def test_probe_reads_the_balance_and_never_buys_nor_counts(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    await _trip(guard, adapter, OutOfFunds("NO_BALANCE"))
    bought = adapter.calls
    assert await guard.probe() == Money(Decimal(1))
    adapter.script = [Unavailable("502")] * 5
    for _ in range(5):
        with pytest.raises(Unavailable):
            await guard.probe()
    assert adapter.calls == bought + 6  # six balance reads, no purchase
    assert guard.breaker.consecutive == 1  # a failed probe is not a failure of the provider
    assert guard.paused_for is PauseReason.FUNDS  # nor does an answered probe resume it
    assert not guard.usable()


async def test_pause_and_resume_by_hand_are_reported(adapter, clock: FakeClock):
    reports: list[dict[str, Any]] = []
    guard = guard_of(adapter, reports=reports)
    guard.pause(120)
    assert not guard.usable() and guard.paused_for is PauseReason.OPS
    assert reports[-1]["breaker_state"] == "open"
    assert reports[-1]["last_error"] == OPS_PAUSE_MESSAGE
    assert reports[-1]["updated_at"] == clock.now  # stamped: adopt knows it as its own
    with pytest.raises(Unavailable, match="circuit open"):
        await guard.buy("k", "1")
    assert adapter.calls == 0
    assert guard.resume() and guard.usable()
    assert reports[-1]["breaker_state"] == "closed"
    assert not guard.resume()  # closed already: nothing to report
    assert len(reports) == 2


async def test_adopt_follows_newer_reports_only(adapter, clock: FakeClock):
    guard = guard_of(adapter)
    now = clock.now.timestamp()
    # Another process saw it out of funds: purchases held back here too, for that long.
    assert guard.adopt("open", now + 900, "buy: OutOfFunds: NO_BALANCE", now + 1)
    assert not guard.usable() and guard.paused_for is PauseReason.FUNDS
    assert metrics.BREAKER_STATE.labels("scripted")._value.get() == 2
    # An older (or the same) report is not news.
    assert not guard.adopt("closed", None, None, now + 1)
    assert not guard.usable()
    # A newer report that it is closed lifts the pause.
    assert guard.adopt("closed", None, None, now + 2)
    assert guard.usable() and guard.paused_for is None
    # A pause that has already run out is not adopted; an ops pause keeps its reason.
    assert not guard.adopt("open", now - 1, "502", now + 3)
    assert guard.usable()
    assert guard.adopt("open", now + 60, OPS_PAUSE_MESSAGE, now + 4)
    assert guard.paused_for is PauseReason.OPS
    # Our own report is newer than what we adopted: the row echoing it back is no news.
    clock.advance(10)
    guard.resume()
    assert not guard.adopt("open", now + 60, OPS_PAUSE_MESSAGE, clock.now.timestamp())
    assert guard.usable()
