"""The poller: claims due orders (FOR UPDATE SKIP LOCKED plus a lease, so any number of
workers can run), asks the upstream with bounded concurrency, applies what it learns.

It also settles PENDING orders left by a crash, gives numbers back upstream when that
failed earlier, and purges old idempotency keys. `stop()` lets the current round finish.
"""

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from app.idempotency import service as idempotency
from app.kit import clock
from app.observability import metrics
from app.observability.metrics import provider_call
from app.orders import lifecycle, repository
from app.orders.actions import release
from app.orders.context import OrdersContext
from app.orders.models import OrderStatus
from app.orders.service import fail_and_refund
from app.providers.base import UpstreamError, UpstreamState, UpstreamStatus
from app.workers.loop import Worker

log = logging.getLogger(__name__)

POLLED = (OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.OTP_RECEIVED)
PURGE_EVERY_SECONDS = 300.0


class Poller(Worker):
    name = "poller"

    def __init__(self, ctx: OrdersContext, *, idle_seconds: float = 0.25) -> None:
        super().__init__(idle_seconds)
        self.ctx = ctx
        self._semaphore = asyncio.Semaphore(ctx.settings.poll_concurrency)
        self._last_purge = 0.0
        self.advanced = 0  # orders handled since start (for benchmarks and metrics)
        self.last_beat = time.monotonic()  # /readyz: a sign of life, each round and order

    async def round(self) -> int:
        self._beat()
        return await self.tick()

    async def tick(self) -> int:
        """One round: every due order handled once. Returns how many were due."""
        settings = self.ctx.settings
        now = clock.utcnow()
        lease = timedelta(seconds=settings.poll_lease_seconds)
        async with self.ctx.autocommit.connect() as session:  # each claim is one statement
            due = await repository.claim_due(session, now, lease, settings.poll_batch_size, POLLED)
            releases = await repository.claim_releases(
                session, now, lease, settings.poll_batch_size
            )
        pending = [o for o in due if o.status == OrderStatus.PENDING]
        live = [o for o in due if o.status != OrderStatus.PENDING]
        await asyncio.gather(*(self._guarded(self._reconcile, order) for order in pending))
        polled = await asyncio.gather(*(self._guarded(self._poll, order) for order in live))
        await lifecycle.apply_polls(self.ctx, [p for p in polled if p is not None])
        await asyncio.gather(*(self._guarded(self._release, row) for row in releases))
        self.advanced += len(due)
        metrics.poller_beat(handled=len(due) + len(releases))
        await self._maybe_purge()
        return len(due) + len(releases)

    def _beat(self) -> None:
        self.last_beat = time.monotonic()
        metrics.poller_beat()

    async def _guarded(self, handler: Any, row: Any) -> Any:
        async with self._semaphore:
            self.last_beat = time.monotonic()  # a long round with slow upstreams is alive
            try:
                return await handler(row)
            except Exception:
                # The lease runs out and another round retries this order.
                log.exception("order %s: poller step failed", row.id)
                return None

    async def _reconcile(self, order: Any) -> None:
        provider = await self.ctx.provider_by_id(order.provider_id)
        if provider is None:
            # Nobody can tell whether the purchase happened: the client's money is not held
            # hostage to that. A number bought after all is our loss, not the client's.
            log.warning("order %s: PENDING with its provider disabled; refunding", order.id)
            await fail_and_refund(self.ctx, order.id, "its provider was disabled")
            return
        await lifecycle.reconcile(self.ctx, order, provider)

    async def _poll(self, order: Any) -> tuple[Any, UpstreamStatus] | None:
        """Ask the upstream. Returns what goes into the round's batch; handles the rare
        cases (errors, expiry, the provider ending it) one by one and returns None."""
        provider = await self.ctx.provider_by_id(order.provider_id)
        now = clock.utcnow()
        if provider is None or (order.expires_at is not None and now >= order.expires_at):
            await lifecycle.advance(self.ctx, order, provider)
            return None
        try:
            with provider_call(provider.code, "status", order.id):
                status = await provider.status(order.upstream_order_id)
        except UpstreamError as exc:
            await lifecycle.retry_later(self.ctx, order, f"status: {exc.message}")
            return None
        if status.state is UpstreamState.CANCELED:
            await lifecycle.advance(self.ctx, order, provider, status)
            return None
        return order, status

    async def _release(self, row: Any) -> None:
        provider = await self.ctx.provider_by_id(row.provider_id)
        if provider is None or row.upstream_order_id is None:
            log.warning(
                "order %s: cannot give number %s back, its provider is disabled",
                row.id, row.upstream_order_id,
            )  # fmt: skip
            async with self.ctx.autocommit.connect() as session:
                await repository.release_done(session, row.id)
            return
        await release(self.ctx, row.id, provider, row.upstream_order_id, row.release_action)

    async def _maybe_purge(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = time.monotonic()
        before = clock.utcnow() - timedelta(hours=self.ctx.settings.idempotency_ttl_hours)
        async with self.ctx.engine.begin() as session:
            purged = await idempotency.purge(session, before)
        if purged:
            log.info("purged %d idempotency keys", purged)
