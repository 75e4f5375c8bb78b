"""IDR ↔ USD conversions of the /v2 projection: rounding both ways, huge amounts, parsing."""

from decimal import Decimal

import pytest

from app.kit.money import money, parse_usd, to_usd, usd_to_idr_ceil, usd_to_idr_floor

RATE = Decimal(16250)


@pytest.mark.parametrize(
    ("idr", "rate", "places", "usd"),
    [
        (3400, RATE, 4, "0.2092"),  # 0.209230…: down
        (3500, RATE, 4, "0.2154"),  # 0.215384…: up
        (16250, RATE, 4, "1.0000"),
        (0, RATE, 4, "0.0000"),
        (1, RATE, 4, "0.0001"),  # 0.0000615…
        (1, Decimal(20000), 4, "0.0000"),  # exactly 0.00005: half to even (0)
        (3, Decimal(20000), 4, "0.0002"),  # exactly 0.00015: half to even (2)
        (5, Decimal(20000), 4, "0.0002"),  # exactly 0.00025: half to even (2)
        (1_000_000, RATE, 2, "61.54"),  # 61.538…
        (1_000_000, Decimal("16250.5"), 2, "61.54"),
        (10**15, RATE, 2, "61538461538.46"),  # no float anywhere: exact to the cent
        (10**15, RATE, 4, "61538461538.4615"),
        (12_345, Decimal(1), 2, "12345.00"),
    ],
)
def test_idr_to_usd(idr: int, rate: Decimal, places: int, usd: str) -> None:
    assert to_usd(idr, rate, places) == usd


def test_money_object() -> None:
    assert money(3400, RATE) == {
        "amount": "0.2092",
        "currency": "USD",
        "canonical_amount": 3400,
        "canonical_currency": "IDR",
    }
    assert money(1_000_000, RATE, 2)["amount"] == "61.54"


@pytest.mark.parametrize(
    ("usd", "floor", "ceil"),
    [
        ("0.50", 8125, 8125),  # exact: both directions agree
        ("0.2092", 3399, 3400),  # 3399.5
        ("0.123456", 2006, 2007),  # 2006.16
        ("0", 0, 0),
        ("12", 195_000, 195_000),
        ("999999999999.99999999", 16_249_999_999_999_999, 16_250_000_000_000_000),
    ],
)
def test_usd_limits_never_let_more_through(usd: str, floor: int, ceil: int) -> None:
    value = parse_usd(usd)
    assert usd_to_idr_floor(value, RATE) == floor  # max_price: at most what was asked
    assert usd_to_idr_ceil(value, RATE) == ceil  # min_price: at least what was asked


def test_limits_with_a_fractional_rate() -> None:
    rate = Decimal("16250.5")
    assert usd_to_idr_floor(Decimal("1"), rate) == 16250
    assert usd_to_idr_ceil(Decimal("1"), rate) == 16251


@pytest.mark.parametrize(
    "bad", ["", " ", "abc", "-1", "+1", "1e3", "1.", ".5", "1,50", "1.123456789", "0x10",
            "NaN", "Infinity", "1 000", "１２"],
)  # fmt: skip
def test_malformed_usd_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_usd(bad)


@pytest.mark.parametrize(("text", "value"), [("12", "12"), ("0.5", "0.5"), (" 0.50 ", "0.50")])
def test_well_formed_usd(text: str, value: str) -> None:
    assert parse_usd(text) == Decimal(value)
