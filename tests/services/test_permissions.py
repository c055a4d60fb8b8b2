"""Trust lives in the services: every service that moves money, prints, binds or runs a batch,
called directly by every role that roles.toml does not allow, refuses with PermissionDenied and
writes no row anywhere (every table counted before and after) and no file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from counter_app.batch import crediting, declaration, interest, monitoring
from counter_app.policies import load_pack
from counter_app.printing import output, slip
from counter_app.services import (
    backup,
    binding,
    clinical,
    enrolment,
    go_live,
    inpatient,
    national_catalogue,
    price_list,
    shift,
    staff,
    sync_status,
)
from counter_app.services import settlement as svc
from counter_app.services.actor import Actor, PermissionDenied, roles
from counter_app.store.models import Base, Outbox

from ..actors import STAFF
from .world import AT, TODAY, build

D = Decimal
PHARMACY_REQUEST = svc.ClaimRequest(4, (svc.ClaimLine("A001"),), TODAY, med_type="41", prescribing_level=2)


def rows(db) -> dict[str, int]:
    with db.sessions() as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


def files(folder: Path) -> set[Path]:
    return set(folder.rglob("*")) if folder.exists() else set()


@pytest.fixture
def scene(db_url, tmp_path):
    """One of everything a service could act on, made by the roles that may."""
    w = build(db_url)
    done = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    with w.db.transaction() as s:  # as the drain leaves a message the centre refused
        msg = s.scalar(select(Outbox).where(Outbox.msgid == done.msgid))
        msg.status, msg.last_error = "parked", "中心拒绝：测试"
    z = w.actor("inpatient_cashier", counter="住院1")
    shift.open_shift(w.db, z, D("0.00"))
    adm = inpatient.admit(w.db, z, w.child, D("100.00"), now=AT)
    inpatient.post_fee(w.db, z, adm, "A001", D("1"))
    discharge = None  # refused before the preview or the centre is looked at: the permission comes first
    clerk = w.actor("agency_clerk")
    pack = load_pack("hefei-2019")
    bound = binding.bind(
        w.db,
        clerk,
        pack,
        binding.BindRequest(
            w.certnos["retiree"], w.certnos["stranger"], w.certnos["stranger"], "child", True
        ),
        tmp_path / "p",
    )
    actors = {role: w.actor(role, counter=f"测试-{role}") for role in STAFF}
    approvals = {role: w.approval(done.setl_no, by=a) for role, a in actors.items()}
    return w, done, adm, discharge, bound, actors, approvals, tmp_path


def calls(
    w, done, adm, discharge, bound, approvals, tmp: Path
) -> dict[str, tuple[str, Callable[[Actor], object]]]:
    """Each service, the permission roles.toml names for it, and a call as the given actor."""
    out = tmp / "out"
    pack = load_pack("hefei-2019")
    outpatient = svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY)
    bind_req = binding.BindRequest(
        w.certnos["mother"], w.certnos["retiree"], w.certnos["retiree"], "father", True
    )
    month = dt.date(2024, 4, 1)
    price_file = go_live.write_table(
        tmp, "price_list", ("医院项目编码", "项目名称", "单位", "单价"), [("N1", "新", "盒", "1.00")]
    )
    departments_file = go_live.write_table(
        tmp, "departments", ("科室编码", "科室名称", "科别"), [("9901", "新科", "A02")]
    )
    return {
        "settle outpatient": ("settle_outpatient", lambda a: svc.settle(w.db, a, outpatient, None, now=AT)),
        "settle pharmacy": ("settle_pharmacy", lambda a: svc.settle(w.db, a, PHARMACY_REQUEST, None, now=AT)),
        "preview": ("settle_outpatient", lambda a: svc.preview(w.db, a, outpatient)),
        "admit": ("settle_inpatient", lambda a: inpatient.admit(w.db, a, w.retiree, D("10.00"), now=AT)),
        "post fee": ("settle_inpatient", lambda a: inpatient.post_fee(w.db, a, adm, "A001", D("1"))),
        "discharge preview": (
            "settle_inpatient",
            lambda a: inpatient.discharge_preview(w.db, a, adm, TODAY, None),
        ),
        "discharge": ("settle_inpatient", lambda a: inpatient.discharge(w.db, a, adm, discharge, None)),
        "cancel inpatient": (
            "refund",
            lambda a: inpatient.cancel(w.db, a, done.setl_no, approvals[a.role], "撤销", None),
        ),
        "refund": ("refund", lambda a: svc.refund(w.db, a, done.setl_no, approvals[a.role], "退药", now=AT)),
        "print slip": ("print", lambda a: output.save_pdf(w.db, a, done.setl_no, out)),
        "log a print": ("print", lambda a: slip.record_print(w.db, a, done.setl_no, 1, "x.pdf")),
        "log a reprint": ("reprint", lambda a: slip.record_print(w.db, a, done.setl_no, 2, "x.pdf")),
        "bind": ("bind", lambda a: binding.bind(w.db, a, pack, bind_req, tmp / "proofs")),
        "unbind": ("bind", lambda a: binding.unbind(w.db, a, bound, w.certnos["retiree"])),
        "close account": ("bind", lambda a: binding.close_account(w.db, a, w.father, "转出")),
        "record a death": ("enrolment", lambda a: enrolment.record_death(w.db, a, w.father, TODAY, now=AT)),
        "change enrolment": (
            "enrolment",
            lambda a: enrolment.change_enrolment(w.db, a, w.mother, insutype="390"),
        ),
        "open shift": ("shift", lambda a: shift.open_shift(w.db, a, D("100.00"))),
        "close shift": ("shift", lambda a: shift.close_shift(w.db, a, D("0.00"), acknowledge_pending=True)),
        "close day": ("day_close", lambda a: shift.close_day(w.db, a, TODAY)),
        "hand over a shift": ("shift", lambda a: shift.hand_over(w.db, a, "supervisor1", "x", D("0.00"))),
        "restore a backup": (
            "restore",
            lambda a: backup.restore(tmp / "none.sqlite3", "sqlite:///nowhere.sqlite3", a),
        ),
        "release parked": ("outbox", lambda a: sync_status.release(w.db, a, done.msgid, "已更正")),
        "void parked": ("outbox", lambda a: sync_status.void(w.db, a, done.msgid, "中心已有")),
        "centre differences": ("outbox", lambda a: sync_status.centre_differences(w.db, a)),
        "review a difference": (
            "outbox",
            lambda a: sync_status.review_difference(w.db, a, done.setl_no, "已核"),
        ),
        "crediting": ("batch", lambda a: crediting.credit_month(w.db, a, month, today=TODAY)),
        "interest": ("batch", lambda a: interest.post_interest(w.db, a, 2023, today=TODAY)),
        "declaration": (
            "batch",
            lambda a: declaration.monthly_declaration(w.db, a, a.institution_code, month),
        ),
        "monitoring": ("batch", lambda a: monitoring.monitor_month(w.db, a, month)),
        "add staff": (
            "staff_admin",
            lambda a: staff.add_staff(w.db, a, "x001", "新人", "pharmacy_clerk", "t-123456"),
        ),
        "reset password": ("staff_admin", lambda a: staff.reset_password(w.db, a, "cashier1", "t-123456")),
        "load a catalogue": (
            "catalogue",
            lambda a: national_catalogue.load_download(
                w.db, a, "1301", "9", national_catalogue.write_download([("XQ1", "新药")])
            ),
        ),
        "load catalogue terms": (
            "catalogue",
            lambda a: national_catalogue.load_terms(w.db, a, "1312", '{"data": []}'),
        ),
        "import the price list": ("catalogue", lambda a: price_list.import_file(w.db, a, price_file)),
        "mapping report": ("catalogue", lambda a: price_list.mapping_report(w.db, a, TODAY)),
        "import departments": (
            "catalogue",
            lambda a: clinical.import_departments(w.db, a, a.institution_code, departments_file),
        ),
    }


def test_every_role_is_refused_what_roles_toml_does_not_grant_and_nothing_is_written(scene):
    w, done, adm, discharge, bound, actors, approvals, tmp = scene
    table = roles()
    refused = 0
    for name, (permission, call) in calls(w, done, adm, discharge, bound, approvals, tmp).items():
        for role, actor in actors.items():
            if permission in table[role].permissions:
                continue
            before, before_files = rows(w.db), files(tmp)
            with pytest.raises(PermissionDenied, match=f"{actor.name}（{table[role].name}）无权"):
                call(actor)
            assert rows(w.db) == before, f"{name} as {role} wrote a row"
            assert files(tmp) == before_files, f"{name} as {role} wrote a file"
            refused += 1
    print(f"roles x services refused: {refused}")
    assert refused >= 70  # the matrix is really exercised, not skipped


def test_only_an_approver_can_approve_and_only_a_sign_in_makes_an_actor(scene):
    w, done, *_ = scene
    before = rows(w.db)
    with pytest.raises(PermissionDenied, match="无退费审批权限"):
        staff.approve_refund(w.db, w.ctx, "cashier1", "test-pass-1", done.setl_no)
    assert rows(w.db) == before
    with pytest.raises(TypeError, match="only by signing in"):
        Actor("cashier1", "张晓燕", "supervisor", "H34020200001", "门诊1")
    with pytest.raises(TypeError, match=r"only by services\.staff\.approve_refund"):
        staff.Approval("supervisor1", "王建华", done.setl_no, AT, 1)


def test_five_wrong_passwords_lock_the_id_for_five_minutes_and_each_attempt_is_audited(sqlite_url):
    from counter_app.store.models import AuditEntry

    w = build(sqlite_url)
    with w.db.sessions() as s:
        start = s.scalar(select(func.max(AuditEntry.id)))
    t0 = dt.datetime(2024, 5, 10, 9, 0)
    for k in range(5):
        with pytest.raises(staff.SignInRefused, match="工号或密码错误"):
            staff.sign_in(w.db, "cashier1", "nope", "H34020200001", "门诊1", now=t0 + dt.timedelta(seconds=k))
    with pytest.raises(staff.SignInRefused, match="已锁定，请 5 分钟后再试"):
        staff.sign_in(
            w.db, "cashier1", "test-pass-1", "H34020200001", "门诊1", now=t0 + dt.timedelta(minutes=1)
        )
    actor = staff.sign_in(
        w.db, "cashier1", "test-pass-1", "H34020200001", "门诊1", now=t0 + dt.timedelta(minutes=6)
    )
    assert (
        actor.staff_no == "cashier1" and actor.shift_id is not None
    )  # the open shift at 门诊1 comes with it
    with w.db.sessions() as s:
        actions = list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.id > start).order_by(AuditEntry.id))
        )
    assert actions == ["sign_in_failed"] * 5 + ["sign_in_locked", "sign_in"]


def test_a_new_staff_member_must_choose_a_password_first(sqlite_url):
    w = build(sqlite_url)
    boss = w.actor("supervisor")
    staff.add_staff(w.db, boss, "c777", "新人", "outpatient_cashier", "temp-7777")
    with pytest.raises(staff.PasswordChangeRequired):
        staff.sign_in(w.db, "c777", "temp-7777", "H34020200001", "门诊7")
    with pytest.raises(staff.SignInRefused, match="至少 6 位"):
        staff.change_password(w.db, "c777", "temp-7777", "123", "门诊7")
    staff.change_password(w.db, "c777", "temp-7777", "own-pass-7", "门诊7")
    assert staff.sign_in(w.db, "c777", "own-pass-7", "H34020200001", "门诊7").name == "新人"
