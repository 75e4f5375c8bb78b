"""rank(): the offers of a catalog product, filtered and ordered by the routing policy."""

import pytest

from app.orders.routing import Candidate, Policy, RouteRequest, rank

CHEAPEST, BEST = Policy.CHEAPEST, Policy.BEST_SUCCESS


def c(
    product_id: int,
    provider: str,
    price: int,
    *,
    operator_id: int | None = None,
    available: int = 100,
    successes: int = 0,
    attempts: int = 0,
) -> Candidate:
    return Candidate(product_id, provider, price, operator_id, available, successes, attempts)


# A catalog product sold by three providers, several tiers each.
GOOD = c(1, "sandbox", 5_000, operator_id=10, successes=9, attempts=10)  # 10/12 = 0.833
FRESH = c(2, "smscode", 4_000, operator_id=11)  # no history: 1/2 = 0.5
BAD = c(3, "otpget", 3_000, operator_id=10, successes=1, attempts=10)  # 2/12 = 0.167
MID = c(4, "smscode", 5_000, operator_id=None, successes=6, attempts=10)  # 7/12 = 0.583
PRICEY = c(5, "sandbox", 9_000, operator_id=11, successes=20, attempts=20)  # 21/22 = 0.955
GONE = c(6, "otpget", 1_000, operator_id=10, available=0, successes=10, attempts=10)
ALL = [GOOD, FRESH, BAD, MID, PRICEY, GONE]


def ids(candidates: list[Candidate]) -> list[int]:
    return [x.product_id for x in candidates]


