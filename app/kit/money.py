"""IDR ↔ USD for the /v2 projection. Decimal only, never floats.

The rule: an IDR amount shown in USD is `idr / rate` rounded half-to-even to 4 decimals
(prices, order amounts, refunds, costs) or 2 (balances). USD limits a client sends become
IDR so that they never let through more than asked: `max_price` is floored, `min_price`
ceiled. `rate` is IDR per USD.
"""

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

PRICE_PLACES = 4
BALANCE_PLACES = 2
_USD = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,8})?$")


def to_usd(idr: int, rate: Decimal, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return format((Decimal(idr) / rate).quantize(quantum, rounding=ROUND_HALF_EVEN), "f")


def money(idr: int, rate: Decimal, places: int = PRICE_PLACES) -> dict[str, Any]:
    return {
        "amount": to_usd(idr, rate, places),
        "currency": "USD",
        "canonical_amount": idr,
        "canonical_currency": "IDR",
    }


def parse_usd(value: str) -> Decimal:
    """A non-negative USD amount written as a plain decimal string ("0.50", "12")."""
    if not isinstance(value, str) or not _USD.match(value.strip()):
        raise ValueError('must be a USD amount as a decimal string, e.g. "0.50"')
    return Decimal(value.strip())


def usd_to_idr_floor(usd: Decimal, rate: Decimal) -> int:
    return int((usd * rate).to_integral_value(rounding=ROUND_FLOOR))


def usd_to_idr_ceil(usd: Decimal, rate: Decimal) -> int:
    return int((usd * rate).to_integral_value(rounding=ROUND_CEILING))
