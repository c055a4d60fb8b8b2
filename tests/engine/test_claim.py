"""Bad input: every problem is named by its field, and all are reported in one pass."""

from __future__ import annotations

import pytest

from counter_app.claims import decode, settle_data
from counter_app.engine import ClaimError

from .builders import claim, item, provider


def problems(data) -> list[str]:
    with pytest.raises(ClaimError) as err:
        settle_data(data)
    return err.value.problems


@pytest.mark.parametrize(
    "amount,message",
    [
        (12.5, 'items[0].amount: money must be a JSON string like "12.50", got the number 12.5'),
        ("12.505", 'items[0].amount: more than two decimals: "12.505"'),
        ("-3.00", 'items[0].amount: negative amount: "-3.00"'),
        ("12,5", 'items[0].amount: not a decimal: "12,5"'),
        ("abc", 'items[0].amount: not a decimal: "abc"'),
        ("1e3", 'items[0].amount: not a decimal: "1e3"'),
        ("NaN", 'items[0].amount: not a decimal: "NaN"'),
        (None, 'items[0].amount: money must be a JSON string like "12.50", got NoneType'),
    ],
)
def test_bad_money_names_the_field(amount, message):
    assert problems(claim(items=[item(amount=amount)])) == [message]


def test_money_as_json_number_is_refused_even_when_whole():
    data = decode('{"a": 12}')
    assert problems(claim(person={"account_balance": data["a"]})) == [
        'person.account_balance: money must be a JSON string like "12.50", got the number 12'
    ]


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "x"])
def test_prepay_ratio_outside_0_1_is_refused(ratio):
    [line] = problems(claim(items=[item("B1", "10.00", "B", prepay_ratio=ratio)]))
    assert line.startswith("items[0].prepay_ratio: ")


def test_class_b_needs_a_prepay_ratio():
    assert problems(claim(items=[item("B1", "10.00", "B")])) == ["items[0].prepay_ratio: missing"]


def test_prepay_ratio_on_class_a_is_refused_unless_zero():
    assert problems(claim(items=[item("A1", prepay_ratio="0.1")])) == [
        "items[0].prepay_ratio: only class B items have a pre-pay ratio (this item is class A)"
    ]
    settle_data(claim(items=[item("A1", prepay_ratio="0")]))


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("med_type", "99", "med_type: unknown code '99' (known: 11, 13, 14, 21, 41, 51, 52)"),
        ("visit_date", "2024-13-01", "visit_date: not a calendar date: '2024-13-01'"),
        ("visit_date", "10/05/2024", "visit_date: not a date YYYY-MM-DD: '10/05/2024'"),
        ("location", "moon", "location: unknown code 'moon' (known: local, referral, relocated, offsite)"),
        ("policy", "shanghai-2020", "policy: unknown code 'shanghai-2020' (known: hefei-2019, wuhu-2022)"),
        ("use_own_account", "yes", "use_own_account: expected true or false, got a string"),
        ("items", [], "items: a claim needs at least one item"),
        (
            "prescribing_level",
            2,
            "prescribing_level: only a pharmacy purchase (med_type 41) has a prescribing level",
        ),
    ],
)
def test_bad_top_level_fields(field, value, message):
    assert problems(claim(**{field: value})) == [message]


def test_missing_and_unknown_fields_are_named():
    data = claim()
    del data["person"]["insutype"]
    data["items"][0]["colour"] = "red"
    data["surprise"] = 1
    assert problems(data) == [
        "surprise: unknown field",
        "person.insutype: missing",
        "items[0].colour: unknown field",
    ]


def test_every_problem_reported_in_one_pass():
    data = claim(med_type="99", institution={"level": 7}, items=[item(amount="x"), item(cls="D")])
    assert problems(data) == [
        "institution.level: unknown level 7 (known: 0, 1, 2, 3)",
        'items[0].amount: not a decimal: "x"',
        "items[1].class: unknown code 'D' (known: A, B, C)",
        "med_type: unknown code '99' (known: 11, 13, 14, 21, 41, 51, 52)",
    ]


def test_family_duplicates_and_the_patient_as_own_provider_are_refused():
    data = claim(family=[provider("P0001"), provider("S1"), provider("S1", "father")])
    assert problems(data) == [
        "family[0].psn_no: 'P0001' is the patient",
        "family[2].psn_no: 'S1' is an earlier provider",
    ]


def test_not_json_and_not_an_object():
    with pytest.raises(ClaimError) as err:
        decode("{not json")
    assert err.value.problems[0].startswith("claim: not valid JSON: ")
    assert problems([1, 2]) == ["claim: expected a JSON object, got a list"]
    assert problems(claim(person="P0001")) == ["person: expected a JSON object, got a string"]


def test_claim_to_json_reads_back_to_the_same_claim():
    from counter_app.engine import claim_to_json, parse_claim

    from .builders import provider

    data = claim(
        items=[item("B1", "10.05", "B", prepay_ratio="0.15"), item("C1", "3.00", "C")],
        family=[provider()],
        person={"retired_on": "2020-01-31", "psn_type": "retired"},
    )
    first = parse_claim(data)
    assert parse_claim(claim_to_json(first)) == first
