"""Own and family accounts, HF-1..5 and WH-5/8/9/26: who pays the personal part."""

from __future__ import annotations

import pytest

from counter_app.engine import ClaimError

from .builders import item, money, provider, settle

MET = {"deductible_paid": "800.00"}


def test_WH_26_own_account_pays_then_cash():
    s = money(settle(items=[item(amount="1200.00")], person={"account_balance": "300.00"}))
    assert (s["acct_pay"], s["psn_cash_pay"], s["balc"]) == ("300.00", "700.00", "0.00")


def test_HF_5_family_draws_only_what_the_own_account_cannot_pay():
    s = money(
        settle(
            items=[item(amount="100.00")],
            person={"account_balance": "60.00"},
            family=[provider("S1", "spouse", "500.00")],
        )
    )
    assert (s["acct_pay"], s["acct_mulaid_pay"], s["psn_cash_pay"]) == ("100.00", "40.00", "0.00")
    assert s["mulaid"] == [{"psn_no": "S1", "relation": "spouse", "paid": "40.00", "balc": "460.00"}]
    assert s["balc"] == "0.00"


def test_HF_5_family_untouched_when_the_own_account_suffices():
    s = money(
        settle(items=[item(amount="100.00")], person={"account_balance": "100.00"}, family=[provider()])
    )
    assert s["mulaid"] == [] and s["acct_mulaid_pay"] == "0.00"


def test_decision_3_providers_drawn_in_binding_order():
    s = money(
        settle(
            items=[item(amount="100.00")],
            family=[provider("M1", "mother", "30.00"), provider("F1", "father", "500.00")],
        )
    )
    assert [(m["psn_no"], m["paid"]) for m in s["mulaid"]] == [("M1", "30.00"), ("F1", "70.00")]


def test_HF_4_hefei_family_never_pays_class_c():
    s = money(
        settle(
            policy="hefei-2019",
            items=[item("A1", "150.00"), item("C1", "80.00", "C")],
            family=[provider("M1", "mother", "1000.00")],
        )
    )
    assert (s["acct_mulaid_pay"], s["psn_cash_pay"]) == ("150.00", "80.00")


def test_HF_4_own_account_pays_class_c_first_so_cash_is_least():
    """Own 80 pays the class-C part no family account may pay; the mother pays the A part."""
    s = money(
        settle(
            policy="hefei-2019",
            items=[item("A1", "150.00"), item("C1", "80.00", "C")],
            person={"account_balance": "80.00"},
            family=[provider("M1", "mother", "1000.00")],
        )
    )
    assert (s["acct_pay"], s["acct_mulaid_pay"], s["psn_cash_pay"]) == ("230.00", "150.00", "0.00")


def test_HF_4_prepay_and_deductible_are_in_hefei_family_scope():
    s = money(
        settle(
            policy="hefei-2019", items=[item("B1", "100.00", "B", prepay_ratio="0.20")], family=[provider()]
        )
    )
    assert s["acct_mulaid_pay"] == "100.00"


def test_WH_8_2_wuhu_family_pays_the_whole_personal_burden():
    s = money(settle(items=[item("C1", "80.00", "C")], family=[provider()]))
    assert (s["acct_mulaid_pay"], s["psn_cash_pay"]) == ("80.00", "0.00")


def test_WH_9_items_no_account_may_pay_are_cash():
    s = money(
        settle(
            items=[item("X1", "50.00", "C", account_payable=False), item("A1", "20.00")],
            person={"account_balance": "1000.00"},
            family=[provider()],
        )
    )
    assert (s["acct_pay"], s["psn_cash_pay"], s["mulaid"]) == ("20.00", "50.00", [])


def test_WH_9_pooled_item_no_account_may_pay_keeps_its_share_of_the_burden():
    """Scope 200, fund 100: the personal 100 is shared 50/50, so the blocked item leaves 50 cash."""
    s = money(
        settle(
            ytd=MET,
            items=[item("A1", "100.00"), item("A2", "100.00", account_payable=False)],
            person={"account_balance": "1000.00"},
        )
    )
    assert (s["hifp_pay"], s["acct_pay"], s["psn_cash_pay"]) == ("100.00", "50.00", "50.00")


def test_HF_1_2_provider_must_be_an_employee():
    s = money(settle(items=[item()], family=[provider("R1", "father", insutype="390"), provider("S1")]))
    assert [m["psn_no"] for m in s["mulaid"]] == ["S1"]
    assert any(t["rule"] == "WH-5" and "R1" in t["note"] for t in s["trace"])
    h = money(settle(policy="hefei-2019", items=[item()], family=[provider("R1", "father", insutype="510")]))
    assert h["mulaid"] == [] and any(t["rule"] == "HF-1.2" for t in h["trace"])


