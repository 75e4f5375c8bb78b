"""The USD/IDR rate a /v2 response is computed with: read once per request, so every value
in one response uses the same rate, and its receipt goes into `meta.fx`."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends

from app.catalog import service as catalog_service
from app.deps import OrdersDep
from app.errors import FxRateUnavailable, NotFound
from app.kit import money
from app.kit.clock import rfc3339


@dataclass(frozen=True, slots=True)
class Fx:
    rate: Decimal  # IDR per USD
    as_of: datetime

    def receipt(self) -> dict[str, Any]:
        whole = self.rate == self.rate.to_integral_value()
        rate: int | str = int(self.rate) if whole else format(self.rate.normalize(), "f")
        return {"pair": "USD/IDR", "rate": rate, "rate_as_of": rfc3339(self.as_of)}

    def meta(self, **extra: Any) -> dict[str, Any]:
        return {**extra, "fx": self.receipt()}

    def price(self, idr: int) -> dict[str, Any]:
        return money.money(idr, self.rate, money.PRICE_PLACES)

    def balance(self, idr: int) -> dict[str, Any]:
        return money.money(idr, self.rate, money.BALANCE_PLACES)


async def _fx(ctx: OrdersDep) -> Fx:
    """503 FX_RATE_UNAVAILABLE when no USD/IDR rate is stored, before any work is done."""
    async with ctx.autocommit.connect() as conn:
        try:
            rate = await catalog_service.exchange_rate(conn, "USD/IDR")
        except NotFound:
            raise FxRateUnavailable() from None
    return Fx(rate.rate, rate.as_of)


FxDep = Annotated[Fx, Depends(_fx)]
