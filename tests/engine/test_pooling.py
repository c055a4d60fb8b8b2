"""Outpatient pooling, WH-14..24: one test or more per rule, each a worked example."""

from __future__ import annotations

import pytest

from counter_app.engine import ClaimError

from .builders import item, money, settle

MET = {"deductible_paid": "800.00"}  # deductible already met this year


def fund(**kwargs) -> str:
    return money(settle(**kwargs))["hifp_pay"]


def test_WH_15_deductible_800_then_WH_18_level3_ratio():
    """1200 at a level-3 hospital, nothing met yet: 800 deductible, (1200-800) x 50% = 200."""
    s = money(settle(items=[item(amount="1200.00")], person={"account_balance": "300.00"}))
    assert (s["act_pay_dedc"], s["hifp_pay"], s["pool_prop_selfpay"]) == ("800.00", "200.00", "0.50")
    assert s["ytd"] == {"year": 2024, "deductible_paid": "800.00", "outpatient_pool_paid": "200.00"}
    assert s["pooling"]["applies"] is True and s["pooling"]["reason"].startswith("WH-14")


def test_WH_15_deductible_partly_met_counts_only_the_rest():
    s = money(settle(items=[item(amount="500.00")], ytd={"deductible_paid": "600.00"}))
    assert s["act_pay_dedc"] == "200.00"  # 800 - 600
    assert s["hifp_pay"] == "150.00"  # (500 - 200) x 0.50


def test_WH_15_below_deductible_fund_pays_nothing():
    s = money(settle(items=[item(amount="300.00")]))
    assert (s["act_pay_dedc"], s["hifp_pay"], s["ytd"]["deductible_paid"]) == ("300.00", "0.00", "300.00")


@pytest.mark.parametrize(
    "kind,level,expected",
    [
        ("primary_care", 0, "60.00"),  # level 0 shares the first tier
        ("primary_care", 1, "60.00"),
        ("hospital", 2, "55.00"),
        ("hospital", 3, "50.00"),
    ],
)
def test_WH_15_in_service_ratio_by_level(kind, level, expected):
    assert fund(items=[item()], ytd=MET, institution={"kind": kind, "level": level}) == expected


@pytest.mark.parametrize("level,expected", [(1, "65.00"), (2, "60.00"), (3, "55.00")])
def test_WH_15_retirees_five_points_higher(level, expected):
    person = {"psn_type": "retired", "retired_on": "2020-05-01"}
    assert fund(items=[item()], ytd=MET, person=person, institution={"level": level}) == expected


@pytest.mark.parametrize(
    "visit,ratio",
    [
        ("2024-04-30", "0.50"),  # month of retirement: still in-service ratio
        ("2024-05-01", "0.55"),  # from the 1st of the next month: retiree ratio
    ],
)
def test_WH_21_retiree_ratio_from_the_month_after_retirement(visit, ratio):
    person = {"psn_type": "retired", "retired_on": "2024-04-15"}
    s = money(settle(items=[item()], ytd=MET, person=person, visit_date=visit))
    assert s["pool_prop_selfpay"] == ratio


def test_WH_21_retirement_in_december_counts_from_january():
    person = {"psn_type": "retired", "retired_on": "2023-12-20"}
    s = money(settle(items=[item()], ytd={**MET, "year": 2024}, person=person, visit_date="2024-01-02"))
    assert s["pool_prop_selfpay"] == "0.55"


def test_WH_21_deductible_keeps_counting_across_retirement():
    """Met 500 while in service; after retiring only 300 more is owed, at the retiree ratio."""
    person = {"psn_type": "retired", "retired_on": "2024-02-10"}
    s = money(settle(items=[item(amount="1300.00")], ytd={"deductible_paid": "500.00"}, person=person))
    assert s["act_pay_dedc"] == "300.00"
    assert s["hifp_pay"] == "550.00"  # (1300 - 300) x 0.55


def test_WH_21_pooling_benefit_is_not_shared_with_family():
    """A resident relative drawing on an employee's account gets no outpatient pooling."""
    s = money(
        settle(
            items=[item()],
            person={"insutype": "390"},
            family=[
                {
                    "psn_no": "F1",
                    "relation": "father",
                    "insutype": "310",
                    "status": "normal",
                    "account_balance": "500.00",
                }
            ],
        )
    )
    assert s["hifp_pay"] == "0.00" and s["pooling"]["reason"].startswith("WH-2")
    assert s["acct_mulaid_pay"] == "100.00"


@pytest.mark.parametrize(
    "psn_type,retired_on,expected", [("in_service", None, "50.00"), ("retired", "2020-01-01", "55.00")]
)
def test_WH_15_referral_out_of_area_flat_ratio(psn_type, retired_on, expected):
    person = {"psn_type": psn_type, "retired_on": retired_on}
    # level 1 would give 60/65 locally; referral is 50/55 whatever the level
    assert (
        fund(
            items=[item()],
            ytd=MET,
            person=person,
            location="referral",
            institution={"kind": "primary_care", "level": 1},
        )
        == expected
    )


