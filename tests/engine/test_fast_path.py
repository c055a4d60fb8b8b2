"""The fast path (engine/fast.py) against the careful checker (engine/claim.py): on random and
mutated claims both give the same settlement or both refuse, and the fast path never accepts what
the careful path refuses. Every case is also checked for which path took it, so a fast path that
silently handed everything to the careful one would fail here too."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from counter_app.claims import decode, settle_data, settle_text
from counter_app.engine import ClaimError
from counter_app.engine.claim import parse_claim
from counter_app.engine.fast import fast_claim
from counter_app.policies import pack_ids

from .builders import claim, item, provider
from .hostile import cases, mutate, seeds


def careful(text: str) -> tuple[str, object]:
    """What the field-by-field path says: ("claim", Claim) or ("refused", problems)."""
    try:
        return "claim", parse_claim(decode(text), pack_ids())
    except ClaimError as exc:
        return "refused", exc.problems


def agree(text: str) -> str:
    """Check the two paths on one text; return which took it ("fast" or "careful")."""
    fast = fast_claim(text, pack_ids())
    verdict, slow = careful(text)
    if fast is None:
        return "careful"
    assert verdict == "claim", (text[:300], slow)  # the fast path accepted what the careful one refuses
    assert fast == slow, text[:300]
    try:
        expected = settle_data(json.loads(text)).to_json()
    except ClaimError:
        expected = None
    try:
        got = settle_text(text)
    except ClaimError:
        got = None
    assert got == expected, text[:300]
    return "fast"


def test_well_formed_claims_take_the_fast_path_and_settle_the_same():
    for data in seeds():
        assert agree(json.dumps(data, ensure_ascii=False)) == "fast"


@pytest.mark.slow
def test_two_thousand_hostile_cases_agree():
    taken = {"fast": 0, "careful": 0}
    for text in cases(2000, seed=16):
        taken[agree(text)] += 1
    assert taken["fast"] > 50 and taken["careful"] > 1000, taken  # both paths were exercised


def test_things_the_careful_path_refuses_are_never_fast():
    base = claim(items=[item("B1", "80.00", "B", prepay_ratio="0.2")], family=[provider()])
    for change in (
        lambda d: d["person"].update(ytd=None),  # absent is fine, null is not
        lambda d: d["items"][0].update(amount="12.50\n"),
        lambda d: d["items"][0].update(amount="１２.５０"),
        lambda d: d["items"].append(item("A2", "1.00", "A", prepay_ratio=None)),
        lambda d: d["items"].append(item("A3", "1.00", "A", prepay_ratio="0.1")),
        lambda d: d["items"][0].pop("prepay_ratio"),
        lambda d: d["person"].update(psn_no="  "),
        lambda d: d["family"][0].update(psn_no="P0001"),  # the patient as their own provider
        lambda d: d.update(visit_date="2024-02-30"),
        lambda d: d.update(policy="wuhu-2099"),
        lambda d: d.update(items=[]),
    ):
        data = json.loads(json.dumps(base))
        change(data)
        text = json.dumps(data, ensure_ascii=False)
        assert fast_claim(text, pack_ids()) is None, text
        assert careful(text)[0] == "refused", text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, 2))
def test_random_mutations_agree(seed, which):
    agree(json.dumps(mutate(seeds()[which], random.Random(seed)), ensure_ascii=False))


@settings(max_examples=500, deadline=None)
@given(
    value=st.decimals(
        allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=None
    )
)
def test_fmt_prints_exactly_what_rounding_to_cents_prints(value):
    """fmt skips the rounding when a value already has two decimals; the answer must not change."""
    from decimal import ROUND_HALF_UP, Decimal

    from counter_app.engine.money import fmt

    assert fmt(value) == str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
