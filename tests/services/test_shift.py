"""Shifts and day close: no money without a shift; totals by payer and tender, refunds included,
tied to the ledger; the drawer counted against expected; a day closed once."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from counter_app.printing import shift_report
from counter_app.services import settlement as svc
from counter_app.services.errors import ServiceError
from counter_app.services.shift import ShiftHasPending, close_day, close_shift, open_shift, shift_state
from counter_app.store.models import Settlement

from .world import TODAY, build

D = Decimal
AT = dt.datetime(2024, 5, 10, 10, 0)


def request(person: int, *codes: str) -> svc.ClaimRequest:
    return svc.ClaimRequest(person, tuple(svc.ClaimLine(c) for c in codes), TODAY)


def mark_all_sent(db) -> None:
    from counter_app.store.models import Outbox

    with db.transaction() as s:
        for msg in s.scalars(select(Outbox)):
            msg.status = "sent"


def test_no_money_without_an_open_shift(db_url):
    w = build(db_url, open_shift=False)
    with pytest.raises(ServiceError, match="请先开班"):
        svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    open_shift(w.db, w.ctx, D("100.00"))
    with pytest.raises(ServiceError, match="本窗口已有未交班的班次"):
        open_shift(w.db, w.ctx, D("100.00"))
    with pytest.raises(ServiceError, match="备用金"):
        open_shift(w.db, w.actor("outpatient_cashier", counter="门诊9"), D("-1.00"))


def test_close_shift_totals_include_refunds_and_tie_to_the_ledger(db_url):
    w = build(db_url, mother_balance="150.00")  # float 200.00
    svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)  # fund 55, own account 45, cash 0
    b = svc.settle(w.db, w.ctx, request(w.child, "A001", "B001", "C001"), None, now=AT, tender="wechat")
    c = svc.settle(
        w.db, w.ctx, request(5, "C001"), None, now=AT
    )  # the stranger: 80.00 cash (no account may pay)
    svc.refund(w.db, w.ctx, c.setl_no, w.approval(c.setl_no), "退", now=AT)  # -80.00 cash
    assert (b.result.acct_mulaid_pay, b.result.psn_cash_pay) == (D("300.00"), D("80.00"))
    mark_all_sent(w.db)
    state = shift_state(w.db, w.ctx)
    t = state.totals
    assert (t.settlements, t.refunds) == (3, 1)
    assert (t.medfee, t.fund, t.own_accounts, t.family_accounts) == (
        D("480.00"),
        D("55.00"),
        D("45.00"),
        D("300.00"),
    )
    assert t.cash_by_tender == {"cash": D("0.00"), "wechat": D("80.00")}
    assert t.ties_to_ledger and t.ledger_accounts == D("-345.00")
    assert state.expected_cash == D("200.00")  # float + cash in cash tender (80 - 80)
    report = close_shift(w.db, w.ctx, D("199.50"), now=AT + dt.timedelta(hours=8))
    assert (report.expected_cash, report.counted_cash, report.difference) == (
        D("200.00"),
        D("199.50"),
        D("-0.50"),
    )
    text = " ".join(
        PdfReader(io.BytesIO(shift_report.render(report, "芜湖市第一人民医院")))
        .pages[0]
        .extract_text()
        .split()
    )
    for phrase in (
        "应有现金 200.00",
        "实点现金 199.50",
        "差额（实点 − 应有） -0.50",
        "家庭共济账户 300.00",
        "个人现金部分（微信） 80.00",
        "账户合计与账户流水核对 一致",
    ):
        assert phrase in text
    with pytest.raises(ServiceError, match="请先开班"):
        svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None)


def test_closing_with_messages_not_yet_sent_warns_and_lists_them(db_url):
    w = build(db_url)
    done = svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)
    with pytest.raises(ShiftHasPending) as pending:
        close_shift(w.db, w.ctx, D("200.00"))
    assert [e.setl_no for e in pending.value.entries] == [done.setl_no]
    report = close_shift(w.db, w.ctx, D("200.00"), acknowledge_pending=True)
    assert report.pending_upstream == 1


def test_a_day_closes_once_and_later_settlements_go_to_the_next_day(db_url):
    w = build(db_url)
    svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)
    day = AT.date()
    with pytest.raises(ServiceError, match="还有未交班的班次"):
        close_day(w.db, w.actor("supervisor"), day)
    close_shift(w.db, w.ctx, D("200.00"), acknowledge_pending=True)
    totals = close_day(w.db, w.actor("supervisor"), day)
    assert (totals.settlements, totals.medfee) == (1, D("100.00"))
    with pytest.raises(ServiceError, match="已日结"):
        close_day(w.db, w.actor("supervisor"), day)
    open_shift(w.db, w.ctx, D("200.00"))
    late = svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT + dt.timedelta(hours=10))
    with w.db.sessions() as s:
        assert s.get(Settlement, late.settlement_id).business_day == day + dt.timedelta(days=1)