def test_WH_15_relocated_uses_local_ratios():
    assert fund(items=[item()], ytd=MET, location="relocated", institution={"level": 2}) == "55.00"


def test_WH_15_offsite_without_referral_is_not_pooled():
    s = money(settle(items=[item()], ytd=MET, location="offsite"))
    assert s["hifp_pay"] == "0.00" and s["pooling"]["applies"] is False
    assert s["pooling"]["reason"].startswith("WH-15 (2)")


def test_WH_16_annual_cap_limits_the_fund():
    s = money(settle(items=[item(amount="1000.00")], ytd={**MET, "outpatient_pool_paid": "1950.00"}))
    assert s["hifp_pay"] == "50.00"  # formula 500, but only 50 left under 2000
    assert s["ytd"]["outpatient_pool_paid"] == "2000.00"
    assert any(t["rule"] == "WH-16" for t in s["trace"])


def test_WH_16_cap_reached_fund_pays_nothing():
    s = money(settle(items=[item(amount="1000.00")], ytd={**MET, "outpatient_pool_paid": "2000.00"}))
    assert (s["hifp_pay"], s["psn_part_amt"]) == ("0.00", "1000.00")


def test_WH_16_cap_and_deductible_reset_in_a_new_year():
    """Decision 6: ytd from 2023 counts as zero for a 2024 visit; nothing carries over."""
    s = money(
        settle(
            items=[item(amount="1200.00")],
            ytd={"year": 2023, "deductible_paid": "800.00", "outpatient_pool_paid": "2000.00"},
        )
    )
    assert (s["act_pay_dedc"], s["hifp_pay"]) == ("800.00", "200.00")
    assert s["ytd"] == {"year": 2024, "deductible_paid": "800.00", "outpatient_pool_paid": "200.00"}


def test_WH_18_formula_leaves_out_prepay_and_class_c():
    s = money(
        settle(ytd=MET, items=[item("B1", "1000.00", "B", prepay_ratio="0.10"), item("C1", "50.00", "C")])
    )
    assert s["preselfpay_amt"] == "100.00" and s["fulamt_ownpay_amt"] == "50.00"
    assert s["inscp_scp_amt"] == "900.00"
    assert s["hifp_pay"] == "450.00"  # (900 - 0) x 0.50
    assert s["psn_part_amt"] == "600.00"  # 1050 - 450


def test_WH_18_fund_rounds_half_up_to_the_cent():
    # 0.05 x 0.50 = 0.025: half-up gives 0.03 (banker's rounding would give 0.02)
    assert fund(items=[item(amount="0.05")], ytd=MET) == "0.03"


def test_WH_3_prepay_rounded_per_item():
    """Decision 2: two B items of 0.05 at 50 % pre-pay are 0.03 each, 0.06 in all (not 0.05)."""
    s = money(
        settle(
            ytd=MET,
            items=[item("B1", "0.05", "B", prepay_ratio="0.5"), item("B2", "0.05", "B", prepay_ratio="0.5")],
        )
    )
    assert s["preselfpay_amt"] == "0.06" and s["inscp_scp_amt"] == "0.04"


def test_WH_19_pooling_counts_toward_the_year():
    s = money(settle(items=[item(amount="100.00")], ytd={**MET, "outpatient_pool_paid": "300.00"}))
    assert s["ytd"]["outpatient_pool_paid"] == "350.00"


def test_WH_14_village_clinic_is_below_the_floor():
    s = money(settle(items=[item()], ytd=MET, institution={"kind": "clinic", "level": 0}))
    assert s["hifp_pay"] == "0.00" and s["pooling"]["reason"].startswith("WH-14")


def test_WH_14_needs_a_designated_institution():
    s = money(settle(items=[item()], ytd=MET, institution={"designated": False}))
    assert s["hifp_pay"] == "0.00" and "designated" in s["pooling"]["reason"]


def test_WH_29_emergency_is_pooled_outside_designated_institutions():
    s = money(settle(items=[item()], ytd=MET, med_type="13", institution={"designated": False}))
    assert s["hifp_pay"] == "50.00"


@pytest.mark.parametrize("prescribing,expected", [(2, "55.00"), (3, "50.00")])
def test_WH_23_outside_prescription_uses_the_prescribing_level(prescribing, expected):
    assert (
        fund(
            items=[item()],
            ytd=MET,
            med_type="41",
            prescribing_level=prescribing,
            institution={"kind": "pharmacy", "level": 0},
        )
        == expected
    )