@pytest.mark.parametrize("status", ["suspended", "arrears"])
def test_HF_2_2_provider_not_normal_is_skipped(status):
    s = money(settle(items=[item()], family=[provider("F1", "father", status=status), provider("S1")]))
    assert [m["psn_no"] for m in s["mulaid"]] == ["S1"]


@pytest.mark.parametrize("status", ["suspended", "arrears"])
def test_HF_1_3_beneficiary_must_be_in_normal_status(status):
    s = money(
        settle(
            policy="hefei-2019",
            items=[item()],
            person={"insutype": "390", "status": status},
            family=[provider()],
        )
    )
    assert s["mulaid"] == [] and s["psn_cash_pay"] == "100.00"
    assert any(t["rule"] == "HF-1.3" for t in s["trace"])


@pytest.mark.parametrize("insutype", ["310", "390", "510"])
def test_HF_1_3_employee_resident_and_maternity_may_benefit(insutype):
    s = money(settle(policy="hefei-2019", items=[item()], person={"insutype": insutype}, family=[provider()]))
    assert s["acct_mulaid_pay"] == "100.00"


def test_HF_1_1_only_direct_relatives():
    with pytest.raises(ClaimError) as err:
        settle(items=[item()], family=[provider("U1", "uncle")])
    assert err.value.problems == [
        "family[0].relation: unknown code 'uncle' (known: father, mother, spouse, child, self)"
    ]


def test_decision_5_own_account_switched_off_while_it_has_money_draws_no_family():
    s = money(
        settle(
            items=[item()], use_own_account=False, person={"account_balance": "300.00"}, family=[provider()]
        )
    )
    assert (s["acct_pay"], s["psn_cash_pay"], s["balc"]) == ("0.00", "100.00", "300.00")


def test_decision_5_own_account_off_and_empty_family_still_drawn():
    s = money(settle(items=[item()], use_own_account=False, family=[provider()]))
    assert s["acct_mulaid_pay"] == "100.00"


def test_decision_5_family_switched_off():
    s = money(settle(items=[item()], use_family_account=False, family=[provider()]))
    assert s["mulaid"] == [] and s["psn_cash_pay"] == "100.00"


def test_WH_26_accounts_pay_only_at_designated_institutions():
    s = money(
        settle(
            items=[item()],
            institution={"designated": False},
            person={"account_balance": "500.00"},
            family=[provider()],
        )
    )
    assert (s["acct_pay"], s["psn_cash_pay"]) == ("0.00", "100.00")


def test_WH_29_emergency_accounts_pay_anywhere():
    s = money(
        settle(
            items=[item()],
            med_type="13",
            institution={"designated": False},
            person={"account_balance": "500.00"},
        )
    )
    assert s["acct_pay"] == "100.00"


def test_WH_5_pooling_only_worker_relies_on_family():
    s = money(settle(items=[item()], person={"psn_type": "flexible_pooling_only"}, family=[provider()]))
    assert s["acct_mulaid_pay"] == "100.00"


def test_account_never_goes_below_zero():
    s = money(
        settle(
            items=[item(amount="999.99")],
            med_type="14",
            person={"account_balance": "0.01"},
            family=[provider(balance="0.02")],
        )
    )
    assert (s["balc"], s["mulaid"][0]["balc"], s["psn_cash_pay"]) == ("0.00", "0.00", "999.96")


def test_trace_names_a_rule_for_every_payer():
    s = money(
        settle(
            items=[item(amount="1200.00")],
            person={"account_balance": "100.00"},
            family=[provider(balance="100.00")],
        )
    )
    rules = [t["rule"] for t in s["trace"]]
    assert rules == ["WH-15", "WH-18", "WH-26", "HF-5", "WH-26"]


@pytest.mark.parametrize("policy, rule", [("hefei-2019", "HF-2.2"), ("wuhu-2022", "WH-10")])
def test_a_provider_who_died_before_the_visit_pays_nothing_under_the_packs_ended_rule(policy, rule):
    dead = provider("F0001", "spouse", "500.00", died_on="2024-05-09")
    alive = provider("F0002", "father", "500.00")
    s = money(
        settle(policy=policy, person={"insutype": "390"}, family=[dead, alive], items=[item(amount="100.00")])
    )
    assert [m["psn_no"] for m in s["mulaid"]] == ["F0002"]
    assert {"rule": rule, "note": "F0001 (spouse) died on 2024-05-09: the account pays nobody, skipped"} in s[
        "trace"
    ]
    later = money(
        settle(
            policy=policy,
            person={"insutype": "390"},
            items=[item(amount="100.00")],
            family=[provider("F0001", "spouse", "500.00", died_on="2024-05-11")],
        )
    )
    assert [m["psn_no"] for m in later["mulaid"]] == ["F0001"]  # still alive on the visit date (2024-05-10)