CASES = [
    # --- cheapest (the default) ----------------------------------------------------------
    ("cheapest-default", ALL, RouteRequest(), [3, 2, 1, 4, 5]),
    # Same price: the better success rate first, then the lower product id.
    ("cheapest-tie-success", [MID, GOOD], RouteRequest(), [1, 4]),
    (
        "cheapest-tie-product-id",
        [c(9, "a", 100), c(7, "b", 100), c(8, "c", 100)],
        RouteRequest(),
        [7, 8, 9],
    ),
    (
        "cheapest-tie-success-before-id",
        [c(1, "a", 100, successes=0, attempts=5), c(2, "b", 100, successes=5, attempts=5)],
        RouteRequest(policy=CHEAPEST),
        [2, 1],
    ),
    # --- best_success: Laplace-smoothed rate ---------------------------------------------
    ("best-success", ALL, RouteRequest(policy=BEST), [5, 1, 4, 2, 3]),
    # No history (0.5) sits between a good (0.833) and a bad (0.167) tier.
    ("no-history-between", [BAD, FRESH, GOOD], RouteRequest(policy=BEST), [1, 2, 3]),
    # 0/0 is not 0: an untried tier beats one that failed once (1/3).
    (
        "untried-beats-one-failure",
        [c(1, "a", 100, successes=0, attempts=1), c(2, "b", 100)],
        RouteRequest(policy=BEST),
        [2, 1],
    ),
    # 0/0 is not 1: one success in one try (2/3) beats an untried tier.
    (
        "one-success-beats-untried",
        [c(1, "a", 900), c(2, "b", 100, successes=1, attempts=1)],
        RouteRequest(policy=BEST),
        [2, 1],
    ),
    # Smoothing: 1/1 (0.667) ranks below 90/100 (0.892), unlike the raw rates.
    (
        "smoothing-favours-evidence",
        [c(1, "a", 100, successes=1, attempts=1), c(2, "b", 100, successes=90, attempts=100)],
        RouteRequest(policy=BEST),
        [2, 1],
    ),
    # Equal rates: the cheaper first, then the lower product id.
    (
        "best-success-tie-price",
        [c(1, "a", 200, successes=3, attempts=4), c(2, "b", 100, successes=3, attempts=4)],
        RouteRequest(policy=BEST),
        [2, 1],
    ),
    (
        "best-success-tie-id",
        [c(5, "a", 100, successes=1, attempts=2), c(4, "b", 100, successes=2, attempts=4)],
        RouteRequest(policy=BEST),
        [4, 5],
    ),
    # --- price filters, inclusive ---------------------------------------------------------
    ("max-price", ALL, RouteRequest(max_price=4_999), [3, 2]),
    ("max-price-inclusive", ALL, RouteRequest(max_price=5_000), [3, 2, 1, 4]),
    ("min-price", ALL, RouteRequest(min_price=5_001), [5]),
    ("min-price-inclusive", ALL, RouteRequest(min_price=5_000), [1, 4, 5]),
    ("price-band", ALL, RouteRequest(min_price=4_000, max_price=5_000), [2, 1, 4]),
    ("price-band-exact", ALL, RouteRequest(min_price=5_000, max_price=5_000), [1, 4]),
    ("price-band-empty", ALL, RouteRequest(min_price=6_000, max_price=8_000), []),
    ("max-below-everything", ALL, RouteRequest(max_price=999), []),
    # A sold-out tier is excluded even when the filter would keep it.
    ("sold-out-cheapest-excluded", ALL, RouteRequest(max_price=1_000), []),
    # --- operator filter --------------------------------------------------------------------
    ("operator", ALL, RouteRequest(operator_id=10), [3, 1]),
    ("operator-best", ALL, RouteRequest(operator_id=11, policy=BEST), [5, 2]),
    ("operator-unknown", ALL, RouteRequest(operator_id=99), []),
    # --- availability ---------------------------------------------------------------------
    ("available-zero", [GONE], RouteRequest(), []),
    ("available-negative", [c(1, "a", 100, available=-1)], RouteRequest(), []),
    ("available-one", [c(1, "a", 100, available=1)], RouteRequest(), [1]),
    # --- prefer_provider: first, but the others stay as fallbacks -----------------------
    ("prefer", ALL, RouteRequest(prefer_provider="sandbox"), [1, 5, 3, 2, 4]),
    ("prefer-case-insensitive", ALL, RouteRequest(prefer_provider="SMSCode"), [2, 4, 3, 1, 5]),
    (
        "prefer-keeps-policy-order",
        ALL,
        RouteRequest(prefer_provider="smscode", policy=BEST),
        [4, 2, 5, 1, 3],
    ),
    (
        "prefer-upper-provider-code",
        [c(1, "a", 100), c(2, "SandBox", 200)],
        RouteRequest(prefer_provider="sandbox"),
        [2, 1],
    ),
    (
        "prefer-respects-filters",
        ALL,
        RouteRequest(prefer_provider="sandbox", max_price=5_000),
        [1, 3, 2, 4],
    ),
    ("prefer-sold-out-provider", [GONE, FRESH], RouteRequest(prefer_provider="otpget"), [2]),
    ("prefer-unknown", ALL, RouteRequest(prefer_provider="nosuch"), [3, 2, 1, 4, 5]),
    (
        "prefer-unknown-best",
        ALL,
        RouteRequest(prefer_provider="nosuch", policy=BEST),
        [5, 1, 4, 2, 3],
    ),
    ("prefer-empty-string", ALL, RouteRequest(prefer_provider=""), [3, 2, 1, 4, 5]),
    # --- nothing to rank ----------------------------------------------------------------------
    ("empty", [], RouteRequest(), []),
    ("empty-best", [], RouteRequest(policy=BEST, prefer_provider="sandbox"), []),
]


@pytest.mark.parametrize(
    ("candidates", "request_", "expected"), [x[1:] for x in CASES], ids=[x[0] for x in CASES]
)
def test_rank(candidates: list[Candidate], request_: RouteRequest, expected: list[int]) -> None:
    assert ids(rank(candidates, request_)) == expected


def test_success_rate_is_laplace_smoothed() -> None:
    assert c(1, "a", 1).success_rate == 0.5
    assert c(1, "a", 1, successes=9, attempts=10).success_rate == 10 / 12
    assert c(1, "a", 1, successes=0, attempts=10).success_rate == 1 / 12
    assert c(1, "a", 1, successes=10, attempts=10).success_rate == 11 / 12


def test_input_list_is_not_reordered() -> None:
    candidates = [PRICEY, GOOD, BAD]
    ranked = rank(candidates, RouteRequest(prefer_provider="otpget"))
    assert ids(ranked) == [3, 1, 5]
    assert ids(candidates) == [5, 1, 3]
    assert ranked is not candidates


def test_policy_parses_from_the_api_values() -> None:
    assert Policy("cheapest") is Policy.CHEAPEST
    assert Policy("best_success") is Policy.BEST_SUCCESS
    assert RouteRequest().policy is Policy.CHEAPEST