@pytest.mark.parametrize("prescribing", [None, 0, 1])
def test_WH_14_pharmacy_needs_a_level2_prescription(prescribing):
    s = money(
        settle(
            items=[item()],
            ytd=MET,
            med_type="41",
            prescribing_level=prescribing,
            institution={"kind": "pharmacy", "level": 0},
        )
    )
    assert s["hifp_pay"] == "0.00" and s["pooling"]["reason"].startswith("WH-14")


@pytest.mark.parametrize("location", ["referral", "relocated"])
def test_WH_14_decision_10_a_pharmacy_purchase_outside_the_city_is_not_pooled(location):
    """WH-14 covers outside prescriptions at designated pharmacies 在我市; referral and relocation
    (WH-15 (2), WH-29) concern medical institutions. The account may still pay (WH-8)."""
    s = money(
        settle(
            items=[item()],
            ytd=MET,
            med_type="41",
            prescribing_level=3,
            location=location,
            institution={"kind": "pharmacy", "level": 0},
            person={"account_balance": "30.00"},
        )
    )
    assert s["hifp_pay"] == "0.00" and s["pooling"]["applies"] is False
    assert s["pooling"]["reason"].startswith("WH-14") and "decision 10" in s["pooling"]["reason"]
    assert s["acct_pay"] == "30.00"


def test_WH_14_pharmacy_general_outpatient_is_not_pooled():
    s = money(settle(items=[item()], ytd=MET, institution={"kind": "pharmacy", "level": 0}))
    assert s["pooling"]["applies"] is False


def test_WH_24_internet_hospital_uses_the_physical_level():
    s = money(settle(items=[item()], ytd=MET, institution={"kind": "internet", "level": 2}))
    assert s["hifp_pay"] == "55.00" and "WH-24" in s["pooling"]["reason"]


@pytest.mark.parametrize("status", ["arrears", "suspended"])
def test_WH_22_1_not_paying_contributions(status):
    s = money(settle(items=[item()], ytd=MET, person={"status": status}))
    assert s["hifp_pay"] == "0.00" and s["pooling"]["reason"].startswith("WH-22 (1)")
    assert s["ytd"]["deductible_paid"] == "800.00"  # nothing counted


def test_WH_22_2_hospitalized():
    s = money(settle(items=[item()], ytd=MET, person={"hospitalized": True}))
    assert s["pooling"]["reason"].startswith("WH-22 (2)") and s["hifp_pay"] == "0.00"


@pytest.mark.parametrize("med_type", ["14", "51", "52"])
def test_WH_22_3_special_disease_and_maternity_are_not_pooled(med_type):
    s = money(settle(items=[item()], ytd=MET, med_type=med_type))
    assert s["pooling"]["reason"].startswith("WH-22 (3)") and s["hifp_pay"] == "0.00"


def test_inpatient_pays_no_fund_without_an_inpatient_section():
    s = money(settle(items=[item()], ytd=MET, med_type="21"))
    assert s["hifp_pay"] == "0.00" and "no inpatient section" in s["pooling"]["reason"]


def test_WH_2_residents_get_no_outpatient_pooling():
    s = money(settle(items=[item()], ytd=MET, person={"insutype": "390"}))
    assert s["pooling"]["reason"].startswith("WH-2:")


def test_WH_5_pooling_only_flexible_worker_is_pooled_but_has_no_account():
    s = money(settle(items=[item()], ytd=MET, person={"psn_type": "flexible_pooling_only"}))
    assert s["hifp_pay"] == "50.00"
    assert (s["acct_pay"], s["psn_cash_pay"]) == ("0.00", "50.00")
    assert any(t["rule"] == "WH-5" for t in s["trace"])


def test_WH_10_decision_11_a_worker_moved_to_pooling_only_spends_the_balance_kept():
    """WH-7 (2) stops the credits; the money stays the person's (WH-10, decision 11)."""
    s = money(
        settle(
            items=[item()], ytd=MET, person={"psn_type": "flexible_pooling_only", "account_balance": "30.00"}
        )
    )
    assert s["hifp_pay"] == "50.00"
    assert (s["acct_pay"], s["balc"], s["psn_cash_pay"]) == ("30.00", "0.00", "20.00")


def test_hefei_pack_has_no_outpatient_pooling():
    s = money(settle(policy="hefei-2019", items=[item(amount="1200.00")]))
    assert s["hifp_pay"] == "0.00" and s["pool_prop_selfpay"] == "0.00"
    assert s["pooling"] == {
        "applies": False,
        "reason": "hefei-2019: the policy has no outpatient pooling section, so no fund payment",
    }


def test_WH_36_visit_before_the_plan_is_refused():
    with pytest.raises(ClaimError) as err:
        settle(items=[item()], visit_date="2022-06-30", ytd={"year": 2022})
    assert err.value.problems[0].startswith("visit_date: 2022-06-30 is before policy wuhu-2022")
