"""Every counter by role: shifts, pharmacy, maternity and special disease, inpatient, binding desk."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from counter_app.services.staff import sign_in
from counter_app.store.models import (
    AuditEntry,
    FamilyBinding,
    Institution,
    Shift,
)
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import Qt
from tests.actors import add_staff
from tests.services.world import HOSPITAL, TODAY, build

from .test_counter_window import add_item, idle, press, scan

D = Decimal
PHARMACY = "P34020200003"


@pytest.fixture
def world(sqlite_url):
    w = build(sqlite_url)
    for staff_no, name, role in (
        ("c001", "张晓燕", "outpatient_cashier"),
        ("z001", "刘洋", "inpatient_cashier"),
        ("p001", "陈静", "pharmacy_clerk"),
        ("s001", "王建华", "supervisor"),
    ):
        add_staff(w.db, staff_no, name, role, "1234")
    with w.db.transaction() as s:
        s.add(
            Institution(
                code=PHARMACY,
                name="芜湖国药大药房",
                level=0,
                kind="pharmacy",
                designated=True,
                admdvs="340202",
                policy="wuhu-2022",
            )
        )
    return w


def window(qtbot, world, tmp_path: Path, staff_no: str, institution: str = HOSPITAL) -> CounterWindow:
    application()
    user = sign_in(world.db, staff_no, "1234", institution, f"窗口-{staff_no}")
    settings = CounterSettings(user, tmp_path / "slips", today=TODAY)
    win = CounterWindow(world.db, user, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    return win


def open_shift_in_window(qtbot, win: CounterWindow, amount: str = "300.00") -> None:
    qtbot.waitUntil(
        lambda: getattr(win, "dialog", None) is not None and win.dialog.isVisible(), timeout=10_000
    )
    win.dialog.opening_float.setText(amount)
    qtbot.keyClick(win.dialog.opening_float, Qt.Key.Key_Return)
    idle(qtbot, win)
    qtbot.waitUntil(lambda: win.shift is not None, timeout=10_000)


def test_a_shift_opens_with_the_float_and_closes_counted_against_expected(qtbot, world, tmp_path):
    win = window(qtbot, world, tmp_path, "c001")
    assert win.dialog.windowTitle() == "开班"  # asked before any money is taken
    open_shift_in_window(qtbot, win, "300.00")
    scan(qtbot, win, world.certnos["stranger"])
    add_item(qtbot, win, "C001")  # 80.00, no account may pay: cash
    press(qtbot, win, Qt.Key.Key_F5)
    win.preview_panel.tender.setCurrentIndex(0)  # cash
    press(qtbot, win, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: win.last_slip is not None, timeout=10_000)
    press(qtbot, win, Qt.Key.Key_F7)
    dialog = win.dialog
    qtbot.waitUntil(lambda: dialog.expected.text() == "380.00", timeout=10_000)
    assert "还有 1 笔未上传医保中心" in dialog.pending.text() and dialog.acknowledge.isVisible()
    dialog.acknowledge.setChecked(True)
    qtbot.keyClicks(dialog.counted, "380.00")
    qtbot.keyClick(dialog.counted, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.last_shift_report is not None, timeout=10_000)
    assert "差额 0.00" in win.message.text()
    text = " ".join(PdfReader(io.BytesIO(win.last_shift_report.read_bytes())).pages[0].extract_text().split())
    assert "实点现金 380.00" in text and "个人现金部分（现金） 80.00" in text
    with world.db.sessions() as s:
        shift = s.scalar(select(Shift).where(Shift.cashier == "c001"))
        assert (shift.counted_cash, shift.expected_cash) == (D("380.00"), D("380.00")) and shift.closed_at
    qtbot.waitUntil(lambda: win.dialog is not dialog and win.dialog.windowTitle() == "开班", timeout=10_000)


def test_a_bad_float_is_refused_and_asked_again(qtbot, world, tmp_path):
    win = window(qtbot, world, tmp_path, "c001")
    first = win.dialog
    open_float = first.opening_float
    open_float.setText("12,50")
    qtbot.keyClick(open_float, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.dialog is not first and win.dialog.isVisible(), timeout=10_000)
    assert "备用金：不是金额，请输入如 12.50 的数字（12,50）" in win.message.text()


def test_pharmacy_clerk_settles_an_outside_prescription_at_the_prescribing_level(qtbot, world, tmp_path):
    win = window(qtbot, world, tmp_path, "p001", PHARMACY)
    open_shift_in_window(qtbot, win)
    assert [win.claim.med_type.itemData(i) for i in range(win.claim.med_type.count())] == [
        "41"
    ] and win.claim.prescribing.isVisible()
    scan(qtbot, win, world.certnos["retiree"])  # deductible met this year
    add_item(qtbot, win, "A001")
    win.claim.prescribing.setCurrentIndex(2)  # a level-2 hospital wrote it: WH-23
    press(qtbot, win, Qt.Key.Key_F5)
    assert win.preview_panel.values["fund"].text() == "60.00"  # retiree at level 2: 60 %
    win.claim.prescribing.setCurrentIndex(0)  # no outside prescription
    press(qtbot, win, Qt.Key.Key_F5)
    assert win.preview_panel.values["fund"].text() == "0.00" and "WH-14" in win.preview_panel.reason.toolTip()


@pytest.mark.parametrize("med_type", ["14", "51"])
def test_special_disease_and_maternity_show_why_there_is_no_pooling(qtbot, world, tmp_path, med_type):
    win = window(qtbot, world, tmp_path, "c001")
    open_shift_in_window(qtbot, win)
    scan(qtbot, win, world.certnos["retiree"])
    add_item(qtbot, win, "A001")
    win.claim.med_type.setCurrentIndex(
        [win.claim.med_type.itemData(i) for i in range(win.claim.med_type.count())].index(med_type)
    )
    if med_type == "14":  # a chronic/special-disease visit is settled by its disease: refused without one
        press(qtbot, win, Qt.Key.Key_F5)
        assert "门诊慢特病（14）须录入所患病种" in win.message.text()
        assert win.preview_panel.values["fund"].text() == ""
        qtbot.keyClicks(win.claim.visit_panel.diagnosis, "2XTNB")  # 2型糖尿病 by its pinyin initials
        qtbot.keyClick(win.claim.visit_panel.diagnosis, Qt.Key.Key_Return)
        assert win.claim.visit_panel.chosen.text() == "E11.900 2型糖尿病"
    press(qtbot, win, Qt.Key.Key_F5)
    assert win.preview_panel.values["fund"].text() == "0.00"
    assert (
        "WH-22 (3)" in win.preview_panel.reason.toolTip()
        and win.preview_panel.values["own"].text() == "100.00"
    )
    if med_type == "14":
        press(qtbot, win, Qt.Key.Key_F9)
        qtbot.waitUntil(lambda: win.last_slip is not None, timeout=10_000)
        with world.db.sessions() as s:
            from counter_app.store.models import Settlement

            row = s.scalars(select(Settlement).order_by(Settlement.id.desc())).first()
            assert row.med_type == "14" and '"code": "E11.900"' in row.visit_json


def test_binding_desk_binds_with_proof_and_shows_the_limits(qtbot, world, tmp_path):
    win = window(qtbot, world, tmp_path, "s001")
    open_shift_in_window(qtbot, win)
    assert "家庭共济绑定 (Ctrl+B)" in win.menu_actions
    qtbot.keyClick(win, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    desk = win.dialog
    qtbot.keyClicks(desk.provider, world.certnos["retiree"])
    qtbot.keyClick(desk.provider, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "王建国" in desk.provider_info.text(), timeout=10_000)
    assert "险种 职工基本医疗保险" in desk.provider_info.text() and "310" not in desk.provider_info.text()
    assert (
        desk.limits.text() == "父亲 0/1，母亲 0/1，配偶 0/1，子女 0（不限）；共 0 人"
    )  # Wuhu's decided limits
    qtbot.keyClicks(desk.beneficiary, world.certnos["stranger"])
    qtbot.keyClicks(desk.beneficiary_again, world.certnos["stranger"][:-1] + "0")
    desk.relation.setCurrentIndex(3)  # child
    desk.bind_button.click()
    qtbot.waitUntil(lambda: "两次输入" in desk.message.text(), timeout=10_000)
    desk.beneficiary_again.setText(world.certnos["stranger"])
    desk.bind_button.click()
    qtbot.waitUntil(lambda: "承诺书" in desk.message.text() and "HF-3" in desk.message.text(), timeout=10_000)
    proof = tmp_path / "户口簿.jpg"
    proof.write_bytes(b"\xff\xd8 scanned")
    desk.proof_kind.setCurrentIndex(desk.proof_kind.findData("household_register"))  # proves a child (WH-25)
    desk.pick_proofs([str(proof)])
    desk.print_commitment()
    qtbot.waitUntil(lambda: desk.last_commitment is not None, timeout=10_000)
    text = PdfReader(io.BytesIO(desk.last_commitment.read_bytes())).pages[0].extract_text().replace("\n", "")
    assert "确认承诺书" in text and "享受人：赵强" in text  # the beneficiary is named on what is signed
    desk.signed.setChecked(True)
    desk.bind_button.click()
    qtbot.waitUntil(lambda: desk.table.rowCount() == 1, timeout=10_000)
    assert desk.table.item(0, 0).text() == "赵强" and desk.table.item(0, 4).text() == "1 份"
    with world.db.sessions() as s:  # what is stored is the digest of the very text printed and signed
        stored = s.scalar(
            select(FamilyBinding.commitment_sha256).where(FamilyBinding.provider_id == world.retiree)
        )
    assert stored == desk.commitment.sha256
    desk.table.selectRow(0)
    desk.unbind_button.click()
    qtbot.waitUntil(lambda: desk.table.rowCount() == 0, timeout=10_000)
    with world.db.sessions() as s:
        assert (
            s.scalar(select(FamilyBinding).where(FamilyBinding.provider_id == world.retiree)).ended_reason
            == "提供人解除"
        )


def test_cashier_has_no_binding_desk_or_day_close(qtbot, world, tmp_path):
    win = window(qtbot, world, tmp_path, "c001")
    assert set(win.menu_actions) == {"交班 (F7)"}
    win.binding_desk()
    assert "无家庭共济绑定权限" in win.message.text()


def test_supervisor_closes_the_day_once(qtbot, world, tmp_path):
    from counter_app.services.shift import close_shift

    close_shift(world.db, world.ctx, D("200.00"), acknowledge_pending=True)
    win = window(qtbot, world, tmp_path, "s001")
    win.dialog.reject()  # no shift needed to close the day
    for expected in ("已日结：结算 0 笔", "已日结，不能重复日结"):
        win.close_day()
        qtbot.keyClick(win.dialog.day, Qt.Key.Key_Return)
        idle(qtbot, win)
        qtbot.waitUntil(lambda expected=expected: expected in win.message.text(), timeout=10_000)


def _window_at(qtbot, world, tmp_path: Path, staff_no: str, counter: str) -> CounterWindow:
    application()
    user = sign_in(world.db, staff_no, "1234", HOSPITAL, counter)
    win = CounterWindow(world.db, user, CounterSettings(user, tmp_path / "slips", today=TODAY))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    return win


def test_a_shift_left_open_is_handed_over_by_a_supervisor_with_a_count_not_looped(qtbot, world, tmp_path):
    """c001 went home with 门诊9's shift open: the next cashier sees who holds it; a wrong supervisor
    password is said in the dialog; the right one closes it with the count, and 开班 follows."""
    from counter_app.services.shift import open_shift

    add_staff(world.db, "c002", "李娜", "outpatient_cashier", "1234")
    open_shift(world.db, sign_in(world.db, "c001", "1234", HOSPITAL, "门诊9"), D("200.00"))
    win = _window_at(qtbot, world, tmp_path, "c002", "门诊9")
    qtbot.waitUntil(
        lambda: getattr(win, "dialog", None) is not None and win.dialog.isVisible(), timeout=10_000
    )
    first = win.dialog
    assert first.windowTitle() == "交接班"
    assert (
        "窗口 门诊9 的班次由 张晓燕（c001）于" in first.findChild(type(first.problem), "handover_who").text()
    )
    first.supervisor.setText("s001")
    first.password.setText("wrong")
    first.counted.setText("200.00")
    qtbot.keyClick(first.counted, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.dialog is not first and win.dialog.isVisible(), timeout=10_000)
    second = win.dialog
    assert second.windowTitle() == "交接班" and "工号或密码错误" in second.problem.text()
    second.supervisor.setText("s001")
    second.password.setText("1234")
    second.counted.setText("190.00")
    qtbot.keyClick(second.counted, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.last_shift_report is not None, timeout=10_000)
    assert "张晓燕 的班次已由主管代为交班" in win.message.text() and "差额 -10.00" in win.message.text()
    qtbot.waitUntil(lambda: win.dialog.windowTitle() == "开班" and win.dialog.isVisible(), timeout=10_000)
    with world.db.sessions() as s:
        held = s.scalar(select(Shift).where(Shift.cashier == "c001"))
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "shift_handover")).one()
    assert (held.counted_cash, held.closed_at is not None) == (D("190.00"), True)
    assert entry.staff_no == "c002" and '"handed_over_by":"s001"' in entry.detail
    open_shift_in_window(qtbot, win, "100.00")  # and the next cashier's own shift opens


def test_the_counter_is_named_by_role_and_the_agency_clerk_gets_the_desk_without_a_float(
    qtbot, world, tmp_path
):
    add_staff(world.db, "j001", "赵敏", "agency_clerk", "1234")
    named = {
        staff_no: sign_in(world.db, staff_no, "1234", institution, "").counter
        for staff_no, institution in (
            ("c001", HOSPITAL),
            ("z001", HOSPITAL),
            ("p001", PHARMACY),
            ("j001", HOSPITAL),
        )
    }
    assert named == {"c001": "门诊1", "z001": "住院1", "p001": "药房1", "j001": "经办1"}
    win = _window_at(qtbot, world, tmp_path, "j001", "")
    qtbot.waitUntil(
        lambda: getattr(win, "dialog", None) is not None and win.dialog.isVisible(), timeout=10_000
    )
    assert win.dialog.windowTitle() != "开班" and type(win.dialog).__name__ == "AgencyDesk"
