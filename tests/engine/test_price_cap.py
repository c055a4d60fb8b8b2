"""The part of an item over the catalogue's price cap (超限价自付, 1318's hilist_pric_uplmt_amt):
wholly the patient's, outside the policy scope, never paid by a Hefei family account (decision 4)."""

from __future__ import annotations

import pytest

from counter_app.engine import ClaimError
from counter_app.engine.claim import claim_to_json, parse_claim

from .builders import claim, item, money, provider, settle

MET = {"deductible_paid": "800.00"}


def test_the_part_over_the_cap_is_self_pay_and_pre_pay_applies_to_the_rest():
    s = money(
        settle(
            items=[
                item("B1", "300.00", "B", prepay_ratio="0.10", overlmt_amt="100.00"),
                item("A1", "100.00"),
            ],
            ytd=MET,
        )
    )
    assert (s["medfee_sumamt"], s["overlmt_selfpay"], s["preselfpay_amt"]) == ("400.00", "100.00", "20.00")
    assert (s["inscp_scp_amt"], s["hifp_pay"]) == ("280.00", "140.00")  # level 3, in service: 50 %
    assert s["psn_part_amt"] == "260.00"


def test_HF_4_a_hefei_family_account_does_not_pay_the_over_limit_part():
    s = money(
        settle(
            policy="hefei-2019",
            items=[item("A1", "150.00", overlmt_amt="30.00")],
            family=[provider("M1", "mother", "1000.00")],
        )
    )
    assert s["overlmt_selfpay"] == "30.00"
    assert (s["acct_mulaid_pay"], s["psn_cash_pay"]) == ("120.00", "30.00")


def test_an_over_limit_part_travels_through_the_claim_json():
    doc = claim(items=[item("A1", "150.00", overlmt_amt="30.00")])
    assert claim_to_json(parse_claim(doc))["items"][0]["overlmt_amt"] == "30.00"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"cls": "C", "overlmt_amt": "10.00"}, "class C item is wholly self-pay"),
        ({"overlmt_amt": "150.01"}, "exceeds the item's amount"),
        ({"overlmt_amt": "-1.00"}, "overlmt_amt"),
    ],
)
def test_an_impossible_over_limit_part_is_refused_by_name(extra, message):
    cls = extra.pop("cls", "A")
    with pytest.raises(ClaimError, match=message):
        settle(items=[item("A1", "150.00", cls, **extra)])
