"""Actors and approvals that stay true (issue 26): a signed-in actor whose staff row no longer says
what it said at sign-in is refused by every service, a settle included (its counter-state statement
re-reads the row); an approval is a single-use row bound to its settlement, counter and expiry."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from counter_app.services import settlement as svc
from counter_app.services import staff
from counter_app.services.actor import PermissionDenied, StaleActor
from counter_app.services.shift import open_shift
from counter_app.services.staff import hash_password
from counter_app.store.models import RefundApproval, Settlement, Staff

from ..actors import add_staff
from .world import AT, TODAY, build

CHANGES = {
    "deactivated": ({"active": False}, "已停用"),
    "locked": ({"locked_until": dt.datetime(2099, 1, 1)}, "已锁定"),
    "demoted": ({"role": "outpatient_cashier"}, "角色已变更"),
    "new password": ({"password_hash": hash_password("another-pass-2")}, "密码已更改"),
}


@pytest.fixture
def w(db_url):
    return build(db_url)


def change(w, staff_no, **values):
    with w.db.transaction() as s:
        row = s.scalar(select(Staff).where(Staff.staff_no == staff_no))
        for k, v in values.items():
            setattr(row, k, v)


@pytest.mark.parametrize("case", list(CHANGES))
def test_a_supervisor_changed_after_sign_in_is_refused_by_a_service(w, case):
    boss = w.actor("supervisor")
    values, why = CHANGES[case]
    change(w, boss.staff_no, **values)
    with pytest.raises(StaleActor, match=why):
        staff.add_staff(w.db, boss, "c777", "新人", "outpatient_cashier", "temp-pass-77")
    with w.db.sessions() as s:
        assert s.scalar(select(Staff).where(Staff.staff_no == "c777")) is None


@pytest.mark.parametrize("case", [*CHANGES, "deleted"])
def test_a_cashier_changed_after_sign_in_cannot_settle_and_nothing_is_written(w, case):
    request = svc.ClaimRequest(w.mother, (svc.ClaimLine("A001"),), TODAY)
    if case == "deleted":
        with w.db.transaction() as s:
            s.execute(delete(Staff).where(Staff.staff_no == w.ctx.staff_no))
        why = "已被删除"
    else:
        values, why = CHANGES[case]
        change(w, w.ctx.staff_no, **(values if case != "demoted" else {"role": "pharmacy_clerk"}))
    with pytest.raises(StaleActor, match=why):
        svc.settle(w.db, w.ctx, request, None, now=AT)
    with w.db.sessions() as s:
        assert s.scalar(select(Settlement.id)) is None


def test_an_unchanged_actor_still_works(w):
    done = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.mother, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    assert done.setl_no


def test_an_approval_is_for_one_settlement_one_counter_a_few_minutes_and_one_use(w):
    first = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.mother, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    second = svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.mother, (svc.ClaimLine("A001"),), TODAY), None, now=AT
    )
    w.actor("supervisor")  # the supervisor's staff row
    ok = staff.approve_refund(w.db, w.ctx, "supervisor1", "test-pass-1", first.setl_no, now=AT)
    re_aimed = dataclasses.replace(ok, setl_no=second.setl_no)  # the object says second; its row does not
    with pytest.raises(PermissionDenied, match=f"针对结算 {first.setl_no}"):
        svc.refund(w.db, w.ctx, second.setl_no, re_aimed, "退药", now=AT)
    add_staff(w.db, "c002", "李娜", "outpatient_cashier", "second-pass-2")
    elsewhere = staff.sign_in(w.db, "c002", "second-pass-2", w.ctx.institution_code, "门诊2")
    open_shift(w.db, elsewhere, Decimal("0.00"))
    with pytest.raises(PermissionDenied, match="在 门诊1 作出的，不能在 门诊2 使用"):
        svc.refund(w.db, elsewhere, first.setl_no, ok, "退药", now=AT)
    late = AT + dt.timedelta(minutes=staff.APPROVAL_MINUTES, seconds=1)
    with pytest.raises(PermissionDenied, match="已过期"):
        svc.refund(w.db, w.ctx, first.setl_no, ok, "退药", now=late)
    svc.refund(w.db, w.ctx, first.setl_no, ok, "退药", now=AT + dt.timedelta(minutes=1))
    # used once by the refund above; a second use (a refund of the same number can only be refused
    # as done already, so the row itself is asked) is refused
    with w.db.transaction() as s, pytest.raises(PermissionDenied, match=r"已于 .* 用过"):
        staff.consume_approval(s, ok, first.setl_no, w.ctx, AT + dt.timedelta(minutes=2))
    again = staff.approve_refund(w.db, w.ctx, "supervisor1", "test-pass-1", second.setl_no, now=AT)
    svc.refund(w.db, w.ctx, second.setl_no, again, "退药", now=AT)
    with w.db.sessions() as s:
        used = s.scalars(select(RefundApproval.used_at).order_by(RefundApproval.id)).all()
    assert all(u is not None for u in used) and len(used) == 2


def test_an_unknown_staff_id_costs_the_same_password_check_as_a_known_one(w, monkeypatch):
    """Issue 26: sign-in answered an unknown id 30x faster than a known one, so ids could be listed
    by timing. Counted, not timed: the unknown id runs the same scrypt check once (the count is
    taken at the standard library's scrypt, so nothing of ours is replaced)."""
    import hashlib

    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    w.actor("supervisor")
    for who in ("supervisor1", "nobody99"):
        calls.clear()
        with pytest.raises(staff.SignInRefused):
            staff.sign_in(w.db, who, "wrong-pass", w.ctx.institution_code, "门诊9")
        assert len(calls) == 1, who
