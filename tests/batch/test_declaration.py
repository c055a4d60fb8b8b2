"""The monthly declaration (WH-28): sums by medical type and kind, refunds netted, tying to the
ledger to the cent, as CSV and PDF read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from counter_app.batch.declaration import monthly_declaration, write_csv
from counter_app.batch.runs import BatchError
from counter_app.printing.agency_reports import declaration_pdf
from counter_app.services import settlement as svc
from counter_app.store.models import LedgerEntry, Settlement

from ..services.world import HOSPITAL, build

D = Decimal
MAY = dt.date(2024, 5, 1)


def settle(w, person: int, *codes: str, at: dt.datetime):
    return svc.settle(
        w.db, w.ctx, svc.ClaimRequest(person, tuple(svc.ClaimLine(c) for c in codes), at.date()), None, now=at
    )


def world_with_a_month(url: str):
    w = build(url, mother_balance="150.00")
    at = dt.datetime(2024, 5, 10, 10)
    settle(w, w.retiree, "A001", at=at)  # fund and own account
    mulaid = settle(w, w.child, "A001", "B001", at=at)  # family accounts
    refunded = settle(w, w.retiree, "B001", at=at)
    svc.refund(w.db, w.ctx, refunded.setl_no, w.approval(refunded.setl_no), "退", now=at)
    settle(w, w.father, "A001", at=dt.datetime(2024, 6, 1, 9))  # next month: not declared in May
    return w, mulaid


def test_WH_28_declaration_nets_refunds_and_ties_to_the_ledger(db_url):
    w, mulaid = world_with_a_month(db_url)
    decl = monthly_declaration(w.db, w.actor("agency_clerk"), HOSPITAL, MAY)
    assert [(line.med_type, line.kind, line.count) for line in decl.lines] == [
        ("11", "refund", 1),
        ("11", "settle", 3),
    ]
    assert (decl.settled.count, decl.refunded.count, decl.total.count) == (3, 1, 2)  # counted apart, then net
    assert decl.refunded.medfee == decl.lines[0].medfee == D("-200.00")  # the refund line: negative amounts
    assert decl.total.medfee == decl.settled.medfee + decl.refunded.medfee
    assert decl.total.family_account == mulaid.result.acct_mulaid_pay == D("300.00")
    with w.db.sessions() as s:
        settled = s.execute(
            select(
                func.sum(Settlement.fund_pay_sumamt),
                func.sum(Settlement.acct_pay),
                func.sum(Settlement.psn_cash_pay),
            ).where(Settlement.business_day < dt.date(2024, 6, 1))
        ).one()
        ledger = s.scalar(
            select(func.sum(LedgerEntry.amount))
            .join(Settlement, Settlement.id == LedgerEntry.settlement_id)
            .where(Settlement.business_day < dt.date(2024, 6, 1))
        )
    assert (decl.total.fund, decl.total.accounts, decl.total.cash) == tuple(settled)
    assert decl.total.accounts == -ledger == decl.ledger_own + decl.ledger_family
    assert decl.ties


def test_declaration_csv_and_pdf_read_back_to_the_cent(sqlite_url, tmp_path):
    w, _mulaid = world_with_a_month(sqlite_url)
    decl = monthly_declaration(w.db, w.actor("agency_clerk"), HOSPITAL, MAY)
    summary, detail = write_csv(decl, tmp_path)
    rows = list(csv.DictReader(summary.open(encoding="utf-8-sig")))
    settled, refunded, total = rows[-3:]
    assert [(r["类别名称"], r["业务"], r["笔数"]) for r in (settled, refunded, total)] == [
        ("合计", "结算", "3"),
        ("合计", "退费", "1"),
        ("合计", "净额", "2"),
    ]
    assert D(settled["医疗费总额"]) + D(refunded["医疗费总额"]) == D(total["医疗费总额"])
    assert (total["基金支付"], total["家庭共济支付"], total["现金支付"]) == (
        str(decl.total.fund),
        "300.00",
        str(decl.total.cash),
    )
    details = list(csv.DictReader(detail.open(encoding="utf-8-sig")))
    assert (
        len(details) == 4
        and details[-1]["业务"] == "退费"
        and details[-1]["原结算单号"] == details[-2]["结算单号"]
    )
    assert sum(D(r["家庭共济支付"]) + D(r["个人账户支付（本人）"]) for r in details) == decl.total.accounts
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(declaration_pdf(decl))).pages)
    for amount in (
        decl.total.medfee,
        decl.total.fund,
        decl.total.own_account,
        decl.total.family_account,
        decl.total.cash,
        decl.total.accounts,
    ):
        assert str(amount) in text
    assert "医保结算月度申报表" in text and "一致" in text and "不一致" not in text


def test_an_empty_month_and_an_unknown_institution(sqlite_url):
    w, _ = world_with_a_month(sqlite_url)
    empty = monthly_declaration(w.db, w.actor("agency_clerk"), HOSPITAL, dt.date(2024, 4, 1))
    assert (empty.total.count, empty.total.accounts, empty.ties) == (0, D("0.00"), True)
    with pytest.raises(BatchError, match="unknown institution code 'H000'"):
        monthly_declaration(w.db, w.actor("agency_clerk"), "H000", MAY)
