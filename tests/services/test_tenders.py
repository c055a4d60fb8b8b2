"""Several tenders on one bill, and refunds that give each back (issue 27), on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from counter_app.services import settlement as svc
from counter_app.services.errors import RefundRefused, ServiceError
from counter_app.services.shift import shift_state
from counter_app.store.audit import verify
from counter_app.store.models import Settlement, SettlementTender

from .world import AT, TODAY, build

D = Decimal


@pytest.fixture
def w(db_url):
    world = build(db_url)
    world.stranger = 5  # 赵强: C001 is not account-payable, so the visit is paid in cash
    return world


def bill(w, **kw):
    request = svc.ClaimRequest(w.stranger, (svc.ClaimLine("C001"), svc.ClaimLine("C001")), TODAY)
    return svc.settle(w.db, w.ctx, request, None, now=AT, **kw)


def parts(w, setl_no: str) -> list[tuple[str, Decimal]]:
    with w.db.sessions() as s:
        return [
            (t.tender, t.amount)
            for t in s.scalars(
                select(SettlementTender)
                .join(Settlement, Settlement.id == SettlementTender.settlement_id)
                .where(Settlement.setl_no == setl_no)
                .order_by(SettlementTender.id)
            )
        ]


def count(w, model) -> int:
    with w.db.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_bill_paid_by_card_wechat_and_cash_records_each_and_the_shift_counts_each(w):
    done = bill(w, paid_by=[("card", D("100.00")), ("wechat", D("20.50"))], tendered=D("50.00"))
    cash = done.result.psn_cash_pay
    assert cash == D("160.00")
    assert parts(w, done.setl_no) == [("card", D("100.00")), ("wechat", D("20.50")), ("cash", D("39.50"))]
    with w.db.sessions() as s:
        assert s.scalar(select(Settlement.tender).where(Settlement.setl_no == done.setl_no)) == "mixed"
        assert verify(s) == []  # the rows are covered by the settle's entry
    state = shift_state(w.db, w.ctx)
    assert state.totals.cash_by_tender == {"card": D("100.00"), "wechat": D("20.50"), "cash": D("39.50")}
    assert state.expected_cash == D("200.00") + D("39.50")  # only the cash is in the drawer


@pytest.mark.parametrize(
    ("paid_by", "said"),
    [
        ([("bitcoin", D("1.00"))], "组合支付只填银行卡、微信、支付宝"),
        ([("card", D("-1.00"))], "大于 0"),
        ([("card", D("1.005"))], "两位小数"),
        ([("card", D("10.00")), ("card", D("5.00"))], "填了两次"),
        ([("card", D("150.00")), ("alipay", D("20.00"))], "超过应收现金部分 160.00"),
    ],
)
def test_a_bad_split_is_refused_and_nothing_is_written(w, paid_by, said):
    before = count(w, Settlement), count(w, SettlementTender)
    with pytest.raises(ServiceError, match=said):
        bill(w, paid_by=paid_by)
    assert (count(w, Settlement), count(w, SettlementTender)) == before


def test_a_refund_gives_each_tender_back_or_all_in_cash(w):
    first = bill(w, paid_by=[("card", D("100.00")), ("alipay", D("10.00"))])
    back = svc.refund(w.db, w.ctx, first.setl_no, w.approval(first.setl_no), "退药", now=AT)
    assert back.parts == [("card", D("-100.00")), ("alipay", D("-10.00")), ("cash", D("-50.00"))]
    assert parts(w, back.setl_no) == back.parts
    second = bill(w, paid_by=[("card", D("160.00"))])
    assert parts(w, second.setl_no) == []  # one means: said by the settlement row alone
    in_cash = svc.refund(
        w.db, w.ctx, second.setl_no, w.approval(second.setl_no), "改退现金", now=AT, to_cash=True
    )
    assert in_cash.parts == [("cash", D("-160.00"))]
    state = shift_state(w.db, w.ctx)
    assert state.totals.cash_by_tender == {
        "card": D("160.00"),  # +100 -100 +160: the second bill's card was not given back
        "alipay": D("0.00"),
        "cash": D("-160.00"),
    }
    assert state.expected_cash == D("40.00")
    with w.db.sessions() as s:
        assert verify(s) == []


def test_cash_handed_back_never_exceeds_the_drawer(w):
    paid = bill(w, tender="card")  # 160.00 by card; the drawer holds the 200.00 float
    other = bill(w, tender="card")
    svc.refund(w.db, w.ctx, paid.setl_no, w.approval(paid.setl_no), "改退现金", now=AT, to_cash=True)
    before = count(w, Settlement)  # the drawer now holds 40.00
    with pytest.raises(RefundRefused, match=r"应退现金 160\.00 超过钱箱应有现金 40\.00"):
        svc.refund(w.db, w.ctx, other.setl_no, w.approval(other.setl_no), "改退现金", now=AT, to_cash=True)
    assert count(w, Settlement) == before
    svc.refund(w.db, w.ctx, other.setl_no, w.approval(other.setl_no), "退回银行卡", now=AT)  # by card: fine
