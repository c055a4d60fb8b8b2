"""Properties over random claims: the contract's identities and the fairness promises to patients."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter_app.claims import settle_data
from counter_app.engine.money import ZERO

from .builders import claim

MOSTLY_TRUE = st.sampled_from([True, True, True, False])
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cents_text(low: int = 0, high: int = 300_000) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda c: f"{c // 100}.{c % 100:02d}")


@st.composite
def items(draw):
    cls = draw(st.sampled_from("AABBC"))
    data = {
        "code": f"I{draw(st.integers(0, 999))}",
        "name": "药品",
        "class": cls,
        "amount": draw(cents_text(0, 200_000)),
        "account_payable": draw(MOSTLY_TRUE),
    }
    if cls == "B":
        data["prepay_ratio"] = draw(st.sampled_from(["0", "0.05", "0.1", "0.15", "0.2", "0.333", "1"]))
    return data


@st.composite
def providers(draw, index):
    return {
        "psn_no": f"F{index}",
        "relation": draw(st.sampled_from(["father", "mother", "spouse", "child"])),
        "insutype": draw(st.sampled_from(["310", "310", "310", "390"])),
        "status": draw(st.sampled_from(["normal", "normal", "normal", "suspended"])),
        "account_balance": draw(cents_text(0, 100_000)),
    }


@st.composite
def claims(draw):
    med_type = draw(st.sampled_from(["11", "11", "11", "13", "14", "21", "41", "51"]))
    kind = draw(
        st.sampled_from(
            ["hospital", "primary_care", "clinic", "internet"] if med_type != "41" else ["pharmacy"]
        )
    )
    family = [draw(providers(i)) for i in range(draw(st.integers(0, 3)))]
    retired = draw(st.booleans())
    data = claim(
        policy=draw(st.sampled_from(["wuhu-2022", "wuhu-2022", "hefei-2019"])),
        med_type=med_type,
        visit_date=draw(st.sampled_from(["2023-01-01", "2024-05-10", "2024-12-31"])),
        location=draw(st.sampled_from(["local", "local", "referral", "relocated", "offsite"])),
        prescribing_level=draw(st.sampled_from([None, 1, 2, 3])) if med_type == "41" else None,
        institution={"level": draw(st.integers(0, 3)), "kind": kind, "designated": draw(MOSTLY_TRUE)},
        person={
            "insutype": draw(st.sampled_from(["310", "310", "390", "510"])),
            "psn_type": "retired"
            if retired
            else draw(st.sampled_from(["in_service", "flexible_combined", "flexible_pooling_only"])),
            "retired_on": draw(st.sampled_from([None, "2020-03-15", "2024-04-20"])) if retired else None,
            "status": draw(st.sampled_from(["normal", "normal", "arrears"])),
            "hospitalized": not draw(MOSTLY_TRUE),
            "account_balance": draw(cents_text(0, 100_000)),
        },
        ytd={
            "year": draw(st.sampled_from([2023, 2024])),
            "deductible_paid": draw(cents_text(0, 90_000)),
            "outpatient_pool_paid": draw(cents_text(0, 210_000)),
        },
        family=family,
        use_own_account=draw(MOSTLY_TRUE),
        use_family_account=draw(MOSTLY_TRUE),
        items=draw(st.lists(items(), min_size=1, max_size=8)),
    )
    return data


def D(text: str) -> Decimal:
    return Decimal(text)


@PROFILE
@given(claims())
def test_identities_hold_and_nothing_is_negative(data):
    s = settle_data(data).to_json()
    m = {k: D(v) for k, v in s.items() if isinstance(v, str) and k not in ("policy", "policy_version")}
    assert (
        m["medfee_sumamt"]
        == m["fulamt_ownpay_amt"] + m["overlmt_selfpay"] + m["preselfpay_amt"] + m["inscp_scp_amt"]
    )
    assert m["medfee_sumamt"] == m["fund_pay_sumamt"] + m["acct_pay"] + m["psn_cash_pay"]
    assert m["psn_part_amt"] == m["acct_pay"] + m["psn_cash_pay"]
    assert m["acct_mulaid_pay"] == sum((D(x["paid"]) for x in s["mulaid"]), ZERO) <= m["acct_pay"]
    assert all(v >= 0 for v in m.values())
    assert all(D(x["paid"]) > 0 and D(x["balc"]) >= 0 for x in s["mulaid"])
    assert all(v == v.quantize(Decimal("0.01")) for v in m.values() if v is not m["pool_prop_selfpay"])


@PROFILE
@given(claims())
def test_no_account_overdraws(data):
    s = settle_data(data).to_json()
    own_paid = D(s["acct_pay"]) - D(s["acct_mulaid_pay"])
    assert own_paid <= D(data["person"]["account_balance"])
    assert D(s["balc"]) == D(data["person"]["account_balance"]) - own_paid
    balances = {p["psn_no"]: D(p["account_balance"]) for p in data["family"]}
    for draw in s["mulaid"]:
        assert D(draw["paid"]) <= balances[draw["psn_no"]]
        assert D(draw["balc"]) == balances[draw["psn_no"]] - D(draw["paid"])
    ytd = data["person"]["ytd"]  # decision 6: totals of another year than the visit's start again at zero
    earlier = D(ytd["outpatient_pool_paid"]) if ytd["year"] == int(data["visit_date"][:4]) else D("0")
    assert D(s["hifp_pay"]) + earlier <= D("2000.00") or s["hifp_pay"] == "0.00"


@pytest.mark.slow
@PROFILE
@given(claims(), st.integers(1, 100_000), st.integers(0, 3))
def test_more_balance_never_means_more_cash(data, extra_cents, who):
    """With the own account in use, adding money to any account never raises the cash to collect."""
    data["use_own_account"] = True
    before = D(settle_data(data).to_json()["psn_cash_pay"])
    richer = copy.deepcopy(data)
    holder = richer["person"] if who >= len(richer["family"]) else richer["family"][who]
    holder["account_balance"] = str(D(holder["account_balance"]) + Decimal(extra_cents) / 100)
    assert D(settle_data(richer).to_json()["psn_cash_pay"]) <= before


@pytest.mark.slow
@PROFILE
@given(claims(), st.integers(1, 7))
def test_splitting_a_claim_never_lowers_the_deductible_met(data, cut):
    """WH-15: two visits carrying the year forward meet at least the deductible one visit would."""
    if len(data["items"]) < 2:
        data["items"].append(dict(data["items"][0], code="SPLIT"))
    cut = min(cut, len(data["items"]) - 1)
    whole = settle_data(data).to_json()
    first = copy.deepcopy(data)
    first["items"] = data["items"][:cut]
    a = settle_data(first).to_json()
    second = copy.deepcopy(data)
    second["items"] = data["items"][cut:]
    second["person"]["ytd"] = {k: a["ytd"][k] for k in ("year", "deductible_paid", "outpatient_pool_paid")}
    b = settle_data(second).to_json()
    assert D(a["act_pay_dedc"]) + D(b["act_pay_dedc"]) >= D(whole["act_pay_dedc"])
    assert b["ytd"]["deductible_paid"] == whole["ytd"]["deductible_paid"]


@pytest.mark.slow
@PROFILE
@given(claims())
def test_the_same_claim_always_gives_the_same_settlement(data):
    assert settle_data(copy.deepcopy(data)).to_json() == settle_data(data).to_json()
