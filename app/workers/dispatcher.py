"""The webhook dispatcher: delivers queued order events to each account's receiver.

Each account's queue is a stream sent oldest event first, by one dispatcher at a time: a
round claims accounts with `FOR UPDATE SKIP LOCKED` plus a lease (any number of
dispatchers, in any number of processes), commits the claim, and then sends with no
transaction open. Each outcome is written in its own short transaction, conditional on
still holding the lease. A delivered event leaves the queue; a failure stops the stream
until its backoff (base * 3^n, capped, ±20 % jitter) and the 10th failure in a row
disables it (events keep queueing). A dispatcher killed mid-delivery loses only its lease:
the event is still queued and is sent again when the lease runs out (at least once).

Replays (ops) are separate queue rows, each retried on its own schedule up to the failure
limit; they never touch the account's failure counter or its disabled state.
"""

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.kit import clock
from app.kit.json import dumps
from app.observability import metrics
from app.webhooks import repository, sender
from app.webhooks.sender import SendResult
from app.workers.loop import Worker

log = logging.getLogger(__name__)

EVENTS_PER_READ = 20
JITTER = 0.2


class Dispatcher(Worker):
    name = "webhook dispatcher"

    def __init__(
        self, engine: AsyncEngine, settings: Settings, *, idle_seconds: float = 0.25
    ) -> None:
        super().__init__(idle_seconds)
        self.engine = engine
        self.settings = settings
        self._semaphore = asyncio.Semaphore(settings.webhook_concurrency)
        self._client: httpx.AsyncClient | None = None
        self.delivered = 0  # successful deliveries since start (tests, metrics)

    async def round(self) -> int:
        return await self.tick()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = sender.make_client()
        return self._client

    async def tick(self) -> int:
        """One round: every claimable stream and due replay handled. Returns how many."""
        now = clock.utcnow()
        until = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        token = uuid.uuid4()
        # Claim no more than can be sent at once: a claim left waiting for a free slot
        # would let its lease run out while it waits, and another dispatcher send it too.
        limit = min(self.settings.webhook_batch_size, self.settings.webhook_concurrency)
        async with self.engine.begin() as conn:
            accounts = await repository.claim_streams(conn, now, until, token, limit)
        replays: Sequence[Any] = ()
        if len(accounts) < limit:
            async with self.engine.begin() as conn:
                replays = await repository.claim_replays(conn, now, until, limit - len(accounts))
        await asyncio.gather(
            *(self._guarded(self._stream, account_id, token) for account_id in accounts),
            *(self._guarded(self._replay, row) for row in replays),
        )
        return len(accounts) + len(replays)

    async def _guarded(self, handler: Any, *args: Any) -> None:
        async with self._semaphore:
            try:
                await handler(*args)
            except Exception:
                # The lease runs out and a later round tries again.
                log.exception("webhook delivery step failed")

    async def _send(self, url: str, secret: str | None, event_id: int, payload: Any) -> SendResult:
        return await sender.send(
            self.client, url, dumps(payload), secret=secret,
            allow_private=self.settings.webhook_allow_private,
            timeout_seconds=self.settings.webhook_timeout_seconds,
            extra_headers={"X-Webhook-Event-Id": str(event_id)},
        )  # fmt: skip

    async def _stream(self, account_id: int, token: uuid.UUID) -> None:
        """Send an account's queued events in order while they succeed and we hold it."""
        settings = self.settings
        try:
            while not self._stop.is_set():
                async with self.engine.connect() as conn:
                    events = await repository.next_events(conn, account_id, token, EVENTS_PER_READ)
                if not events:
                    return
                for event in events:
                    result = await self._send(event.url, event.secret, event.event_id,
                                              event.payload)  # fmt: skip
                    now = clock.utcnow()
                    async with self.engine.begin() as conn:
                        await self._record(conn, account_id, event.event_id, result, False)
                        if not result.ok:
                            await self._stream_failed(conn, account_id, token, now)
                            return
                        until = now + timedelta(seconds=settings.webhook_lease_seconds)
                        held = await repository.stream_delivered(
                            conn, account_id, token, event.outbox_id, until
                        )
                    self.delivered += 1
                    if not held or self._stop.is_set():
                        return
        finally:
            async with self.engine.begin() as conn:
                await repository.release_stream(conn, account_id, token)

    async def _stream_failed(
        self, conn: Any, account_id: int, token: uuid.UUID, now: datetime
    ) -> None:
        s = self.settings
        failed = await repository.stream_failed(
            conn, account_id, token, now,
            base=s.webhook_retry_base_seconds, max_delay=s.webhook_retry_max_seconds,
            jitter=random.uniform(1 - JITTER, 1 + JITTER), max_failures=s.webhook_max_failures,
        )  # fmt: skip
        if failed is not None and failed.disabled_at is not None:
            log.warning(
                "account %s: webhook delivery disabled after %d failures in a row",
                account_id, failed.consecutive_failures,
            )  # fmt: skip

    async def _replay(self, row: Any) -> None:
        if row.url:
            result = await self._send(row.url, row.secret, row.event_id, row.payload)
        else:
            result = SendResult(None, "no webhook URL is configured", 0)
        now = clock.utcnow()
        async with self.engine.begin() as conn:
            await self._record(conn, row.account_id, row.event_id, result, True)
            if result.ok or row.attempts >= self.settings.webhook_max_failures or not row.url:
                await repository.replay_finished(conn, row.outbox_id, row.event_id, result.ok)
            else:
                await repository.replay_later(
                    conn, row.outbox_id, now + self._backoff(row.attempts)
                )
        if result.ok:
            self.delivered += 1

    def _backoff(self, failures: int) -> timedelta:
        s = self.settings
        delay = min(s.webhook_retry_max_seconds, s.webhook_retry_base_seconds * 3 ** (failures - 1))
        return timedelta(seconds=delay * random.uniform(1 - JITTER, 1 + JITTER))

    async def _record(
        self, conn: Any, account_id: int, event_id: int, result: SendResult, is_replay: bool
    ) -> None:
        metrics.webhook_delivery(
            "delivered" if result.ok else "error" if result.status_code is None else "rejected"
        )
        await repository.record_attempt(
            conn, account_id=account_id, event_id=event_id, is_replay=is_replay,
            attempted_at=clock.utcnow(), status_code=result.status_code, error=result.error,
            duration_ms=result.duration_ms, succeeded=result.ok,
        )  # fmt: skip
