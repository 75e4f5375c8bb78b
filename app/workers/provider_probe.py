"""Providers that recover: every SMSGATE_BREAKER_PROBE_SECONDS,

- `refresh` reads every provider's last reported breaker state from `provider_health` and
  lets this process's guard `adopt` it: a pause, a resume or an outage one process saw (or
  ops recorded) reaches the others within a round, and the hot path never reads the table;
- `probe` (only where the workers run) sends a paused provider one cheap read (its balance,
  never a purchase) and resumes it when the read is answered; out of funds, only when the
  balance covers its cheapest active offer. The resume is reported to `provider_health`,
  so the other processes follow at their next refresh. A pause by ops is not probed.
"""

import asyncio
import logging
from collections.abc import Mapping
from contextlib import suppress
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.catalog import health
from app.catalog.models import Product
from app.catalog.models import Provider as ProviderRow
from app.config import Settings
from app.providers.dto import Money
from app.providers.errors import UpstreamError
from app.providers.guard import GuardedProvider
from app.providers.pauses import PauseReason
from app.workers.loop import Worker

log = logging.getLogger(__name__)


async def cheapest_offer(engine: AsyncEngine, code: str, currency: str) -> Decimal | None:
    """The upstream cost of `code`'s cheapest active offer priced in `currency`."""
    async with engine.connect() as conn:
        cost = await conn.scalar(
            select(func.min(Product.upstream_cost))
            .join(ProviderRow, ProviderRow.id == Product.provider_id)
            .where(
                ProviderRow.code == code,
                Product.active,
                Product.upstream_currency == currency,
                Product.upstream_cost.is_not(None),
            )
        )
    return None if cost is None else Decimal(cost)


class ProviderProbe(Worker):
    name = "provider probe"

    def __init__(
        self,
        engine: AsyncEngine,
        providers: Mapping[str, object],
        settings: Settings,
        *,
        probing: bool = True,
    ) -> None:
        super().__init__(settings.breaker_probe_seconds)
        self.engine = engine
        self.guards = {code: p for code, p in providers.items() if isinstance(p, GuardedProvider)}
        self.probing = probing

    async def refresh(self) -> list[str]:
        """Adopt the other processes' reports; the codes whose breaker here changed."""
        async with self.engine.connect() as conn:
            rows = await health.shared_breakers(conn)
        changed = []
        for row in rows:
            guard = self.guards.get(row["code"])
            if guard is None or row["updated_at"] is None:
                continue
            until = row["opened_until"]
            if guard.adopt(
                row["breaker_state"],
                None if until is None else until.timestamp(),
                row["last_error"],
                row["updated_at"].timestamp(),
            ):
                changed.append(row["code"])
        return changed

    async def probe(self) -> list[str]:
        """Probe every paused provider once; the codes resumed."""
        resumed = []
        for code, guard in self.guards.items():
            reason = guard.paused_for
            if reason is None or reason is PauseReason.OPS:
                continue
            try:
                answer = await guard.probe()
            except UpstreamError as exc:
                log.info("provider %s still paused (%s): probe: %s", code, reason, exc.message)
                continue
            if reason is PauseReason.FUNDS and not await self._covers(code, answer):
                continue
            if guard.resume():
                log.warning("provider %s resumed: a probe found it usable (%s)", code, reason)
                resumed.append(code)
        return resumed

    async def _covers(self, code: str, answer: object) -> bool:
        if not isinstance(answer, Money):
            return False  # no balance to tell: the funds pause runs its course
        cheapest = await cheapest_offer(self.engine, code, answer.currency)
        enough = answer.amount > 0 if cheapest is None else answer.amount >= cheapest
        if not enough:
            log.info("provider %s still out of funds: balance %s %s, cheapest offer %s",
                     code, answer.amount, answer.currency, cheapest)  # fmt: skip
        return enough

    async def run(self) -> None:
        # The first round a probe interval after start: a short-lived process (a CLI
        # command) never reads the table, and a fresh one has nothing paused to probe yet.
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.idle_seconds)
        if not self._stop.is_set():
            await super().run()

    async def round(self) -> int:
        await self.refresh()
        if self.probing:
            await self.probe()
        return 0  # never busy: the next round is a probe interval away
