"""Hostile input is refused with a reason (ClaimError, exit 2), never a crash: limits by name,
money in ASCII digits only, nesting and numbers the decoder cannot take, and fuzzed claims."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter_app.claims import settle_text
from counter_app.engine import ClaimError
from counter_app.engine.claim import MAX_CLAIM_CHARS, MAX_ITEMS, MAX_TEXT

from .builders import claim, item
from .hostile import cases

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def identities_hold(s: dict) -> None:
    m = {k: D(v) for k, v in s.items() if isinstance(v, str) and k not in ("policy", "policy_version")}
    assert m["medfee_sumamt"] == m["fund_pay_sumamt"] + m["acct_pay"] + m["psn_cash_pay"]
    assert m["psn_part_amt"] == m["acct_pay"] + m["psn_cash_pay"]
    assert m["acct_mulaid_pay"] == sum((D(x["paid"]) for x in s["mulaid"]), D("0.00")) <= m["acct_pay"]
    assert all(v >= 0 for v in m.values())


def outcome(text: str) -> str:
    """'settled' (identities checked) or 'rejected' (a ClaimError with short, named lines)."""
    try:
        identities_hold(settle_text(text))
        return "settled"
    except ClaimError as exc:
        assert exc.problems and all(0 < len(line) <= 400 for line in exc.problems), exc.problems[:3]
        return "rejected"


def refused(text: str) -> list[str]:
    with pytest.raises(ClaimError) as err:
        settle_text(text)
    return err.value.problems


def test_money_in_full_width_or_arabic_indic_digits_is_refused():
    for amount in ("１２３.４５", "١٢٣.٤٥", "१२३"):
        [line] = refused(json.dumps(claim(items=[item(amount=amount)])))
        assert line.startswith("items[0].amount: not a decimal")
    [line] = refused(json.dumps(claim(visit_date="２０２４-０５-１０")))
    assert line.startswith("visit_date: not a date YYYY-MM-DD")


def test_limits_are_named():
    assert refused(" " * (MAX_CLAIM_CHARS + 1)) == [
        f"claim: {MAX_CLAIM_CHARS + 1} characters, more than MAX_CLAIM_CHARS = {MAX_CLAIM_CHARS}"
    ]
    assert (
        f"more than MAX_ITEMS = {MAX_ITEMS}"
        in refused(json.dumps(claim(items=[item()] * (MAX_ITEMS + 1))))[0]
    )
    assert (
        f"longer than {MAX_TEXT} characters (MAX_TEXT)"
        in refused(json.dumps(claim(items=[item("X" * 201)])))[0]
    )
    assert "MAX_DEPTH" in refused("[" * 200_000 + "]" * 200_000)[0]
    assert (
        "unacceptable JSON number"
        in refused(json.dumps(claim()).replace('"year": 2024', '"year": ' + "1" * 5000))[0]
    )
    assert "unacceptable JSON number" in refused(json.dumps(claim()).replace('"level": 3', '"level": NaN'))[0]
    assert "control characters" in refused(json.dumps(claim(items=[item("A\x00B")])))[0]


def test_decision_11_a_pooling_only_worker_with_a_balance_holds_an_account():
    """A balance sent for a pooling-only worker is the account kept from the combined mode (WH-10,
    decision 11): switching it off while it has money draws no family account (HF-5), as for
    anyone; a pooling-only worker with balance 0 has no account, and family aid goes ahead."""
    family = [
        {
            "psn_no": "F1",
            "relation": "spouse",
            "insutype": "310",
            "status": "normal",
            "account_balance": "500.00",
        }
    ]
    kept = settle_text(
        json.dumps(
            claim(
                person={"psn_type": "flexible_pooling_only", "account_balance": "50.00"},
                use_own_account=False,
                family=family,
            )
        )
    )
    assert (kept["acct_pay"], kept["acct_mulaid_pay"], kept["balc"]) == ("0.00", "0.00", "50.00")
    assert any("switched off" in t["note"] for t in kept["trace"])
    none = settle_text(
        json.dumps(
            claim(
                person={"psn_type": "flexible_pooling_only", "account_balance": "0.00"},
                use_own_account=False,
                family=family,
            )
        )
    )
    assert none["acct_mulaid_pay"] == none["acct_pay"] != "0.00"
    assert any(t["rule"] == "WH-5" for t in none["trace"])


@pytest.mark.slow
def test_fuzzed_claims_settle_or_are_refused_never_crash():
    counts = {"settled": 0, "rejected": 0}
    for text in cases(1500, seed=7):
        counts[outcome(text)] += 1
    assert counts["settled"] > 50 and counts["rejected"] > 500, counts  # both kinds really occur


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)
CLAIM_KEYS = st.sampled_from(
    [
        "policy",
        "visit_date",
        "med_type",
        "institution",
        "person",
        "family",
        "items",
        "location",
        "prescribing_level",
        "use_own_account",
        "use_family_account",
    ]
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_arbitrary_json_is_a_claim_error(value):
    assert outcome(json.dumps(value)) == "rejected"


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CLAIM_KEYS, JSON)
def test_a_valid_claim_with_any_field_replaced_settles_or_is_refused(key, value):
    data = claim(
        family=[
            {
                "psn_no": "F1",
                "relation": "child",
                "insutype": "310",
                "status": "normal",
                "account_balance": "40.00",
            }
        ]
    )
    data[key] = value
    outcome(json.dumps(data))


def test_the_command_line_answers_hostile_input_with_exit_2_and_no_traceback():
    for text in (
        "[" * 100_000,
        json.dumps(claim()).replace('"year": 2024', '"year": ' + "9" * 5000),
        json.dumps(claim(items=[item(amount="１２３.４５")])),
        "\udcff".encode("utf-8", "surrogatepass"),
    ):
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "counter_app", "settle", "-"],
            input=data,
            capture_output=True,
            cwd=ROOT,
            timeout=300,
        )
        err = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2 and done.stdout == b"" and "Traceback" not in err and err.strip(), err[
            :300
        ]
