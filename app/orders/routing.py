"""Ranking the offers of a catalog product for a routed order: a pure function.

The service walks the ranked list and fails over to the next candidate only when an
upstream rejects the purchase or is unavailable.
"""

from dataclasses import dataclass
from enum import StrEnum


class Policy(StrEnum):
    CHEAPEST = "cheapest"
    BEST_SUCCESS = "best_success"


@dataclass(frozen=True, slots=True)
class Candidate:
    product_id: int
    provider_code: str
    price: int
    operator_id: int | None
    available: int
    # Recent outcomes of this tier: orders that got an SMS, out of orders that ended.
    successes: int = 0
    attempts: int = 0

    @property
    def success_rate(self) -> float:
        """Laplace-smoothed, so a tier with no history sits at 0.5, not at 0 or 1."""
        return (self.successes + 1) / (self.attempts + 2)


@dataclass(frozen=True, slots=True)
class RouteRequest:
    policy: Policy = Policy.CHEAPEST
    max_price: int | None = None
    min_price: int | None = None
    operator_id: int | None = None
    prefer_provider: str | None = None


def rank(candidates: list[Candidate], request: RouteRequest) -> list[Candidate]:
    eligible = [
        c
        for c in candidates
        if c.available > 0
        and (request.max_price is None or c.price <= request.max_price)
        and (request.min_price is None or c.price >= request.min_price)
        and (request.operator_id is None or c.operator_id == request.operator_id)
    ]
    if request.policy is Policy.BEST_SUCCESS:
        eligible.sort(key=lambda c: (-c.success_rate, c.price, c.product_id))
    else:
        eligible.sort(key=lambda c: (c.price, -c.success_rate, c.product_id))
    if request.prefer_provider:
        preferred = request.prefer_provider.lower()
        # Soft: the preferred provider's offers first, everyone else still behind them.
        eligible.sort(key=lambda c: c.provider_code.lower() != preferred)
    return eligible
