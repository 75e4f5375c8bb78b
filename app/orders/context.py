"""What the order services need at run time, built once per process by app.runtime."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.catalog.models import Provider as ProviderRow
from app.config import Settings
from app.orders.names import CatalogNames
from app.providers.base import Provider


@dataclass
class OrdersContext:
    engine: AsyncEngine
    providers: Mapping[str, Provider]
    settings: Settings
    names: CatalogNames = field(default_factory=CatalogNames)
    _codes_by_id: dict[int, str] = field(default_factory=dict)
    offers_cache: TTLCache[tuple[Any, ...], Any] = field(init=False)

    def __post_init__(self) -> None:
        ttl = self.settings.offer_cache_seconds
        self.offers_cache = TTLCache(maxsize=10_000, ttl=ttl if ttl > 0 else 1e-9)

    @cached_property
    def autocommit(self) -> AsyncEngine:
        """The same pool without BEGIN/COMMIT: for reads and single-statement writes (one
        statement is atomic on its own), saving two round trips each."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    def usable(self, code: str) -> bool:
        """False while the provider's breaker is open (or it paused us): routing skips it."""
        provider = self.providers.get(code)
        if provider is None:
            return False
        check = getattr(provider, "usable", None)
        return bool(check()) if check is not None else True

    @property
    def provider_codes(self) -> tuple[str, ...]:
        return tuple(self.providers)

    async def provider_by_id(self, provider_id: int) -> Provider | None:
        """The adapter of a providers-table id (None when it is not enabled here). The id →
        code map is cached; the database is read only for an id not seen yet."""
        code = self._codes_by_id.get(provider_id)
        if code is None:
            async with self.autocommit.connect() as conn:
                rows = await conn.execute(select(ProviderRow.id, ProviderRow.code))
            self._codes_by_id = {pid: c for pid, c in rows}
            code = self._codes_by_id.get(provider_id)
        return self.providers.get(code) if code else None
