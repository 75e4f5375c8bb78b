"""Turning a provider's cost into our price: a markup, a fee, rounding up, never below cost."""

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal


@dataclass(frozen=True, slots=True)
class PricingRule:
    markup_percent: Decimal = Decimal("20")
    fixed_fee: int = 0  # IDR added per number
    round_to: int = 100  # IDR; prices are rounded up to a multiple of this

    def price(self, cost: int) -> int:
        if cost < 0:
            raise ValueError("cost must not be negative")
        raw = Decimal(cost) * (Decimal(100) + self.markup_percent) / Decimal(100) + self.fixed_fee
        step = Decimal(max(self.round_to, 1))
        rounded = int((raw / step).to_integral_value(rounding=ROUND_CEILING) * step)
        return max(rounded, cost)


def rule_for(
    markup_percent: Decimal | None,
    fixed_fee: int | None,
    round_to: int | None,
    default: PricingRule,
) -> PricingRule:
    """A provider's rule: its own values where set, the default elsewhere."""
    return PricingRule(
        markup_percent=default.markup_percent if markup_percent is None else markup_percent,
        fixed_fee=default.fixed_fee if fixed_fee is None else fixed_fee,
        round_to=default.round_to if round_to is None else round_to,
    )
