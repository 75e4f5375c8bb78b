"""The contract between the poll loop (app.workers.poller) and each kind's step.

Kept apart from the loop so a kind can name these types without importing the loop, which
imports the kinds.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

log = logging.getLogger("app.workers.poller")

BatchT = TypeVar("BatchT")
Row = TypeVar("Row")
Result = TypeVar("Result")


class Lanes:
    """What the loop lends a step for one batch: its bounded concurrency (shared by every
    step, so `poll_concurrency` caps the upstream calls of the whole loop), the heartbeat,
    and per-row isolation (one row that fails does not stop the others)."""

    def __init__(self, kind: str, semaphore: asyncio.Semaphore, alive: Callable[[], None]):
        self.kind = kind
        self._semaphore = semaphore
        self.alive = alive

    async def each(
        self, handler: Callable[[Row], Awaitable[Result]], rows: Sequence[Row]
    ) -> list[Result | None]:
        """`handler` for every row at once (within the bound); None for a row that failed."""
        return await asyncio.gather(*(self._guarded(handler, row) for row in rows))

    async def _guarded(
        self, handler: Callable[[Row], Awaitable[Result]], row: Row
    ) -> Result | None:
        async with self._semaphore:
            self.alive()  # a long round with slow upstreams is alive
            try:
                return await handler(row)
            except Exception:
                # The lease runs out and another round retries this row.
                log.exception("%s %s: poller step failed", self.kind, getattr(row, "id", "?"))
                return None


class PollStep(Protocol[BatchT]):
    """One kind of product's share of a poll round."""

    kind: str  # names the kind's rows in logs: "order 12: poller step failed"

    async def claim(self, now: datetime) -> BatchT:
        """Lease the kind's due rows (SKIP LOCKED plus `locked_until`, one committed statement
        per queue) so no other worker takes them until the lease runs out."""
        ...

    def size(self, batch: BatchT) -> int:
        """How many rows `batch` holds (the round's "busy" and the metrics count them)."""
        ...

    async def process(self, batch: BatchT, lanes: Lanes) -> None:
        """Handle a claimed batch: upstream calls with no transaction open, then results
        written conditionally in short transactions of their own."""
        ...

    async def chores(self) -> None:
        """Periodic housekeeping of the kind, run after each of its rounds (it keeps its own
        schedule); a no-op for most kinds."""
        ...