def test_a_suspended_provider_is_skipped_under_the_provider_rule():
    s = money(
        settle(
            policy="hefei-2019",
            person={"insutype": "390"},
            items=[item(amount="100.00")],
            family=[provider("F0001", "spouse", "500.00", status="suspended")],
        )
    )
    assert s["mulaid"] == []
    assert {
        "rule": "HF-1.2",
        "note": "F0001 (spouse) enrolment status suspended, not drawable, skipped",
    } in s["trace"]


def test_HF_2_1_self_the_own_suspended_employee_account_pays_the_residents_own_costs():
    own = provider(
        "P0001", "self", "80.00", status="suspended"
    )  # the patient's own psn_no (builders' default)
    s = money(
        settle(policy="hefei-2019", person={"insutype": "390"}, family=[own], items=[item(amount="100.00")])
    )
    assert s["mulaid"] == [{"psn_no": "P0001", "relation": "self", "paid": "80.00", "balc": "0.00"}]
    assert {"rule": "HF-2.1", "note": "self P0001 pays 80.00, balance 80.00 -> 0.00"} in s["trace"]
    active = provider("P0001", "self", "80.00")  # the employee enrolment is not suspended: not this clause
    s = money(settle(policy="hefei-2019", person={"insutype": "390"}, family=[active], items=[item()]))
    assert s["mulaid"] == [] and any(
        t["rule"] == "HF-2.1" and "not suspended" in t["note"] for t in s["trace"]
    )
    s = money(settle(policy="wuhu-2022", person={"insutype": "390"}, family=[own], items=[item()]))
    assert s["mulaid"] == [] and any(
        t["rule"] == "WH-5" and "no self binding" in t["note"] for t in s["trace"]
    )
    with pytest.raises(ClaimError, match="'self' is the patient's own employee account"):
        settle(
            policy="hefei-2019", family=[provider("F9", "self", "80.00", status="suspended")], items=[item()]
        )


@pytest.mark.parametrize(
    ("person", "use_own", "why"),
    [
        ({"insutype": "510"}, True, "not as a resident (390)"),  # maternity: not the self case
        ({"insutype": "310", "account_balance": "30.00"}, True, "not as a resident (390)"),  # re-employed
        ({"insutype": "390", "status": "arrears"}, True, "not normal"),
        ({"insutype": "390"}, False, "switched their own money off"),
    ],
)
def test_HF_2_1_decision_8_the_self_case_is_only_what_the_clause_says(person, use_own, why):
    """The own suspended employee account pays the person's own costs as a normally enrolled
    resident (390), own money switched on; nothing else (decision 8)."""
    own = provider("P0001", "self", "80.00", status="suspended")
    s = money(
        settle(
            policy="hefei-2019",
            person=person,
            family=[own],
            items=[item(amount="100.00")],
            use_own_account=use_own,
        )
    )
    assert s["mulaid"] == [] and s["acct_mulaid_pay"] == "0.00"
    assert any(why in t["note"] for t in s["trace"]), s["trace"]  # HF-2.1's, or HF-1.3's for arrears
    if person["insutype"] == "310":  # the employee's own account pays as their own, class C too
        assert s["acct_pay"] == "30.00"


def test_HF_3_decision_9_hefei_relatives_draw_only_the_carried_over_pot():
    """A Hefei provider holding 500.00 of which 120.00 was carried into the year pays a child's
    bill only up to 120.00 (历年结余, HF-3's commitment); without `carried` the whole balance
    counts as carried (older claims settle as before); Wuhu's plan has no such limit (WH-8 (2))."""
    bill = [item(amount="300.00")]
    child = {"insutype": "390"}
    limited = money(
        settle(
            policy="hefei-2019",
            person=child,
            items=bill,
            family=[provider("F1", "mother", "500.00", carried="120.00")],
        )
    )
    assert limited["mulaid"] == [{"psn_no": "F1", "relation": "mother", "paid": "120.00", "balc": "380.00"}]
    assert any(t["rule"] == "HF-3" and "carried-over balance 120.00" in t["note"] for t in limited["trace"])
    whole = money(
        settle(policy="hefei-2019", person=child, items=bill, family=[provider("F1", "mother", "500.00")])
    )
    assert whole["mulaid"][0]["paid"] == "300.00"
    wuhu = money(
        settle(person=child, items=bill, family=[provider("F1", "mother", "500.00", carried="120.00")])
    )
    assert wuhu["acct_mulaid_pay"] == "300.00"


def test_decision_9_carried_cannot_be_more_than_the_account_holds():
    with pytest.raises(ClaimError, match=r"family\[0\]\.carried: 600\.00 is more than the account holds"):
        settle(policy="hefei-2019", family=[provider("F1", "mother", "500.00", carried="600.00")])
