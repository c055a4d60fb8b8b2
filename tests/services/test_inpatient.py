"""Inpatient stays with the centre: admission (2401) and fees (2301/2302) queue and work offline;
the discharge asks a real reference centre (2402, 2303, 2304) for its fund payment, splits the
personal part locally (HF-4), applies the deposit; interim settlement; cancel (2305) with approval.

The centre's inpatient benefits are its training values (resources/centre/inpatient-training.toml):
level 3 hospital, deductible 900.00 per admission, fund 80 % in service, 83 % retired."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from counter_app.services import inpatient as svc
from counter_app.services import settlement
from counter_app.services.errors import ServiceError
from counter_app.services.shift import shift_state
from counter_app.store.models import Account, CentreResult, DepositEntry, Outbox, Person, Settlement
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from counter_app.sync.inpatient_link import CentreLink
from tests.centre_process import CentreProcess

from .world import build

D = Decimal
AT = dt.datetime(2024, 12, 30, 9, 0)
OUT = dt.date(2025, 1, 3)  # discharged in the next year: the year follows the discharge date
TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)


@pytest.fixture
def w(db_url):
    """The world, with its inpatient cashier (w.z) signed in at 住院1 with an open shift."""
    from counter_app.services.shift import open_shift

    world = build(db_url)
    world.z = world.actor("inpatient_cashier", counter="住院1")
    open_shift(world.db, world.z, D("200.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    return world


@pytest.fixture
def centre(w, tmp_path):
    c = CentreProcess(tmp_path, registry=w.db.url.render_as_string(hide_password=False)).start()
    w.link = CentreLink(w.db, CentreClient(c.url, credentials=TRAINING), now=lambda: AT)
    yield c
    c.stop()


def infnos(w, key: str) -> list[str]:
    with w.db.sessions() as s:
        return list(s.scalars(select(Outbox.infno).where(Outbox.visit_key == key).order_by(Outbox.id)))


def balances(w) -> dict[int, D]:
    with w.db.sessions() as s:
        return dict(s.execute(select(Account.person_id, Account.balance)).all())


def test_admitted_person_is_hospitalized_and_gets_no_outpatient_pooling(w):
    adm = svc.admit(w.db, w.z, w.retiree, D("1000.00"), now=AT)
    with w.db.sessions() as s:
        assert s.get(Person, w.retiree).hospitalized
    pv = settlement.preview(
        w.db, w.ctx, settlement.ClaimRequest(w.retiree, (settlement.ClaimLine("A001"),), AT.date())
    )
    assert pv.result.hifp_pay == 0 and pv.result.pooling_reason.startswith("WH-22 (2)")
    with pytest.raises(ServiceError, match="已在院"):
        svc.admit(w.db, w.z, w.retiree, D("0.00"))
    assert infnos(w, adm) == ["2401"]  # queued: admission works offline


def test_fees_are_posted_and_a_correction_cancels_what_it_corrects(w, centre):
    adm = svc.admit(w.db, w.z, w.retiree, D("0.00"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("3"), now=AT)
    svc.post_fee(w.db, w.z, adm, "B001", D("1"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("-1"), now=AT)
    with pytest.raises(ServiceError, match="小于 0"):
        svc.post_fee(w.db, w.z, adm, "B001", D("-2"))
    # the correction cancels the A001 line (2302) and uploads the 2 that are left (2301)
    assert infnos(w, adm) == ["2401", "2301", "2301", "2302", "2301"]
    stay = svc.current_stay(w.db, w.z, w.retiree)
    assert [(f.code, f.quantity, f.amount) for f in stay.fees] == [
        ("A001", D("2"), D("200.00")),
        ("B001", D("1"), D("200.00")),
    ]
    assert stay.fees_total == D("400.00") and [f.centre_note for f in stay.fees] == ["待上传", "待上传"]
    w.link.flush(stay.psn_no)  # online: the centre classes each line
    stay = svc.current_stay(w.db, w.z, w.retiree)
    assert [f.centre_note for f in stay.fees] == ["全部符合范围", "先行自付 40.00"]
    assert centre.stats()["by_infno"] == {"9001": 1, "2401": 1, "2301": 3, "2302": 1}  # signed in first


def test_discharge_takes_the_centres_fund_then_family_accounts_then_the_deposit(w, centre, tmp_path):
    adm = svc.admit(w.db, w.z, w.child, D("1000.00"), now=AT)  # a resident child: family accounts pay (HF-4)
    svc.post_fee(w.db, w.z, adm, "A001", D("12"), now=AT)  # 1200.00 in scope
    svc.post_fee(w.db, w.z, adm, "C001", D("1"), now=AT)  # 80.00 no account may pay: cash
    before = shift_state(w.db, w.z).expected_cash
    pv = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)
    r = pv.preview.result
    # the centre: deductible 900.00 (level 3), (1200 - 900) x 0.80 = 240.00 from the fund
    assert (pv.centre["fund_pay_sumamt"], pv.centre["act_pay_dedc"]) == (D("240.00"), D("900.00"))
    assert (r.fund_pay_sumamt, r.psn_part_amt) == (D("240.00"), D("1040.00"))
    assert [(d.psn_no, d.paid) for d in r.mulaid] == [("P0002", D("500.00")), ("P0003", D("300.00"))]
    assert (r.psn_cash_pay, pv.to_collect, pv.to_refund) == (D("240.00"), D("0.00"), D("760.00"))
    done = svc.discharge(w.db, w.z, adm, pv, w.link, now=dt.datetime(2025, 1, 3, 15, 0))
    assert (done.applied, done.to_collect, done.to_refund) == (D("240.00"), D("0.00"), D("760.00"))
    assert done.setl_id and done.mdtrt_id
    with w.db.sessions() as s:
        row = s.get(Settlement, done.settled.settlement_id)
        assert (row.med_type, row.visit_date, row.fund_pay_sumamt) == ("21", OUT, D("240.00"))
        assert json.loads(row.result_json)["ytd"]["year"] == 2025
        result = s.scalar(select(CentreResult).where(CentreResult.settlement_id == row.id))
        assert result.equal and result.setl_id == done.setl_id  # the centre split the accounts the same
        kinds = s.execute(select(DepositEntry.kind, DepositEntry.amount).order_by(DepositEntry.id)).all()
        assert kinds == [("taken", D("1000.00")), ("applied", D("-240.00")), ("refunded", D("-760.00"))]
        assert not s.get(Person, w.child).hospitalized
    assert centre.stats()["by_infno"] == {"9001": 1, "2401": 1, "2301": 2, "2402": 1, "2303": 1, "2304": 1}
    # the drawer: +1000 at admission, nothing collected at discharge, 760 paid back
    assert shift_state(w.db, w.z).expected_cash == before - D("760.00")
    with pytest.raises(ServiceError, match="已出院结算"):
        svc.post_fee(w.db, w.z, adm, "A001", D("1"))
    # the discharge slip: the stay and its deposit, and no outpatient year totals or policy (issue 27)
    from pypdf import PdfReader

    from counter_app.printing import output

    path = output.save_pdf(w.db, w.z, done.settled.setl_no, tmp_path)[0]
    text = PdfReader(path).pages[0].extract_text().replace("\n", "")
    flat = text.replace(" ", "").replace("\u3000", "")
    assert "住院号H34020200001Z00000001入院2024-12-30出院2025-01-03" in flat
    assert "押金：已交1000.00，抵扣240.00，退还760.00" in flat
    assert "门诊统筹累计" not in text and "住院：由医保中心按住院政策结算" in text


def test_discharge_collects_what_the_deposit_does_not_cover(w, centre):
    adm = svc.admit(w.db, w.z, 5, D("50.00"), now=AT)  # the stranger: own account 50.00, no family
    svc.post_fee(w.db, w.z, adm, "A001", D("2"), now=AT)  # 200.00: under the deductible, no fund
    pv = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)
    assert (pv.preview.result.own_acct_pay, pv.preview.result.psn_cash_pay) == (D("50.00"), D("150.00"))
    assert (pv.to_collect, pv.to_refund) == (D("100.00"), D("0.00"))
    before = shift_state(w.db, w.z).expected_cash
    done = svc.discharge(w.db, w.z, adm, pv, w.link)
    assert shift_state(w.db, w.z).expected_cash == before + done.to_collect


def test_discharge_without_fees_is_refused(w, centre):
    adm = svc.admit(w.db, w.z, w.retiree, D("0.00"), now=AT)
    with pytest.raises(ServiceError, match="没有未结算的记账费用"):
        svc.discharge_preview(w.db, w.z, adm, OUT, w.link)


def test_the_centre_down_admission_and_fees_queue_and_discharge_says_so_keeping_the_stay(w, tmp_path):
    down = CentreLink(
        w.db, CentreClient("http://127.0.0.1:9", credentials=TRAINING, timeout=1), now=lambda: AT
    )
    adm = svc.admit(w.db, w.z, w.child, D("1000.00"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("12"), now=AT)
    with pytest.raises(svc.CentreUnavailable, match="不能结算；住院和押金保持不变"):
        svc.discharge_preview(w.db, w.z, adm, OUT, down)
    stay = svc.current_stay(w.db, w.z, w.child)
    assert (stay.deposit, stay.fees_total) == (D("1000.00"), D("1200.00"))
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    assert infnos(w, adm) == ["2401", "2301"]
    # back online: the queue goes first, then the discharge settles once
    c = CentreProcess(tmp_path, registry=w.db.url.render_as_string(hide_password=False)).start()
    try:
        link = CentreLink(w.db, CentreClient(c.url, credentials=TRAINING), now=lambda: AT)
        pv = svc.discharge_preview(w.db, w.z, adm, OUT, link)
        svc.discharge(w.db, w.z, adm, pv, link)
        assert c.stats()["records"] == {"settle:settled": 1}
    finally:
        c.stop()


def test_interim_settlement_then_discharge_then_cancel_reverses_exactly(w, centre):
    adm = svc.admit(w.db, w.z, w.retiree, D("2000.00"), now=AT)  # own account 1000.00, retired
    svc.post_fee(w.db, w.z, adm, "A001", D("10"), now=AT)  # 1000.00
    first = svc.discharge_preview(w.db, w.z, adm, dt.date(2024, 12, 31), w.link, interim=True)
    # deductible 900 this admission; (1000 - 900) x 0.83 = 83.00; the own account pays the 917.00 left
    r = first.preview.result
    assert (r.fund_pay_sumamt, r.own_acct_pay, first.to_refund) == (D("83.00"), D("917.00"), D("0.00"))
    mid = svc.discharge(w.db, w.z, adm, first, w.link)
    assert svc.current_stay(w.db, w.z, w.retiree) is not None  # still admitted
    svc.post_fee(w.db, w.z, adm, "A001", D("5"), now=AT)  # 500.00 more: the deductible is met already
    svc.post_fee(w.db, w.z, adm, "A001", D("-1"), now=AT)  # corrected to 4: 400.00
    stay = svc.current_stay(w.db, w.z, w.retiree)
    assert stay.fees_total == D("400.00")  # only what the interim settlement did not take
    before = balances(w)
    with w.db.sessions() as s:
        deposit_before = sum(s.scalars(select(DepositEntry.amount)), D(0))
    last = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)
    r = last.preview.result
    assert (r.fund_pay_sumamt, r.own_acct_pay, r.psn_cash_pay) == (
        D("332.00"),
        D("68.00"),
        D("0.00"),
    )  # 400 x 0.83
    done = svc.discharge(w.db, w.z, adm, last, w.link)
    assert svc.current_stay(w.db, w.z, w.retiree) is None and balances(w)[w.retiree] == D("15.00")
    with pytest.raises(ServiceError, match="请填写"):
        svc.cancel(w.db, w.z, done.settled.setl_no, w.approval(done.settled.setl_no, by=w.z), " ", w.link)
    reversal = svc.cancel(
        w.db,
        w.z,
        done.settled.setl_no,
        w.approval(done.settled.setl_no, by=w.z),
        "结算有误",
        w.link,
        now=dt.datetime(2025, 1, 3, 16, 0),
    )
    assert reversal != done.settled.setl_no
    assert balances(w) == before  # the account exactly as before the discharge
    stay = svc.current_stay(w.db, w.z, w.retiree)  # the stay is open again, its deposit as before
    assert stay is not None and stay.fees_total == D("400.00") and stay.deposit == deposit_before
    with w.db.sessions() as s:
        assert s.get(Person, w.retiree).hospitalized
    assert centre.stats()["records"] == {"settle:settled": 1, "settle:cancelled": 1, "cancel:settled": 1}
    assert mid.setl_id != done.setl_id
    again = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)  # and it can be settled again
    assert again.preview.result.fund_pay_sumamt == D("332.00")


@pytest.mark.slow
def test_a_2304_that_differs_from_the_confirmed_preview_records_nothing_and_shows_the_new_split(
    w, centre, tmp_path
):
    adm = svc.admit(w.db, w.z, w.child, D("1000.00"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("12"), now=AT)
    pv = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)
    assert pv.preview.result.fund_pay_sumamt == D("240.00")
    # the centre changes its inpatient benefits between the pre-settlement and the settlement
    centre.stop()
    kinder = tmp_path / "kinder.toml"
    kinder.write_text(_training().replace('3 = "0.80"', '3 = "0.90"'), encoding="utf-8")
    again = CentreProcess(tmp_path, inpatient=kinder, port=centre.port).start()
    try:
        with pytest.raises(svc.DischargeChanged, match=r"基金支付 240\.00 → 270\.00") as raised:
            svc.discharge(w.db, w.z, adm, pv, w.link)
        with w.db.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Settlement)) == 0  # nothing recorded
        assert again.stats()["records"] == {"settle:reversed": 1}  # the centre's settlement undone
        fresh = raised.value.discharge
        assert fresh.preview.result.fund_pay_sumamt == D("270.00")
        done = svc.discharge(w.db, w.z, adm, fresh, w.link)  # confirmed again: settles once
        assert done.settled.result.fund_pay_sumamt == D("270.00")
        assert again.stats()["records"] == {"settle:reversed": 1, "settle:settled": 1}
    finally:
        again.stop()


def _training() -> str:
    from counter_app.resources import resource_dir

    return (resource_dir() / "centre" / "inpatient-training.toml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_2304_whose_answer_is_lost_is_reversed_and_settles_once_when_tried_again(w, centre):
    adm = svc.admit(w.db, w.z, w.child, D("1000.00"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("12"), now=AT)
    pv = svc.discharge_preview(w.db, w.z, adm, OUT, w.link)
    centre.fault("drop_after_commit", count=1)  # the centre settles the 2304; its answer never comes
    with pytest.raises(svc.CentreUnavailable, match="未结算，住院和押金保持不变"):
        svc.discharge(w.db, w.z, adm, pv, w.link)
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0
    assert centre.stats()["records"] == {"settle:reversed": 1}  # undone there at once (2601)
    assert svc.current_stay(w.db, w.z, w.child).deposit == D("1000.00")
    done = svc.discharge(w.db, w.z, adm, svc.discharge_preview(w.db, w.z, adm, OUT, w.link), w.link)
    assert done.to_refund == pv.to_refund
    assert centre.stats()["records"] == {"settle:reversed": 1, "settle:settled": 1}  # settled once
