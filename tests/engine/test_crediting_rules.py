"""Monthly crediting of one account (engine/crediting.py), a test per rule id: WH-5, WH-6 (1),
WH-6 (2), WH-7 (1)..(4), WH-21, and the pack's crediting periods (WH-17, WH-36)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from counter_app.engine.crediting import (
    CONTRIBUTION,
    POOLING_FUND,
    Credit,
    Member,
    NoCredit,
    monthly_credit,
    parse_period,
)
from counter_app.engine.policy import PackError
from counter_app.policies import load_pack

D = Decimal
WUHU = load_pack("wuhu-2022")
OCT = dt.date(2026, 10, 1)


def member(**changes) -> Member:
    base = dict(
        insutype="310",
        psn_type="in_service",
        status="normal",
        contribution_base=D("6543.21"),
        retired_on=None,
        died_on=None,
        account_opened_on=dt.date(2010, 1, 1),
        account_closed_on=None,
    )
    return Member(**(base | changes))


def test_WH_6_1_in_service_gets_two_percent_of_the_own_base_rounded_half_up():
    credit = monthly_credit(WUHU, member(), OCT)
    assert credit == Credit(D("130.86"), CONTRIBUTION, "WH-6 (1)", credit.note)  # 6543.21 x 0.02 = 130.8642
    assert monthly_credit(WUHU, member(contribution_base=D("4000.25")), OCT).amount == D("80.01")  # 80.005 up


def test_WH_6_1_combined_mode_flexible_worker_is_credited_like_in_service():
    assert monthly_credit(WUHU, member(psn_type="flexible_combined"), OCT).amount == D("130.86")


def test_WH_6_2_retiree_gets_a_flat_70_from_the_pooling_fund():
    credit = monthly_credit(WUHU, member(psn_type="retired", retired_on=dt.date(2015, 3, 31)), OCT)
    assert (credit.amount, credit.source) == (D("70.00"), POOLING_FUND)
    assert "WH-6 (2)" in credit.rule and "WH-21" in credit.rule


def test_WH_21_retirement_month_is_in_service_retiree_crediting_from_the_month_after():
    retiring = member(psn_type="retired", retired_on=dt.date(2026, 9, 15))
    assert monthly_credit(WUHU, retiring, dt.date(2026, 8, 1)).amount == D("130.86")
    assert monthly_credit(WUHU, retiring, dt.date(2026, 9, 30)).amount == D("130.86")  # the month itself
    october = monthly_credit(WUHU, retiring, OCT)
    assert (october.amount, october.source) == (D("70.00"), POOLING_FUND)


def test_WH_5_pooling_only_and_non_employees_get_nothing():
    assert monthly_credit(WUHU, member(psn_type="flexible_pooling_only"), OCT).rule == "WH-7 (2)"
    assert monthly_credit(WUHU, member(insutype="390"), OCT).rule == "WH-5"


def test_WH_7_1_arrears_stops_an_in_service_persons_crediting_but_not_a_retirees():
    assert monthly_credit(WUHU, member(status="arrears"), OCT) == NoCredit(
        "WH-7 (1)", "contributions not paid as required (arrears)"
    )
    retired = member(psn_type="retired", retired_on=dt.date(2015, 1, 1), status="arrears")
    assert monthly_credit(WUHU, retired, OCT).amount == D("70.00")


def test_WH_7_3_death_month_is_credited_then_crediting_stops():
    dead = member(died_on=dt.date(2026, 9, 3))
    assert monthly_credit(WUHU, dead, dt.date(2026, 9, 1)).amount == D("130.86")
    assert monthly_credit(WUHU, dead, OCT).rule == "WH-7 (3)"
    dead_retiree = member(psn_type="retired", retired_on=dt.date(2010, 1, 1), died_on=dt.date(2026, 9, 30))
    assert monthly_credit(WUHU, dead_retiree, OCT).rule == "WH-7 (3)"


def test_WH_7_4_suspended_stops_every_crediting():
    assert monthly_credit(WUHU, member(status="suspended"), OCT).rule == "WH-7 (4)"
    assert monthly_credit(WUHU, member(psn_type="retired", status="suspended"), OCT).rule == "WH-7 (4)"


def test_WH_6_1_no_base_on_file_is_said_not_guessed():
    outcome = monthly_credit(WUHU, member(contribution_base=None), OCT)
    assert isinstance(outcome, NoCredit) and "no contribution base" in outcome.reason


def test_account_opened_after_or_closed_before_the_month_gets_nothing():
    assert monthly_credit(WUHU, member(account_opened_on=dt.date(2026, 11, 1)), OCT).rule == "WH-5"
    assert monthly_credit(WUHU, member(account_opened_on=dt.date(2026, 10, 31)), OCT).amount == D("130.86")
    assert monthly_credit(WUHU, member(account_closed_on=dt.date(2026, 9, 30)), OCT).rule == "WH-10"
    # closed and paid out on the 1st: the month is not credited to an account that no longer holds money
    assert monthly_credit(WUHU, member(account_closed_on=dt.date(2026, 10, 1)), OCT).rule == "WH-10"
    assert monthly_credit(WUHU, member(account_closed_on=dt.date(2026, 10, 2)), OCT).amount == D("130.86")


def test_WH_36_WH_17_no_crediting_rules_before_the_pack_period_and_none_in_hefei():
    with pytest.raises(PackError, match="no account crediting rules for 2022-06"):
        monthly_credit(WUHU, member(), dt.date(2022, 6, 1))
    assert monthly_credit(WUHU, member(), dt.date(2022, 7, 1)).amount == D("130.86")
    with pytest.raises(PackError, match="hefei-2019"):  # the Hefei seed gives no crediting numbers
        monthly_credit(load_pack("hefei-2019"), member(), OCT)


def test_crediting_numbers_are_data_with_rule_ids():
    period = WUHU.crediting_for(OCT)
    assert (period.employee_rate.value, period.employee_rate.rule) == (D("0.02"), "WH-6 (1)")
    assert (period.retiree_monthly.value, period.retiree_monthly.rule) == (D("70.00"), "WH-6 (2)")


def test_a_malformed_crediting_period_is_refused_naming_the_key():
    import tomllib

    from counter_app.engine.policy import pack_from_mapping
    from counter_app.policies import policy_dir

    data = tomllib.loads((policy_dir() / "wuhu-2022.toml").read_text(encoding="utf-8"))
    data["account_crediting"][0]["retiree_monthly"]["value"] = "70.001"
    with pytest.raises(
        PackError, match=r"account_crediting\[0\]\.retiree_monthly\.value: money has at most two"
    ):
        pack_from_mapping("wuhu-2022", data)


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026/01", "", "2026-01-01"])
def test_a_bad_month_is_named(text):
    with pytest.raises(ValueError, match="month must be YYYY-MM"):
        parse_period(text)
