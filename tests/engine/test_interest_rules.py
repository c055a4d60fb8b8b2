"""A year's interest on one account (engine/interest.py, WH-11), worked by hand."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from counter_app.engine.interest import Movement, RatePeriod, RatesError, rates_from_mapping, year_interest
from counter_app.policies import load_interest_rules

D = Decimal
RULES = load_interest_rules()
MOVES = [
    Movement(dt.date(2025, 7, 1), D("100.00"), "credit"),
    Movement(dt.date(2025, 10, 1), D("-150.00"), "settle"),
]


def test_WH_11_the_shipped_rates_are_the_benchmark_demand_and_three_month_rates():
    rate = RULES.rate_on(dt.date(2025, 6, 1))
    assert (rate.demand, rate.time_3m, RULES.day_count, RULES.debit_order) == (
        D("0.0035"),
        D("0.0110"),
        360,
        "current_first",
    )


def test_WH_11_hand_worked_year():
    """2025 has 365 days. 1000.00 brought forward; +100.00 credited 1 Jul; 150.00 paid 1 Oct,
    drawn on the current year's 100.00 first, then 50.00 of the carried pot.

    Carried pot, at the 3-month rate 1.10 %:  1000.00 x 273 days (1 Jan - 30 Sep)
                                             + 950.00 x  92 days (1 Oct - 31 Dec) = 360,400 yuan-days
                                             x 0.0110 / 360 = 11.012222...
    Current pot, at the demand rate 0.35 %:   100.00 x  92 days (1 Jul - 30 Sep)  =   9,200 yuan-days
                                             x 0.0035 / 360 =  0.089444...
    Interest 11.101666... -> 11.10 (half up, once)."""
    result = year_interest(RULES, 2025, D("1000.00"), MOVES)
    assert (result.carried_days_balance, result.current_days_balance) == (D("360400.00"), D("9200.00"))
    assert result.interest == D("11.10")


def test_WH_11_carried_first_order_is_the_other_reading():
    """Paying from the carried pot first: 1000.00 x 273 + 850.00 x 92 = 351,200 x 0.011 / 360 = 10.731111;
    current 100.00 x 184 = 18,400 x 0.0035 / 360 = 0.178888; 10.909999... -> 10.91."""
    rules = dataclasses.replace(RULES, debit_order="carried_first")
    assert year_interest(rules, 2025, D("1000.00"), MOVES).interest == D("10.91")


def test_WH_17_a_rate_change_mid_year_splits_the_days():
    """3-month rate 2.20 % from 1 Jul: carried 1000.00 x 181 days x 0.011/360 = 5.530555
    + 1000.00 x 92 x 0.022/360 = 5.622222 + 950.00 x 92 x 0.022/360 = 5.341111; current as above 0.089444;
    16.583333 -> 16.58."""
    rules = dataclasses.replace(
        RULES, periods=(*RULES.periods, RatePeriod(dt.date(2025, 7, 1), D("0.0035"), D("0.0220")))
    )
    assert year_interest(rules, 2025, D("1000.00"), MOVES).interest == D("16.58")


def test_an_empty_account_earns_nothing_and_an_overdraw_is_an_error():
    assert year_interest(RULES, 2025, D("0.00"), []).interest == D("0.00")
    with pytest.raises(ValueError, match="more than the account held"):
        year_interest(RULES, 2025, D("10.00"), [Movement(dt.date(2025, 3, 1), D("-10.01"), "settle")])
    with pytest.raises(ValueError, match="outside 2025"):
        year_interest(RULES, 2025, D("10.00"), [Movement(dt.date(2026, 1, 1), D("1.00"), "credit")])


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("day_count", 364, "day_count: expected 360 or 365"),
        ("debit_order", "random", "debit_order: expected one of"),
        ("period", [], "period: expected at least one"),
        (
            "period",
            [{"effective_from": dt.date(2015, 1, 1), "demand": 0.0035, "time_3m": "0.011"}],
            r"period\[0\]\.demand: rates are written as strings",
        ),
        (
            "period",
            [{"effective_from": dt.date(2015, 1, 1), "demand": "0.35", "time_3m": "0.011"}],
            r"period\[0\]\.demand: 0.35 is not an annual rate",
        ),
    ],
)
def test_a_malformed_rates_file_is_refused_naming_the_key(key, value, message):
    data = {
        "rule": "WH-11",
        "day_count": 360,
        "debit_order": "current_first",
        "period": [{"effective_from": dt.date(2015, 10, 24), "demand": "0.0035", "time_3m": "0.0110"}],
    }
    with pytest.raises(RatesError, match=message):
        rates_from_mapping(data | {key: value})
