"""Inpatient: admission with deposit, fees during the stay, discharge settlement with the deposit
applied; hospitalized while admitted (WH-22 (2)); no invented inpatient ratio."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from counter_app.services import inpatient as svc
from counter_app.services import settlement
from counter_app.services.errors import ServiceError
from counter_app.services.shift import shift_state
from counter_app.store.models import DepositEntry, Outbox, Person, Settlement

from .world import build

D = Decimal
AT = dt.datetime(2024, 12, 30, 9, 0)
OUT = dt.date(2025, 1, 3)  # discharged in the next year: the year follows the discharge date


@pytest.fixture
def w(db_url):
    """The world, with its inpatient cashier (w.z) signed in at 住院1 with an open shift."""
    from counter_app.services.shift import open_shift

    world = build(db_url)
    world.z = world.actor("inpatient_cashier", counter="住院1")
    open_shift(world.db, world.z, D("200.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    return world


def test_admitted_person_is_hospitalized_and_gets_no_outpatient_pooling(w):
    svc.admit(w.db, w.z, w.retiree, D("1000.00"), now=AT)
    with w.db.sessions() as s:
        assert s.get(Person, w.retiree).hospitalized
    pv = settlement.preview(w.db, w.ctx, settlement.ClaimRequest(w.retiree, (settlement.ClaimLine("A001"),), AT.date()))
    assert pv.result.hifp_pay == 0 and pv.result.pooling_reason.startswith("WH-22 (2)")
    with pytest.raises(ServiceError, match="已在院"):
        svc.admit(w.db, w.z, w.retiree, D("0.00"))


def test_fees_are_posted_and_corrected_never_below_zero(w):
    adm = svc.admit(w.db, w.z, w.retiree, D("0.00"), now=AT)
    svc.post_fee(w.db, w.z, adm, "A001", D("3"))
    svc.post_fee(w.db, w.z, adm, "B001", D("1"))
    svc.post_fee(w.db, w.z, adm, "A001", D("-1"))
    with pytest.raises(ServiceError, match="小于 0"):
        svc.post_fee(w.db, w.z, adm, "B001", D("-2"))
    stay = svc.current_stay(w.db, w.z, w.retiree)
    assert [(f.code, f.quantity, f.amount) for f in stay.fees] == [("A001", D("2"), D("200.00")), ("B001", D("1"), D("200.00"))]
    assert stay.fees_total == D("400.00")


def test_discharge_applies_the_deposit_and_pays_back_the_rest(w):
    adm = svc.admit(w.db, w.z, w.child, D("1000.00"), now=AT)  # a resident child: family accounts pay (HF-4)
    svc.post_fee(w.db, w.z, adm, "A001", D("6"))  # 600.00
    svc.post_fee(w.db, w.z, adm, "C001", D("1"))  # 80.00 no account may pay: cash
    before = shift_state(w.db, w.z).expected_cash
    pv = svc.discharge_preview(w.db, w.z, adm, OUT)
    r = pv.preview.result
    assert r.fund_pay_sumamt == 0 and "no inpatient section" in r.pooling_reason
    assert [(d.psn_no, d.paid) for d in r.mulaid] == [("P0002", D("500.00")), ("P0003", D("100.00"))]
    assert (r.psn_cash_pay, pv.to_collect, pv.to_refund) == (D("80.00"), D("0.00"), D("920.00"))
    done = svc.discharge(w.db, w.z, adm, OUT, pv.preview, now=dt.datetime(2025, 1, 3, 15, 0))
    assert (done.applied, done.to_collect, done.to_refund) == (D("80.00"), D("0.00"), D("920.00"))
    with w.db.sessions() as s:
        row = s.get(Settlement, done.settled.settlement_id)
        assert (row.med_type, row.visit_date) == ("21", OUT)
        assert json.loads(row.result_json)["ytd"]["year"] == 2025
        assert s.scalar(select(Outbox.infno).where(Outbox.settlement_id == row.id)) == "2304"
        kinds = s.execute(select(DepositEntry.kind, DepositEntry.amount).order_by(DepositEntry.id)).all()
        assert kinds == [("taken", D("1000.00")), ("applied", D("-80.00")), ("refunded", D("-920.00"))]
        assert not s.get(Person, w.child).hospitalized
    # the drawer: +1000 at admission, nothing collected at discharge, 920 paid back
    assert shift_state(w.db, w.z).expected_cash == before - D("920.00")
    with pytest.raises(ServiceError, match="已出院结算"):
        svc.post_fee(w.db, w.z, adm, "A001", D("1"))


def test_discharge_collects_what_the_deposit_does_not_cover(w):
    adm = svc.admit(w.db, w.z, 5, D("50.00"), now=AT)  # the stranger: own account 50.00, no family
    svc.post_fee(w.db, w.z, adm, "A001", D("2"))
    pv = svc.discharge_preview(w.db, w.z, adm, OUT)
    assert (pv.preview.result.own_acct_pay, pv.preview.result.psn_cash_pay) == (D("50.00"), D("150.00"))
    assert (pv.to_collect, pv.to_refund) == (D("100.00"), D("0.00"))
    before = shift_state(w.db, w.z).expected_cash
    done = svc.discharge(w.db, w.z, adm, OUT, pv.preview)
    assert shift_state(w.db, w.z).expected_cash == before + done.to_collect


def test_discharge_without_fees_is_refused(w):
    adm = svc.admit(w.db, w.z, w.retiree, D("0.00"), now=AT)
    with pytest.raises(ServiceError, match="没有记账费用"):
        svc.discharge_preview(w.db, w.z, adm, OUT)
