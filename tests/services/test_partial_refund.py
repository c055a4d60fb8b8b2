"""Refunding some lines of a bill (issue 27), on both databases: the original cancelled, the kept
lines settled again, the accounts and year totals as if only the kept lines had been sold, both
slips telling it, and nothing written when it is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from counter_app.printing import output
from counter_app.services import settlement as svc
from counter_app.services.errors import RefundRefused
from counter_app.services.partial_refund import refund_lines
from counter_app.services.shift import shift_state
from counter_app.store.audit import verify
from counter_app.store.models import Account, Outbox, Settlement, YearTotal

from .world import AT, TODAY, build

D = Decimal
LINES = (svc.ClaimLine("A001"), svc.ClaimLine("B001", D("2")), svc.ClaimLine("C001"))


def books(w, person: int) -> tuple:
    with w.db.sessions() as s:
        balance = s.scalar(select(Account.balance).where(Account.person_id == person))
        ytd = s.execute(
            select(func.sum(YearTotal.deductible_paid), func.sum(YearTotal.outpatient_pool_paid)).where(
                YearTotal.person_id == person, YearTotal.year == TODAY.year
            )
        ).one()
    return balance, tuple(ytd)


def test_returning_a_line_moves_only_the_difference_and_both_slips_say_so(db_url, tmp_path):
    w = build(db_url)
    first = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.retiree, LINES, TODAY), None, now=AT)
    done = refund_lines(w.db, w.ctx, first.setl_no, w.approval(first.setl_no), "退一盒CT片", [1], now=AT)
    assert done.returned == ("B001",)
    kept_only = build(str(db_url).replace(".sqlite3", "-b.sqlite3")) if "sqlite" in db_url else None
    if kept_only is not None:  # the same world selling only the kept lines: the same books
        svc.settle(
            kept_only.db,
            kept_only.ctx,
            svc.ClaimRequest(w.retiree, (LINES[0], LINES[2]), TODAY),
            None,
            now=AT,
        )
        assert books(w, w.retiree) == books(kept_only, w.retiree)
    assert done.resettled.result.medfee_sumamt == D("180.00")
    assert done.cash_back == first.result.psn_cash_pay - done.resettled.result.psn_cash_pay
    with w.db.sessions() as s:
        kinds = s.scalars(select(Settlement.kind).order_by(Settlement.id)).all()
        infnos = s.scalars(select(Outbox.infno).order_by(Outbox.id)).all()
        assert verify(s) == []
    assert kinds == ["settle", "refund", "settle"]
    assert infnos[4] == "2208" and infnos[5:] == [
        "2201",
        "2203",
        "2204",
        "2207",
    ]  # cancel, then the visit again
    totals = shift_state(w.db, w.ctx).totals
    assert (totals.settlements, totals.refunds, totals.medfee) == (2, 1, D("180.00"))
    from counter_app.batch.declaration import monthly_declaration

    decl = monthly_declaration(w.db, w.actor("agency_clerk"), "H34020200001", TODAY)
    assert decl.ties  # the month ties to the ledger
    net = decl.total
    assert (net.medfee, net.own_account + net.family_account, net.cash) == (
        done.resettled.result.medfee_sumamt,
        done.resettled.result.acct_pay,
        done.resettled.result.psn_cash_pay,
    )  # the month nets to the kept lines alone

    def text(setl_no: str) -> str:
        path = output.save_pdf(w.db, w.ctx, setl_no, tmp_path)[0]
        return PdfReader(path).pages[0].extract_text().replace("\n", "")

    refund_slip, new_slip = text(done.refund.setl_no), text(done.resettled.setl_no)
    assert "退费原因：退一盒CT片" in refund_slip and "部分退费：退回 B001" in refund_slip
    assert f"部分退费后重新结算：原结算单 {first.setl_no}，退费单 {done.refund.setl_no}" in new_slip
    assert "WH-" not in refund_slip and "WH-" not in new_slip  # rule ids stay on screen


def test_a_refund_slip_prints_the_year_totals_the_refund_left(db_url, tmp_path):
    w = build(db_url)
    first = svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=AT
    )
    before = books(w, w.retiree)[1]
    back = svc.refund(w.db, w.ctx, first.setl_no, w.approval(first.setl_no), "退药", now=AT)
    after = books(w, w.retiree)[1]
    assert before[1] > 0 and after[1] == 0  # the pooled amount is reversed in the database
    path = output.save_pdf(w.db, w.ctx, back.setl_no, tmp_path)[0]
    text = PdfReader(path).pages[0].extract_text().replace("\n", "")
    assert "年门诊统筹累计0.00/" in text.replace(" ", "")  # not the original's 55.00
    assert "退费原因：退药" in text


@pytest.mark.parametrize(
    ("returned", "said"),
    [([], "请选择要退的项目"), ([0, 1, 2], "所有项目都退"), ([7], "请选择要退的项目（共 3 项）")],
)
def test_a_partial_refund_that_makes_no_sense_is_refused_and_nothing_is_written(db_url, returned, said):
    w = build(db_url)
    first = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.retiree, LINES, TODAY), None, now=AT)
    before = books(w, w.retiree)
    with pytest.raises(RefundRefused, match=said):
        refund_lines(w.db, w.ctx, first.setl_no, w.approval(first.setl_no), "退药", returned, now=AT)
    assert books(w, w.retiree) == before
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 1
