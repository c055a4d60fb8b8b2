"""Self-pay visits (自费, issue 24): the whole price in cash, nothing to the centre, no account touched;
numbered, audited, in the shift's takings, refundable, and left out of the agency's declaration."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal as D

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from counter_app.batch.declaration import monthly_declaration
from counter_app.printing import pdf
from counter_app.printing.slip import load_slip
from counter_app.services import go_live as gl
from counter_app.services import price_list, self_pay, shift
from counter_app.services import settlement as svc
from counter_app.services.errors import ServiceError, Unmapped
from counter_app.store.models import Account, LedgerEntry, Outbox, Settlement

from .world import AT, TODAY, build


@pytest.fixture
def w(db_url):
    return build(db_url)


def rows(db) -> dict[str, int]:
    with db.sessions() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Settlement, Outbox, LedgerEntry)
        }


def text_of(db, setl_no: str) -> str:
    return "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pdf.render(load_slip(db, setl_no), "a5"))).pages
    )


def test_a_patient_without_insurance_pays_cash_and_nothing_goes_upstream(w):
    before = rows(w.db)
    request = self_pay.SelfPayRequest((svc.ClaimLine("A001", D("2")),), TODAY, name="钱多多", certno="")
    pv = self_pay.preview(w.db, w.ctx, request)
    assert (pv.payer, pv.total, pv.result.psn_cash_pay, pv.result.fund_pay_sumamt) == (
        "钱多多",
        D("200.00"),
        D("200.00"),
        0,
    )
    done = self_pay.settle(w.db, w.ctx, request, now=AT, tendered=D("200.00"))
    after = rows(w.db)
    assert (after["settlement"], after["outbox"], after["ledger_entry"]) == (
        before["settlement"] + 1,
        before["outbox"],
        before["ledger_entry"],
    )
    with w.db.sessions() as s:
        row = s.scalar(select(Settlement).where(Settlement.setl_no == done.setl_no))
        assert (row.person_id, row.payer_name, row.policy, row.psn_cash_pay) == (
            None,
            "钱多多",
            "self-pay",
            D("200.00"),
        )
    text = text_of(w.db, done.setl_no)
    assert "自费收费收据" in text and "【自费】" in text and "钱多多" in text and "就诊ID" not in text
    assert shift.shift_state(w.db, w.ctx).totals.cash_by_tender["cash"] == D("200.00")


def test_a_bad_id_or_no_name_is_refused_and_nothing_is_written(w):
    before = rows(w.db)
    with pytest.raises(ServiceError, match="身份证号校验位错误"):
        self_pay.settle(
            w.db,
            w.ctx,
            self_pay.SelfPayRequest(
                (svc.ClaimLine("A001"),), TODAY, name="钱多多", certno="340202199001011230"
            ),
            now=AT,
        )
    with pytest.raises(ServiceError, match="自费患者须录入姓名"):
        self_pay.settle(w.db, w.ctx, self_pay.SelfPayRequest((svc.ClaimLine("A001"),), TODAY), now=AT)
    assert rows(w.db) == before


def test_an_insured_patient_may_choose_self_pay_and_keeps_their_accounts(w):
    with w.db.sessions() as s:
        balances = dict(s.execute(select(Account.person_id, Account.balance)).tuples().all())
    done = self_pay.settle(
        w.db, w.ctx, self_pay.SelfPayRequest((svc.ClaimLine("B001"),), TODAY, person_id=w.child), now=AT
    )
    with w.db.sessions() as s:
        assert dict(s.execute(select(Account.person_id, Account.balance)).tuples().all()) == balances
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.visit_key == done.setl_no)) == 0
    assert "张小明" in text_of(w.db, done.setl_no)
    refund = svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), "患者改用医保", now=AT)
    with w.db.sessions() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(Outbox).where(Outbox.settlement_id == refund.settlement_id)
            )
            == 0
        )
        assert s.scalar(select(Settlement.psn_cash_pay).where(Settlement.setl_no == refund.setl_no)) == D(
            "-200.00"
        )


def test_an_unmapped_item_sells_only_as_self_pay(w, tmp_path):
    price = gl.write_table(
        tmp_path,
        "price_list",
        ("医院项目编码", "项目名称", "单位", "单价"),
        [("D901", "自制膏方", "剂", "88.00")],
    )
    price_list.import_file(w.db, w.actor("supervisor"), price)
    with pytest.raises(Unmapped):
        svc.settle(w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("D901"),), TODAY), None, now=AT)
    done = self_pay.settle(
        w.db, w.ctx, self_pay.SelfPayRequest((svc.ClaimLine("D901"),), TODAY, person_id=w.retiree), now=AT
    )
    assert done.result.psn_cash_pay == D("88.00")


def test_the_declaration_leaves_self_pay_out(w):
    insured = svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=AT
    )
    self_pay.settle(
        w.db, w.ctx, self_pay.SelfPayRequest((svc.ClaimLine("A001"),), TODAY, name="钱多多"), now=AT
    )
    decl = monthly_declaration(w.db, w.actor("agency_clerk"), "H34020200001", dt.date(2024, 5, 1))
    assert [s.setl_no for s in decl.settlements] == [insured.setl_no]
