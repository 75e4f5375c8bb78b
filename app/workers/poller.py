"""The poll loop, one for every kind of product. Each round every registered step claims its
due work (FOR UPDATE SKIP LOCKED plus a lease, in one statement, so any number of workers can
run), handles the batch with the loop's bounded concurrency and does its periodic chores.

A step that fails is logged and the other steps of the round still run; what it had claimed
waits out its lease and a later round (of this worker or another) takes it again. Orders are
the first kind (app.orders.worker); the kinds are listed once, in app.runtime.poll_steps. The
loop's own chore is purging old idempotency keys, which serve every endpoint that spends
money. `stop()` lets the current round finish.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.idempotency import service as idempotency
from app.kit import clock
from app.kit.polling import Lanes, PollStep
from app.observability import metrics
from app.workers.loop import Worker

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 300.0


class Poller(Worker):
    """The loop over `steps`, one per kind (app.runtime.poll_steps lists them). `engine` and
    `settings` serve the loop's own concurrency bound and chores."""

    name = "poller"

    def __init__(
        self,
        steps: Sequence[PollStep[Any]],
        engine: AsyncEngine,
        settings: Settings,
        *,
        idle_seconds: float = 0.25,
    ) -> None:
        super().__init__(idle_seconds)
        self.steps: tuple[PollStep[Any], ...] = tuple(steps)
        self.engine = engine
        self.settings = settings
        self._semaphore = asyncio.Semaphore(settings.poll_concurrency)
        self._last_purge = 0.0
        self.advanced = 0  # rows handled since start, every kind (benchmarks and metrics)
        self.last_beat = time.monotonic()  # /readyz: a sign of life, each round and row

    async def round(self) -> int:
        self._beat()
        return await self.tick()

    async def tick(self) -> int:
        """One round: every step's due rows handled once. Returns how many were due."""
        now = clock.utcnow()
        handled = sum(await asyncio.gather(*(self._step(step, now) for step in self.steps)))
        self.advanced += handled
        metrics.poller_beat(handled=handled)
        await self._maybe_purge()
        return handled

    def _beat(self) -> None:
        self.last_beat = time.monotonic()
        metrics.poller_beat()

    def _alive(self) -> None:
        self.last_beat = time.monotonic()

    async def _step(self, step: PollStep[Any], now: datetime) -> int:
        try:
            batch = await step.claim(now)
            await step.process(batch, Lanes(step.kind, self._semaphore, self._alive))
            await step.chores()
        except Exception:
            # Whatever it claimed waits out its lease; the other kinds carry on.
            log.exception("poller: the %s step failed", step.kind)
            return 0
        return step.size(batch)

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = time.monotonic()
        before = clock.utcnow() - timedelta(hours=self.settings.idempotency_ttl_hours)
        async with self.engine.begin() as session:
            purged = await idempotency.purge(session, before)
        if purged:
            log.info("purged %d idempotency keys", purged)
