"""Decision 9 at the counter (HF-3, HF-5): a Hefei relative draws only what the provider's account
carried into the year. The mother's 500.00 opening is carried; May's credit of 300.00 is this
year's and stays hers. Her own spending takes this year's money first, so it leaves the carried
pot whole until this year's is gone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from counter_app.services import settlement as svc
from counter_app.store.models import Account, FamilyBinding, LedgerEntry

from .world import AT, TODAY, build, hefei_counter


def test_HF_3_decision_9_a_hefei_child_draws_only_the_mothers_carried_pot(db_url):
    w = build(db_url)
    with w.db.transaction() as s:
        account = s.get(Account, w.mother)
        account.balance += D("300.00")
        s.add(
            LedgerEntry(
                account_id=w.mother,
                amount=D("300.00"),
                balance_after=account.balance,
                kind="credit",
                note="2024-05 划入",
                period="2024-05",
                created_at=dt.datetime(2024, 5, 1),
            )
        )
        s.add(
            FamilyBinding(
                provider_id=w.mother,
                beneficiary_id=w.child,
                relation="child",
                bound_at=dt.datetime(2023, 1, 1),
                commitment_signed_at=dt.datetime(2023, 1, 1),
                commitment_sha256="0" * 64,
                clerk="t",
                policy="hefei-2019",
            )
        )
    from counter_app.store.audit import adopt

    with w.db.transaction() as s:
        adopt(s, at=AT, staff_no="t", counter="t", action="test", obj="credit")
    hefei = hefei_counter(w)
    bill = svc.ClaimRequest(w.child, (svc.ClaimLine("A001", D(8)),), TODAY)
    preview = svc.preview(w.db, hefei, bill)
    [mother] = [p for p in preview.claim.family if p.psn_no == "P0002"]
    assert (mother.account_balance, mother.carried) == (D("800.00"), D("500.00"))
    done = svc.settle(w.db, hefei, bill, None, now=AT)
    assert [(m.psn_no, m.paid) for m in done.result.mulaid] == [("P0002", D("500.00"))]
    assert any(rule == "HF-3" and "carried-over balance 500.00" in note for rule, note in done.result.trace)
    again = svc.preview(w.db, hefei, bill)  # the carried pot is spent: this year's 300.00 stays hers
    assert [m.paid for m in again.result.mulaid] == []
    with w.db.sessions() as s:
        assert s.get(Account, w.mother).balance == D("300.00")
