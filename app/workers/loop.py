"""What every background worker shares: run rounds until stopped.

A worker's `round()` does one pass of work and says how much it found; after a round that
found nothing (or failed, which is logged and survived) the loop waits `idle_seconds`, or
less when `stop()` is called. `stop()` lets the current round finish.
"""

import asyncio
import logging
from contextlib import suppress

log = logging.getLogger(__name__)


class Worker:
    name = "worker"

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def round(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the worker holds (clients), after its last round."""

    async def run(self) -> None:
        log.info("%s started", self.name)
        try:
            while not self._stop.is_set():
                try:
                    busy = await self.round()
                except Exception:
                    log.exception("%s round failed", self.name)
                    busy = 0
                if not busy:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), self.idle_seconds)
        finally:
            await self.close()
        log.info("%s stopped", self.name)
