"""PricingRule: cost → price by markup, a fixed fee, rounding up to a step, never below cost."""

from decimal import Decimal

import pytest

from app.catalog.pricing import PricingRule

EXACT = {"round_to": 1}  # no rounding, to see the arithmetic alone


class TestMarkup:
    def test_default_rule_is_20_percent_rounded_up_to_100(self):
        rule = PricingRule()
        assert rule.price(2_500) == 3_000
        assert rule.price(2_550) == 3_100  # 3,060 rounded up

    @pytest.mark.parametrize(
        ("markup", "cost", "price"),
        [("0", 1_000, 1_000), ("20", 1_000, 1_200), ("100", 750, 1_500), ("12.5", 999, 1_124)],
    )
    def test_markup_percent(self, markup, cost, price):
        assert PricingRule(markup_percent=Decimal(markup), **EXACT).price(cost) == price

    def test_fractional_result_rounds_up_not_half_even(self):
        # 1,001 * 1.1 = 1,101.1 → 1,102: we never sell a fraction of an IDR short.
        assert PricingRule(markup_percent=Decimal("10"), **EXACT).price(1_001) == 1_102


class TestFixedFee:
    def test_fee_added_after_markup(self):
        rule = PricingRule(markup_percent=Decimal("10"), fixed_fee=150, **EXACT)
        assert rule.price(1_000) == 1_250

    def test_fee_alone(self):
        assert PricingRule(markup_percent=Decimal(0), fixed_fee=99, **EXACT).price(1) == 100


class TestRounding:
    @pytest.mark.parametrize(
        ("cost", "price"), [(1_000, 1_000), (1_001, 1_500), (1_499, 1_500), (1_500, 1_500)]
    )
    def test_rounds_up_to_the_step(self, cost, price):
        assert PricingRule(markup_percent=Decimal(0), round_to=500).price(cost) == price

    @pytest.mark.parametrize("step", [0, -100])
    def test_non_positive_step_means_whole_idr(self, step):
        rule = PricingRule(markup_percent=Decimal("10"), round_to=step)
        assert rule.price(1_001) == 1_102

    def test_result_is_an_int(self):
        assert type(PricingRule().price(1_234)) is int


class TestBounds:
    def test_never_below_cost(self):
        discount = PricingRule(markup_percent=Decimal("-50"), round_to=1)
        assert discount.price(1_000) == 1_000

    def test_never_below_cost_even_when_negative_fee(self):
        assert PricingRule(markup_percent=Decimal(0), fixed_fee=-500, **EXACT).price(300) == 300

    def test_zero_cost(self):
        assert PricingRule().price(0) == 0
        assert PricingRule(fixed_fee=150).price(0) == 200

    def test_negative_cost_raises(self):
        with pytest.raises(ValueError, match="cost"):
            PricingRule().price(-1)

    def test_large_cost_stays_exact(self):
        cost = 10**15 + 1
        assert PricingRule(markup_percent=Decimal(0), **EXACT).price(cost) == cost
