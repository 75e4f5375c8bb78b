"""The orders' step of the poll loop (app.workers.poller): claim due orders and numbers to
give back, settle PENDING orders left by a crash, ask the upstream about live ones and apply
what it says in batches, expire the overdue, and give numbers back upstream when that failed
earlier.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.kit import clock
from app.orders import lifecycle, repository
from app.orders.actions import release
from app.orders.context import OrdersContext
from app.orders.models import OrderStatus
from app.orders.service import fail_and_refund
from app.providers.base import UpstreamError, UpstreamState, UpstreamStatus
from app.providers.calls import provider_call

if TYPE_CHECKING:  # the loop imports this module; only its type is needed here
    from app.kit.polling import Lanes

log = logging.getLogger(__name__)

POLLED = (OrderStatus.PENDING, OrderStatus.ACTIVE, OrderStatus.OTP_RECEIVED)


@dataclass(frozen=True, slots=True)
class OrdersBatch:
    due: list[Any]  # orders to reconcile (PENDING) or poll (live)
    releases: list[Any]  # FAILED orders whose number must still go back upstream


class OrdersStep:
    kind = "order"

    def __init__(self, ctx: OrdersContext) -> None:
        self.ctx = ctx

    async def claim(self, now: datetime) -> OrdersBatch:
        settings = self.ctx.settings
        lease = timedelta(seconds=settings.poll_lease_seconds)
        async with self.ctx.autocommit.connect() as session:  # each claim is one statement
            due = await repository.claim_due(session, now, lease, settings.poll_batch_size, POLLED)
            releases = await repository.claim_releases(
                session, now, lease, settings.poll_batch_size
            )
        return OrdersBatch(list(due), list(releases))

    def size(self, batch: OrdersBatch) -> int:
        return len(batch.due) + len(batch.releases)

    async def process(self, batch: OrdersBatch, lanes: "Lanes") -> None:
        pending = [o for o in batch.due if o.status == OrderStatus.PENDING]
        live = [o for o in batch.due if o.status != OrderStatus.PENDING]
        await lanes.each(self._reconcile, pending)
        polled = await lanes.each(self._poll, live)
        await lifecycle.apply_polls(self.ctx, [p for p in polled if p is not None])
        await lanes.each(self._release, batch.releases)

    async def chores(self) -> None:
        return None  # the loop purges idempotency keys; orders have nothing else periodic

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
