"""Counters with expiry on a `limits` storage: Redis when REDIS_URL is set, else memory.

Redis down is fail-open, on purpose: the limits protect capacity, not money (balances
are guarded by Postgres), and refusing every request because a counter store is away
would turn a Redis blip into a full outage for paying clients. On a Redis error or
timeout the process falls back to its own in-memory counters (so each process still
enforces the limits on its own share of traffic) and tries Redis again after
`rate_limit_redis_retry_seconds`. Short socket timeouts and no client retries keep a
dead or black-holed Redis from holding requests up.

Time comes from app.kit.clock (so tests move it instead of sleeping): in-memory windows
expire by its `timestamp()`, the retry timer runs on its `monotonic()`. Redis keys expire
on Redis's own clock.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from app.config import Settings
from app.kit import clock

log = logging.getLogger(__name__)

T = TypeVar("T")


class LocalStorage(MemoryStorage):
    """limits' MemoryStorage for fixed windows, without its sweep of every key after each
    increment (O(keys) per request: 1.1 ms an increment at 10,000 keys, measured). A key
    here expires when it is next touched, and expired keys are swept at most every few
    seconds. No await between read and write, so each operation is atomic in the loop.
    Time is app.kit.clock's (limits' own storage reads time.time()), so tests move it."""

    SWEEP_SECONDS = 5.0

    def __init__(self) -> None:
        super().__init__()
        self._last_sweep = clock.timestamp()

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = clock.timestamp()
        if self.expirations.get(key, 0.0) <= now:
            self.storage[key] = amount
            self.expirations[key] = now + expiry
        else:
            self.storage[key] += amount
        if now - self._last_sweep > self.SWEEP_SECONDS:
            self._sweep(now)
        return self.storage[key]

    async def get(self, key: str) -> int:
        if self.expirations.get(key, 0.0) <= clock.timestamp():
            return 0
        return self.storage.get(key, 0)

    async def get_expiry(self, key: str) -> float:
        return self.expirations.get(key, clock.timestamp())

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for key in [k for k, at in self.expirations.items() if at <= now]:
            self.storage.pop(key, None)
            self.expirations.pop(key, None)


def redis_storage(settings: Settings) -> RedisStorage:
    assert settings.redis_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    url = settings.redis_url
    uri = url if url.startswith("async+") else f"async+{url}"
    timeout = settings.rate_limit_redis_timeout_seconds
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),  # a failed call falls back at once, never retried
        "health_check_interval": 0,
    }
    return RedisStorage(
        uri,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=settings.rate_limit_key_prefix,
        **cast(dict[str, float | str | bool], options),
    )


class Counters:
    """incr/get/get_expiry/clear on the shared storage, or on this process's own memory
    while the shared one is failing."""

    def __init__(self, settings: Settings) -> None:
        self.shared: Storage | None = redis_storage(settings) if settings.redis_url else None
        self.local: Storage = LocalStorage()
        self.retry_seconds = settings.rate_limit_redis_retry_seconds
        self._shared_down_until = 0.0

    @property
    def degraded(self) -> bool:
        """True while the shared storage is skipped after an error."""
        return self.shared is not None and clock.monotonic() < self._shared_down_until

    async def _run(self, op: Callable[[Storage], Awaitable[T]]) -> T:
        shared = self.shared
        if shared is None or clock.monotonic() < self._shared_down_until:
            return await op(self.local)
        try:
            return await op(shared)
        except (StorageError, OSError, TimeoutError) as exc:
            self._shared_down_until = clock.monotonic() + self.retry_seconds
            log.warning(
                "rate-limit storage unavailable (%s); counting in this process for %.0f s",
                type(getattr(exc, "storage_error", exc)).__name__,
                self.retry_seconds,
            )
            return await op(self.local)

    async def incr(self, key: str, expiry: int) -> int:
        """Add one; the key expires `expiry` seconds after its first increment."""
        return await self._run(lambda s: s.incr(key, expiry))

    async def get(self, key: str) -> int:
        return await self._run(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        """When the key expires (epoch seconds); now when it does not exist."""
        return await self._run(lambda s: s.get_expiry(key))

    async def clear(self, key: str) -> None:
        await self._run(lambda s: s.clear(key))

    def reset_local(self) -> None:
        """Forget every in-process counter (tests; the shared storage is untouched)."""
        self.local = LocalStorage()

    async def close(self) -> None:
        bridge = getattr(self.shared, "bridge", None)
        client = getattr(bridge, "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()
